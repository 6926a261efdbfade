"""The server-wide throttle for heavy requests (``throttle=true|on``), shared by all workers.

DVID keeps one in-process counter; we have several worker processes, so each slot is a file locked
with ``flock``: taking a slot never waits, and a crashed process releases its slot automatically.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dvid.errors import Throttled


class Throttle:
    def __init__(self, run_dir: str, limit: Callable[[], int]) -> None:
        self.run_dir = run_dir
        self.limit = limit
        os.makedirs(run_dir, exist_ok=True)

    def _open(self, i: int) -> int:
        return os.open(os.path.join(self.run_dir, f"slot-{i}"), os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold the first free slot of ``limit()`` for the ``with`` body; Throttled if none is free.
        Slots are tried one at a time, so only one file is open per attempt."""
        limit = max(0, self.limit())
        held: int | None = None
        for i in range(limit):
            fd = self._open(i)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held = fd
            break
        if held is None:
            raise Throttled(f"Server already running {limit} throttled operations (max = {limit})")
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)
