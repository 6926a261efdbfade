"""Exceptions every layer may raise; the server maps them to DVID's status codes.

Kept outside the layered packages so storage, datastore, datatypes and server can all use them.
"""


class DVIDError(Exception):
    """Base of errors that carry a client-facing one-line message."""

    status = 400


class BadRequest(DVIDError):
    """Bad input, unknown UUID/name, locked node...: DVID answers 400 ``"<msg> (<path>)."``."""

    status = 400


class NotFound(DVIDError):
    """Only for the few places DVID itself answers 404 (unmatched routes, missing blob refs)."""

    status = 404


class Throttled(DVIDError):
    """No free throttle slot: 503 ``Server already running N throttled operations (max = M)``."""

    status = 503


class UnknownInstance(BadRequest):
    """No data instance of that name in the repo."""


class WrongType(BadRequest):
    """An instance exists but is not of the type the request needs (e.g. ``?roi=`` naming an image)."""
