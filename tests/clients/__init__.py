"""Helpers for running real third-party DVID clients against a running server.

Each client lives in its own virtualenv made by ``scripts/setup.d/clients.sh`` (their pins
conflict with ours and with each other), so client code runs as a subprocess script from this
folder and reports back as JSON.  The browser test also uses a logging reverse proxy and a
static file server, both in-process threads bound to 127.0.0.1.
"""
