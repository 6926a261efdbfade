"""Everything outside ``/api/``: the web console at ``/``, its files, and the embedded neuroglancer.

The console is plain HTML/JS/CSS shipped as package data (``server/console/``); it reads the
ordinary API from the browser, so it needs no routes of its own beyond ``/console/server.json``
(what this server allows: read-only mode, whether writes need the admin token). With
``[server] webClient = <dir>`` every non-API GET is served from that directory instead, as DVID
does (``webDefaultFile`` for missing files, or a 308 to ``webRedirectPath``).

Requests arrive here at the ASGI level because neuroglancer's event stream is long-lived.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
from importlib import resources
from pathlib import Path
from typing import Any

from dvid import __version__
from dvid.datatypes import registry
from dvid.datatypes.base import Response
from dvid.errors import DVIDError
from dvid.server import ngviewer
from dvid.server.core_routes import is_admin
from dvid.server.http import HttpRequest, error_response, read_body, send_response, status_of
from dvid.server.state import ServerState

CONSOLE_FILES = resources.files("dvid.server").joinpath("console")
_SMALL_BODY = 1 << 20  # neuroglancer's state and credentials posts
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".json": "application/json"}


def _stores(st: ServerState) -> list[dict[str, str]]:
    """The configured stores: alias, engine, role and where (never credentials or other options)."""
    cfg = st.config
    out = []
    for alias, sc in cfg.stores.items():
        if alias == cfg.default_store:
            role, where = "default (data and metadata)" if not cfg.metadata_store else "default (data)", \
                st.store.description
        else:
            role = "metadata" if alias == cfg.metadata_store else \
                ("GridStore volume (read-only)" if sc.engine == "ngprecomputed" else "")
            where = str(sc.options.get("path") or sc.options.get("ref") or sc.options.get("bucket") or "")
        if "://" in where:  # never show credentials embedded in a URL
            scheme, rest = where.split("://", 1)
            host, sep, path = rest.partition("/")
            where = f"{scheme}://{host.rsplit('@', 1)[-1]}{sep}{path}"
        out.append({"alias": alias, "engine": sc.engine, "role": role, "location": where})
    return out


def capabilities(st: ServerState, req: HttpRequest) -> dict[str, Any]:
    """What the console may offer: write actions only where the server would accept them."""
    token_set = bool(st.config.admin_token)
    admin = is_admin(st, req.query.get("admintoken"))
    writes = (not st.readonly or admin) and (admin or not token_set)
    return {
        "version": __version__,
        "readonly": st.readonly,
        "fullwrite": st.fullwrite,
        "admin_token_configured": token_set,
        "admin": admin,
        "writes": writes,
        "repo_creation_needs_admin": st.config.admin_required_for_repo_creation,
        "neuroglancer": ngviewer.client_dir() is not None,
        "types": sorted(registry.all_types()),
        "stores": _stores(st),
    }


def _file_response(data: bytes, content_type: str, req: HttpRequest, cache: str) -> Response:
    etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = [("Cache-Control", cache), ("ETag", etag)]
    if req.headers.get("if-none-match") == etag:
        return Response(b"", status=304, headers=headers)
    return Response(data, content_type=content_type, headers=headers)


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def console_file(req: HttpRequest, name: str) -> Response:
    if not name or "/" in name or name.startswith("."):
        return error_response("", req.path, 404)
    f = CONSOLE_FILES.joinpath(name)
    if not f.is_file():
        return error_response("", req.path, 404)
    return _file_response(f.read_bytes(), _content_type(name), req, "no-cache")


def web_client_file(st: ServerState, req: HttpRequest) -> Response:
    """DVID's ``webClient`` directory: the file at the path (``index.html`` for a directory)."""
    cfg = st.config
    root = Path(cfg.web_client).resolve()
    target = (root / req.path.lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if target.is_relative_to(root) and target.is_file():
        return _file_response(target.read_bytes(), _content_type(target.name), req, "no-cache")
    if cfg.web_default_file:
        default = (root / cfg.web_default_file).resolve()
        if default.is_file():
            return _file_response(default.read_bytes(), _content_type(default.name), req, "no-cache")
    if cfg.web_redirect_path:
        return Response(b"", status=308, headers=[("Location", cfg.web_redirect_path)])
    return error_response("", req.path, 404)


def _neuroglancer(st: ServerState, req: HttpRequest, rest: str) -> Response:
    """Static parts of the embedded viewer and its state/credentials posts (not the event stream)."""
    kind, _, arg = rest.partition("/")
    if kind == "static" and req.method in ("GET", "HEAD"):
        found = ngviewer.asset(arg)
        if found is None:
            return error_response("", req.path, 404)
        return _file_response(found[0], found[1], req, "public, max-age=31536000, immutable")
    if kind == "v" and req.method in ("GET", "HEAD"):
        token, _, name = arg.partition("/")
        if name in ("", "index.html"):
            ngviewer.parse_token(token)
            return Response(ngviewer.viewer_page(), content_type="text/html; charset=utf-8",
                            headers=[("Cache-Control", "no-cache")])
        found = ngviewer.asset(name)
        return error_response("", req.path, 404) if found is None else Response(found[0], content_type=found[1])
    if req.method == "POST" and kind == "state":
        return Response.json(ngviewer.state_reply(bytes(req.body)))
    if req.method == "POST" and kind == "credentials":
        return Response.json(ngviewer.credentials_reply(bytes(req.body)))
    if req.method == "POST" and kind in ("action", "volume_response"):
        return Response(b"")
    return error_response("", req.path, 404)


def handle_web(st: ServerState, req: HttpRequest) -> Response:
    """One non-API request other than the event stream; errors become DVID's 400 text."""
    path = req.path
    try:
        if st.config.web_client:
            if req.method not in ("GET", "HEAD"):
                return error_response("", path, 404)
            return web_client_file(st, req)
        if path.startswith(ngviewer.PREFIX + "/"):
            return _neuroglancer(st, req, path[len(ngviewer.PREFIX) + 1:])
        if req.method not in ("GET", "HEAD"):
            return error_response("", path, 404)
        if path in ("/", "/index.html", "/console", "/console/"):
            return console_file(req, "index.html")
        if path == "/favicon.ico":
            return console_file(req, "favicon.png")
        if path == "/console/server.json":
            return Response(json.dumps(capabilities(st, req)).encode(), content_type="application/json",
                            headers=[("Cache-Control", "no-store")])
        if path.startswith("/console/"):
            return console_file(req, path[len("/console/"):])
        return error_response("", path, 404)
    except DVIDError as e:
        return error_response(str(e), path, status_of(e))


async def serve_web(st: ServerState, req: HttpRequest, receive: Any, send: Any,
                    cors: list[tuple[str, str]]) -> None:
    """ASGI entry for every path outside ``/api/``."""
    events = ngviewer.PREFIX + "/events/"
    if req.method == "GET" and req.path.startswith(events) and not st.config.web_client:
        token = req.path[len(events):]
        try:
            await asyncio.to_thread(st.datastore.refresh)
            messages = await asyncio.to_thread(
                ngviewer.events_messages, st, ngviewer.request_origin(req.headers), token, req.query)
        except DVIDError as e:
            await send_response(send, error_response(str(e), req.path, status_of(e)), cors, head=False)
            return
        await ngviewer.event_stream(send, receive, messages)
        return
    if req.method == "POST":
        length = req.headers.get("content-length")
        try:
            req.body = await read_body(receive, int(length) if length and length.isdigit() else None, _SMALL_BODY)
        except DVIDError as e:
            await send_response(send, error_response(str(e), req.path, status_of(e)), cors, head=False)
            return
    resp = await asyncio.to_thread(handle_web, st, req)
    await send_response(send, resp, cors, head=req.method == "HEAD")
