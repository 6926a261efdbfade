"""One access-log line per HTTP request: an ASGI wrapper around ``create_app(...)``.

The line is the common log format's request part plus what an operator needs when something is
slow or failing::

    127.0.0.1 "GET /api/node/ab12/grayscale/raw/0_1_2/64_64_64/0_0_0?u=bob HTTP/1.1" 200 262144 3.1ms
    127.0.0.1 "POST /api/repo/ab12/instance HTTP/1.1" 400 81 0.9ms: Setting for 'BlockSize' was not ...

2xx/3xx lines are INFO, 4xx WARNING (with the error text the client got), 5xx ERROR (the handler's
traceback is logged just before by the app). Like DVID's ``silentMux``, the polling endpoints
``/api/heartbeat``, ``/api/load`` and ``/api/user-latencies`` are not logged. The wrapper also says
when a worker process is ready and when it stops (from the ASGI lifespan messages).

Cost: one wrapped ``send`` per message and, for a 2xx/3xx line, one formatted string handed straight
to the process's ``LineHandler`` (no LogRecord: a record plus its write cost about 14 us, this about
2 us; figures in docs/performance.md), nothing per byte.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from dvid.server import logsetup

access = logging.getLogger("dvid.access")
lifecycle = logging.getLogger("dvid.server")

SILENT_PATHS = frozenset({"/api/heartbeat", "/api/load", "/api/user-latencies"})
ERROR_TEXT_MAX = 300  # bytes of a 4xx/5xx body quoted in the line


def _level(status: int) -> int:
    return logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO


class _Stamp:
    """The formatter's ``asctime`` for the current second, rebuilt once a second."""

    second = -1
    text = ""
    prefix_tail = f" {'INFO':<7} [{os.getpid()}] "

    @classmethod
    def now(cls) -> str:
        t = time.time()
        sec = int(t)
        if sec != cls.second:
            cls.second, cls.text = sec, time.strftime(logsetup.DATE_FORMAT, time.localtime(sec))
            cls.prefix_tail = f" {'INFO':<7} [{os.getpid()}] "  # a forked worker has its own pid
        return f"{cls.text}.{int((t - sec) * 1000):03d}{cls.prefix_tail}"


def with_access_log(app: Any) -> Any:
    """``app`` wrapped so that every HTTP request (except the polling ones) gets its line."""

    async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_noted(msg: dict[str, Any]) -> None:
            kind = msg["type"]
            if kind == "lifespan.startup.complete":
                lifecycle.info("HTTP worker %d ready", os.getpid())
            elif kind == "lifespan.startup.failed":
                lifecycle.error("HTTP worker %d failed to start: %s", os.getpid(), msg.get("message", ""))
            elif kind == "lifespan.shutdown.complete":
                lifecycle.info("HTTP worker %d stopped", os.getpid())
                sink = logsetup.installed()
                if sink is not None:  # uvicorn re-raises SIGTERM after this: no atexit will flush
                    sink.flush()
            await send(msg)

        await app(scope, receive, send_noted)

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                return await lifespan(scope, receive, send)
            return await app(scope, receive, send)
        if access.disabled or scope["path"] in SILENT_PATHS:
            return await app(scope, receive, send)
        t0 = time.perf_counter()
        status = 0
        nbytes = 0
        error = b""

        async def send_logged(msg: dict[str, Any]) -> None:
            nonlocal status, nbytes, error
            kind = msg["type"]
            if kind == "http.response.body":
                body = msg.get("body", b"")
                nbytes += len(body) if type(body) is bytes else memoryview(body).nbytes
                if status >= 400 and not error:
                    error = bytes(body[:ERROR_TEXT_MAX])
            elif kind == "http.response.start":
                status = msg["status"]
            await send(msg)

        note = ""
        try:
            await app(scope, receive, send_logged)
        except BaseException as e:
            note = f" ({type(e).__name__}: {e})" if status else ""
            if not status:
                status = 500
            raise
        finally:
            query = scope.get("query_string") or b""
            client = scope.get("client")
            args: tuple[Any, ...] = (
                client[0] if client else "-", scope["method"], scope["path"],
                "?" + query.decode("latin-1") if query else "", scope.get("http_version", "1.1"),
                status, nbytes, (time.perf_counter() - t0) * 1e3)
            sink = logsetup.installed()
            if status < 400 and not note and sink is not None:
                if access.isEnabledFor(logging.INFO):  # the fast path of every successful request
                    sink.write_line(_Stamp.now() + '%s "%s %s%s HTTP/%s" %d %d %.1fms\n' % args)  # noqa: UP031
            elif error:
                access.log(_level(status), '%s "%s %s%s HTTP/%s" %d %d %.1fms: %s%s', *args,
                           error.decode("utf-8", "replace").strip(), note)
            else:
                access.log(_level(status), '%s "%s %s%s HTTP/%s" %d %d %.1fms%s', *args, note)

    return wrapped
