"""The ASGI application: ``create_app(config)``; served by uvicorn (see ``serve.py``).

Each request: refresh metadata (cheap unless another worker changed it), route, run the handler,
and map errors to DVID's status codes. Bad input never becomes a 500; a genuine bug is logged with
its traceback. Where the handler runs is the matched route's say: a quick one (``Route.quick``:
heartbeat, a node's status, a few blocks of a local store) on the event loop, because handing it
to a worker thread and back costs more than the request itself; anything else in a worker thread,
so heavy work never blocks the loop. On a store whose reads are network requests (S3) even
routing runs in the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dvid import budget
from dvid.datatypes.base import Planned, Response
from dvid.errors import BadRequest, DVIDError
from dvid.limits import Limits, refuse
from dvid.server.config import Config
from dvid.server.console_routes import serve_web
from dvid.server.core_routes import is_admin
from dvid.server.http import (
    HttpRequest,
    IncomingBody,
    error_response,
    parse_query,
    read_body,
    receive_into,
    send_response,
    status_of,
)
from dvid.server.malloc import keep_freed_memory
from dvid.server.protocol import BoundedHttpToolsProtocol
from dvid.server.router import plan, streams_upload
from dvid.server.state import ServerState
from dvid.storage.base import StorageError

log = logging.getLogger("dvid.server")
_CORS_METHODS = "GET, POST, DELETE, HEAD, OPTIONS"


def _cors_headers(config: Config, origin: str | None) -> list[tuple[str, str]]:
    domains = config.cors_domains
    if not domains:
        return []
    if "*" in domains:
        return [("Access-Control-Allow-Origin", "*")]
    if origin and any(_origin_in(origin, d) for d in domains):
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    return []


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()


def _origin_in(origin: str, domain: str) -> bool:
    """An origin whose host is ``domain`` or one of its subdomains (``a.example.org`` for
    ``example.org``); comparing only the last two labels would let ``x.co.uk`` admit ``y.co.uk``."""
    host, want = _host(origin), _host(domain).lstrip(".")
    return host == want or host.endswith("." + want)


def _guarded(st: ServerState, req: HttpRequest, step: Callable[[], Response | Planned]) -> Response | Planned:
    """Run one step of a request under its budget, turning errors into DVID's responses."""
    st.load.active += 1
    token = budget.install(req.budget)
    try:
        return step()
    except DVIDError as e:
        return error_response(str(e), req.path, status_of(e))
    except StorageError as e:  # e.g. a full disk: the batch was not written, say so clearly
        log.error("storage error on %s %s: %s", req.method, req.path, e)
        return error_response(str(e), req.path, 400)
    except Exception:
        log.exception("internal error on %s %s", req.method, req.path)
        return error_response("internal server error, see the server log", req.path, 500)
    finally:
        budget.uninstall(token)
        st.load.active -= 1


def _planned(st: ServerState, req: HttpRequest) -> Planned:
    st.datastore.refresh()
    return plan(st, req)


def handle(st: ServerState, req: HttpRequest) -> Response:
    """Refresh, route and answer one request (on the calling thread)."""
    return _guarded(st, req, lambda: _planned(st, req).run())  # type: ignore[return-value]


async def answer(st: ServerState, req: HttpRequest) -> Response:
    """Answer a request whose body is in: planned on the event loop on a local store, run there if
    quick, else run in a worker thread."""
    if not st.local:
        return await asyncio.to_thread(handle, st, req)

    def quick_or_plan() -> Response | Planned:
        p = _planned(st, req)
        return p.run() if p.quick else p

    got = _guarded(st, req, quick_or_plan)
    if isinstance(got, Planned):
        return await asyncio.to_thread(_guarded, st, req, got.run)  # type: ignore[return-value]
    return got


STREAM_UPLOAD_MIN = 4 << 20  # uploads this large may be handled while they arrive
_uploads: ThreadPoolExecutor | None = None


