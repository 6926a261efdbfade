"""ASGI plumbing: reading bodies into one buffer, sending responses, DVID's error format."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from dvid.budget import Budget, RequestAborted
from dvid.datatypes.base import Response
from dvid.errors import BadRequest, DVIDError, NotFound, Throttled
from dvid.limits import refuse

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes | bytearray | memoryview = b""
    client: str = ""
    admin: bool = False
    #: this request's time limit and client connection (``dvid.budget``)
    budget: Budget | None = None
    #: a large upload handed to the handler while it still arrives (see ``IncomingBody``)
    arriving: IncomingBody | None = None

    def whole_body(self) -> None:
        """Make ``body`` the complete body (waiting for an upload still arriving)."""
        if self.arriving is not None:
            self.body = self.arriving.wait(self.arriving.size)
            self.arriving = None


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """The query string's parameters in order, percent-decoded (bad escapes kept as text)."""
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


async def read_body(receive: Receive, length: int | None, limit: int) -> bytearray | bytes:
    """The whole request body, copied once into a buffer sized from Content-Length when known."""
    if length is not None:
        if length > limit:
            raise refuse("request body", length, "max_request_bytes", limit, " bytes")
        buf = bytearray(length)
        mv = memoryview(buf)
        pos = 0
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise BadRequest("client disconnected before sending the whole body")
            chunk = msg.get("body", b"")
            n = len(chunk)
            if pos + n > length:
                raise BadRequest("request body is longer than its Content-Length")
            mv[pos : pos + n] = chunk
            pos += n
            more = msg.get("more_body", False)
        if pos != length:
            raise BadRequest(f"request body was {pos} bytes, Content-Length said {length}")
        return buf
    parts: list[bytes] = []
    total = 0
    more = True
    while more:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise BadRequest("client disconnected before sending the whole body")
        chunk = msg.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise refuse("request body", total, "max_request_bytes", limit, " bytes")
        parts.append(chunk)
        more = msg.get("more_body", False)
    return b"".join(parts)


class IncomingBody:
    """A request body that handler threads may read while the event loop is still receiving it.

    The loop ``feed``s chunks into one buffer sized from Content-Length; ``wait(n)`` blocks a
    handler until ``n`` bytes are in, and raises BadRequest if the body fails (short, long,
    disconnect, timeout), so a handler never writes anything from an incomplete upload.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data = bytearray(size)
        self.buffer = memoryview(self._data)
        self._got = 0
        self._want = 0  # smallest count a waiting handler needs (0: nobody waits)
        self._error: str | None = None
        self._cond = threading.Condition()

    def feed(self, chunk: bytes) -> None:
        n = len(chunk)
        if self._got + n > self.size:
            raise BadRequest("request body is longer than its Content-Length")
        self.buffer[self._got : self._got + n] = chunk
        with self._cond:
            self._got += n
            if self._want and self._got >= self._want:
                self._cond.notify_all()

    def fail(self, message: str) -> None:
        with self._cond:
            if self._error is None:
                self._error = message
            self._cond.notify_all()

    @property
    def received(self) -> int:
        return self._got

    @property
    def complete(self) -> bool:
        return self._got == self.size

    def wait(self, n: int) -> memoryview:
        n = min(n, self.size)
        with self._cond:
            while self._got < n and self._error is None:
                self._want = n if not self._want else min(self._want, n)
                self._cond.wait()
                self._want = 0
            if self._got < n:
                raise BadRequest(self._error or "request body ended early")
        return self.buffer[:n]


async def receive_into(receive: Receive, body: IncomingBody) -> None:
    """Feed the request body into ``body`` as it arrives; any failure is recorded in ``body``."""
    try:
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise BadRequest("client disconnected before sending the whole body")
            body.feed(msg.get("body", b""))
            more = msg.get("more_body", False)
        if not body.complete:
            raise BadRequest(f"request body was {body.received} bytes, Content-Length said {body.size}")
    except BadRequest as e:
        body.fail(str(e))
        raise


def status_of(e: DVIDError) -> int:
    """DVID's status for an error: 404 for unmatched routes and missing blobs, 503 when throttled,
    400 for everything else (core.md §0.3). The only place errors become HTTP statuses."""
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, Throttled):
        return 503
    return 400


def error_response(message: str, path: str, status: int = 400) -> Response:
    """DVID's ``http.Error`` shape: ``<message> (<path>).`` plus newline, plain text."""
    if status == 404 and not message:
        body = b"404 page not found\n"
    elif status in (503, 429) or status == 404:
        body = (message.rstrip("\n") + "\n").encode()
    else:
        body = f"{message} ({path}).\n".encode()
    return Response(body, status=status, content_type="text/plain; charset=utf-8",
                    headers=[("X-Content-Type-Options", "nosniff")])


