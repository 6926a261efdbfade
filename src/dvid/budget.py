"""Cooperative bounds on one request's running time: a deadline and the client's connection.

A request handler runs on a worker thread that cannot be killed, so long loops (rows of blocks,
layers of a stream, strips of an ``arb`` plane, ROI partitions) call ``check()`` between steps. It
raises ``RequestAborted`` once the request has run past ``[server] requestTimeout`` or its client
has disconnected, so the handler unwinds and releases what it holds: a throttle slot, a read
snapshot, the thread. The server installs the budget around each handler (``bounded``); code
running outside a request (jobs, the CLI) sees no budget and is never stopped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

from dvid.errors import DVIDError


class RequestAborted(DVIDError):
    """The request ran past its time limit or lost its client; nothing more is done for it."""


class Connection(Protocol):
    """What the HTTP server knows of the client's connection (uvicorn's request cycle)."""

    #: set once the client has gone away
    disconnected: bool


class Budget:
    __slots__ = ("deadline", "timeout", "connection")

    def __init__(self, timeout: float, connection: Connection | None = None) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.connection = connection

    def check(self) -> None:
        conn = self.connection
        if conn is not None and conn.disconnected:
            raise RequestAborted("client disconnected; request abandoned")
        if time.monotonic() > self.deadline:
            raise RequestAborted(f"request ran longer than the server limit of {self.timeout:g} s "
                                 "(raise [server] requestTimeout to allow it)")


_current: ContextVar[Budget | None] = ContextVar("dvid_request_budget", default=None)


def current() -> Budget | None:
    """The budget of the request this thread serves (None outside requests)."""
    return _current.get()


def check() -> None:
    """Raise ``RequestAborted`` if the current request must stop; cheap enough for every row."""
    b = _current.get()
    if b is not None:
        b.check()


def install(budget: Budget | None) -> Token[Budget | None]:
    """Make ``budget`` the current one until ``uninstall(token)`` (``bounded`` without the
    generator frame, for the server's per-request path)."""
    return _current.set(budget)


def uninstall(token: Token[Budget | None]) -> None:
    _current.reset(token)


@contextmanager
def bounded(budget: Budget | None) -> Iterator[None]:
    token = _current.set(budget)
    try:
        yield
    finally:
        _current.reset(token)