async def _handle_arriving(st: ServerState, req: HttpRequest, size: int, receive: Any, send: Any,
                           cors: list[tuple[str, str]], timeout: float) -> None:
    """Run the handler while the body is received, then answer once the body is all in (or failed).

    Handlers run on their own small pool, so slow uploads never hold the threads other requests
    need; a handler that fails early still lets the body drain so the connection stays usable.
    """
    global _uploads
    if _uploads is None:
        _uploads = ThreadPoolExecutor(8, thread_name_prefix="dvid-upload")
    body = IncomingBody(size)
    req.arriving = body
    loop = asyncio.get_running_loop()
    handler = loop.run_in_executor(_uploads, handle, st, req)
    try:
        await asyncio.wait_for(receive_into(receive, body), timeout=timeout)
    except TimeoutError:
        body.fail(f"request body not received within {timeout:g} s")
    except DVIDError:
        pass  # recorded in body; the handler answers with it
    finally:
        if not body.complete:  # e.g. cancelled at shutdown: never leave a handler waiting
            body.fail("request body not received")
    resp = await handler
    await send_response(send, resp, cors, head=False, limit=req.budget)


def _query(raw: bytes, limits: Limits) -> dict[str, str]:
    """The query parameters, refused when there are too many or one is given twice (DVID reads
    only the first of a repeated parameter, which would silently drop what a client meant)."""
    if not raw:
        return {}
    pairs = parse_query(raw)
    if len(pairs) > limits.max_query_params:
        raise refuse("query string", len(pairs), "max_query_params", limits.max_query_params, " parameters")
    query: dict[str, str] = {}
    for k, v in pairs:
        if k in query:
            raise BadRequest(f'query parameter "{k}" is given more than once')
        query[k] = v
    return query


def create_app(config: Config, state: ServerState | None = None) -> Any:
    keep_freed_memory()
    limits = config.limits
    BoundedHttpToolsProtocol.configure(limits)
    holder: dict[str, ServerState] = {}

    def get_state() -> ServerState:
        if "st" not in holder:
            holder["st"] = state or ServerState(config)
        return holder["st"]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    try:
                        await asyncio.to_thread(get_state)
                    except Exception as e:  # a store that cannot open must stop start-up loudly
                        await send({"type": "lifespan.startup.failed", "message": str(e)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        st = get_state()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"].upper()
        path = scope["path"]
        try:
            query = _query(scope.get("query_string", b""), limits)
        except DVIDError as e:
            await send_response(send, error_response(str(e), path, status_of(e)), [], head=False)
            return
        req = HttpRequest(method, path, query, headers, client=(scope.get("client") or ("", 0))[0],
                          budget=budget.Budget(limits.request_timeout, scope.get("dvid.cycle")))
        req.admin = is_admin(st, query.get("admintoken"))
        cors = _cors_headers(config, headers.get("origin"))
        st.load.hit("GET" if method in ("GET", "HEAD") else "PUT")
        if method == "OPTIONS":
            await send_response(send, Response(b"", headers=[
                ("Allow", _CORS_METHODS), ("Access-Control-Allow-Methods", _CORS_METHODS),
                ("Access-Control-Allow-Headers", headers.get("access-control-request-headers", "*"))]),
                cors, head=False)
            return
        if not path.startswith("/api/"):  # the web console, its files and the embedded neuroglancer
            await serve_web(st, req, receive, send, cors)
            return
        length = headers.get("content-length")
        size = int(length) if length and length.isdigit() else None
        if method == "POST" and size is not None and STREAM_UPLOAD_MIN <= size <= limits.max_request_bytes \
                and streams_upload(st, method, path):
            await _handle_arriving(st, req, size, receive, send, cors, limits.read_timeout)
            return
        try:
            if size or "transfer-encoding" in headers or method not in ("GET", "HEAD"):  # else no body
                req.body = await asyncio.wait_for(
                    read_body(receive, size, limits.max_request_bytes),
                    timeout=limits.read_timeout)
        except TimeoutError:
            await send_response(send, error_response(
                f"request body not received within {limits.read_timeout:g} s", path, 400), cors, head=False)
            return
        except DVIDError as e:
            await send_response(send, error_response(str(e), path, status_of(e)), cors, head=False)
            return
        await send_response(send, await answer(st, req), cors, head=method == "HEAD", limit=req.budget)

    return app


def create_app_from_env() -> Any:
    """uvicorn factory for worker processes: the config arrives as JSON in the environment."""
    return create_app(Config.from_json(os.environ["DVID_SERVER_CONFIG"]))