SEND_GRACE = 1.0  # seconds


class _Overdue(Exception):
    """The client took the answer too slowly: the request ran past its time limit while sending."""


async def _sent(send: Send, msg: dict[str, Any], limit: Budget | None) -> None:
    """``send(msg)``, but only until the request's deadline: a client that stops reading would
    otherwise hold the answer's memory, and a stream's read snapshot, for as long as it keeps the
    connection open (uvicorn waits for the socket to drain without a time limit). A send gets at
    least ``SEND_GRACE`` seconds, so an answer finished just before the deadline still goes out."""
    flow = getattr(limit.connection, "flow", None) if limit is not None else None
    if limit is None or (flow is not None and not flow.write_paused):
        # uvicorn's send waits only while the transport is paused (its buffer is full); otherwise it
        # returns at once, and a timer task per answer costs more than a small answer itself
        await send(msg)
        return
    try:
        await asyncio.wait_for(send(msg), max(SEND_GRACE, limit.deadline - time.monotonic()))
    except TimeoutError:
        raise _Overdue from None


async def _abort(limit: Budget | None) -> None:
    """Drop the connection of a request whose answer could not be sent in time (its head is out,
    so no error status can follow); closing would wait for the unsent bytes to drain."""
    conn: Any = limit.connection if limit is not None else None
    abort = getattr(getattr(conn, "transport", None), "abort", None)
    if abort is not None:
        abort()
        await asyncio.sleep(0)  # let the protocol see the connection lost before the app returns


async def send_response(send: Send, resp: Response, extra_headers: list[tuple[str, str]], head: bool,
                        limit: Budget | None = None) -> None:
    """Send ``resp``; with the request's budget, writing the body stops at its deadline (the
    connection is dropped and a stream's producer stopped, releasing its snapshot)."""
    try:
        await _send(send, resp, extra_headers, head, limit)
    except _Overdue:
        await _abort(limit)


async def _send(send: Send, resp: Response, extra_headers: list[tuple[str, str]], head: bool,
                limit: Budget | None) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers + extra_headers]
    if resp.content_type:
        headers.append((b"content-type", resp.content_type.encode("latin-1")))
    if resp.stream is None:
        body = resp.body
        headers.append((b"content-length", str(len(body) if not isinstance(body, memoryview) else body.nbytes).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await _sent(send, {"type": "http.response.body", "body": b"" if head else body}, limit)
        return
    if resp.length is not None:
        headers.append((b"content-length", str(resp.length).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    if head:
        close = getattr(resp.stream, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
        await send({"type": "http.response.body", "body": b""})
        return
    await _send_stream(send, iter(resp.stream), limit)


STREAM_AHEAD = 3  # chunks a stream may produce ahead of the socket (bounds memory)


async def _send_stream(send: Send, it: Iterator[bytes | memoryview], limit: Budget | None = None) -> None:
    """Send a stream's chunks as a producer thread makes them.

    The producer runs the whole iterator on its own, so the next chunk is decoded while the event
    loop writes the previous one (measured: handing over one ``next`` per chunk left the producer
    idle during every socket write; a 256³ GET took 30 ms that way and 23 ms so). At most ``STREAM_AHEAD``
    chunks wait in memory; a client that goes away, or reads too slowly to take the answer before
    the request's deadline, stops the producer and closes the iterator.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    room = threading.Semaphore(STREAM_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                room.acquire()
                if stop.is_set():
                    return
                chunk = next(it, None)
                loop.call_soon_threadsafe(queue.put_nowait, (True, chunk))
                if chunk is None:
                    return
        except BaseException as e:  # handed to the event loop, which aborts the response
            loop.call_soon_threadsafe(queue.put_nowait, (False, e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # releases the stream's read snapshot
                close()

    producer = loop.run_in_executor(None, produce)
    try:
        while True:
            ok, item = await queue.get()
            if not ok:
                if isinstance(item, RequestAborted):  # stopped by its budget: expected, no traceback
                    raise _Overdue from item
                raise item
            if item is None:
                break
            if len(item):
                await _sent(send, {"type": "http.response.body", "body": item, "more_body": True}, limit)
            room.release()
        await _sent(send, {"type": "http.response.body", "body": b""}, limit)
    finally:
        stop.set()
        room.release()  # wake a producer waiting for room so it sees the stop
        try:
            await producer
        except Exception:
            pass
