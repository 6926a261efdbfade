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

    def _slot_fds(self, n: int) -> list[int]:
        return [os.open(os.path.join(self.run_dir, f"slot-{i}"), os.O_RDWR | os.O_CREAT, 0o600) for i in range(n)]

    def in_use(self, n: int) -> int:
        """How many of the first ``n`` slots are held right now (probing without holding)."""
        used = 0
        for fd in self._slot_fds(n):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                used += 1
            finally:
                os.close(fd)
        return used

    @contextmanager
    def slot(self) -> Iterator[None]:
        limit = max(0, self.limit())
        fds = self._slot_fds(limit)
        held: int | None = None
        try:
            for fd in fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = fd
                    break
                except BlockingIOError:
                    continue
            for fd in fds:
                if fd != held:
                    os.close(fd)
            if held is None:
                raise Throttled(f"Server already running {limit} throttled operations (max = {limit})")
            yield
        finally:
            if held is not None:
                fcntl.flock(held, fcntl.LOCK_UN)
                os.close(held)
