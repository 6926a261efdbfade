"""uvicorn's httptools protocol with the bounds it lacks: header size, header time, disconnects.

uvicorn's fast (httptools) parser accepts request headers of any size and waits forever for a
client that connects and sends nothing, so one client could hold memory or connections without
limit. This subclass refuses a request line plus headers over ``[server] maxHeaderBytes`` with a
400 naming the limit, closes a connection whose headers have not all arrived within
``[server] headerTimeout`` seconds, and hands the app the request cycle (``scope["dvid.cycle"]``)
so a running handler can see that its client disconnected (``dvid.budget``).

It also writes each response's head and the first bytes of its body with one system call
(``_HeadWithBody``): uvicorn writes them separately, and for a small answer (a 64³ JPEG block) the
second send cost as much as the whole body (profiled under ``bench/bench_viewers.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dvid.limits import DEFAULT, Limits


class _Refused(Exception):
    pass


class _HeadWithBody:
    """A request cycle's transport that holds back the response head until the body's first
    write, then hands both to the transport at once (``writelines``: one ``writev``, no copy).
    ``100 Continue`` passes at once (a client waits for it before sending its body); closing
    first writes a head still held."""

    __slots__ = ("_transport", "_head", "_head_seen")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._head_seen = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if type(data) is bytes:  # immutable: safe to hand over by reference
                self._transport.writelines((head, data))
                return
            self._transport.write(head)
            self._transport.write(data)
        elif self._head_seen or bytes(data[:13]) == b"HTTP/1.1 100 ":
            self._transport.write(data)
        else:
            self._head_seen = True
            self._head = bytes(data)

    def abort(self) -> None:
        """Drop the connection at once, unsent bytes and all (an answer the client will not take)."""
        self._head = None
        self._transport.abort()

    def close(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self._transport.write(head)
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    #: set by ``configure`` in each worker process before it serves (uvicorn builds protocols itself)
    limits: Limits = DEFAULT

    @classmethod
    def configure(cls, limits: Limits) -> None:
        cls.limits = limits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._refusal: str | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    # ------------------------------------------------------------------------------ header time
    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    # ------------------------------------------------------------------------------ header size
    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except (httptools.HttpParserError, _Refused):
            msg = self._refusal or "Invalid HTTP request received."
            self._refusal = msg
            self.send_400_response(msg + "\n")

    def _count(self, n: int) -> None:
        self._header_bytes += n
        limit = self.limits.max_header_bytes
        if self._header_bytes > limit:
            self._refusal = (f"request line and headers exceed the server limit of {limit} bytes "
                             "(raise [server] maxHeaderBytes to allow it)")
            raise _Refused

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()
        scope: Any = self.scope
        scope["dvid.cycle"] = self.cycle
        if scope["method"] != "HEAD":  # a HEAD answer has no body write to join
            self.cycle.transport = _HeadWithBody(self.transport)  # type: ignore[assignment]
