"""A named lease in the store: at most one holder at a time across threads, worker processes and
front ends sharing the store, with an expiry so a crashed holder never blocks others for good.

Built on the engine's one-key compare-and-set. The holder renews it while it works; a renewal
that finds someone else's value means the lease was lost (it expired while the holder stalled).
"""

from __future__ import annotations

import json
import time
import uuid as uuidlib

from dvid.datastore import keys
from dvid.storage.base import Engine


class LeaseLost(Exception):
    """The lease expired and another holder took it."""


class Lease:
    def __init__(self, store: Engine, name: str, ttl: float = 30.0) -> None:
        self._store = store
        self._key = keys.lease_key(name)
        self.ttl = ttl
        self._owner = uuidlib.uuid4().hex
        self._held: bytes | None = None
        self._renewed = 0.0

    def _value(self) -> bytes:
        return json.dumps({"owner": self._owner, "until": time.time() + self.ttl}).encode()

    def holder_active(self) -> bool:
        """Whether anyone (including us) holds the lease now."""
        raw = self._store.get(self._key)
        return raw is not None and _until(raw) > time.time()

    def acquire(self) -> bool:
        """Take the lease if it is free or expired; False if someone else holds it."""
        cur = self._store.get(self._key)
        if cur is not None and _until(cur) > time.time():
            return False
        new = self._value()
        if self._store.compare_and_set(self._key, cur, new):
            self._held, self._renewed = new, time.monotonic()
            return True
        return False

    def wait(self, timeout: float, poll: float = 0.2) -> bool:
        """Acquire, waiting up to ``timeout`` seconds for the current holder to finish."""
        deadline = time.monotonic() + timeout
        while True:
            if self.acquire():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

    def renew(self, force: bool = False) -> None:
        """Extend the lease (at most every ttl/3 unless ``force``); raises LeaseLost if it was taken."""
        if self._held is None:
            raise LeaseLost("lease not held")
        if not force and time.monotonic() - self._renewed < self.ttl / 3:
            return
        new = self._value()
        if not self._store.compare_and_set(self._key, self._held, new):
            self._held = None
            raise LeaseLost("lease expired and was taken by another holder")
        self._held, self._renewed = new, time.monotonic()

    def release_with(self, puts: list[tuple[bytes, bytes]], deletes: list[bytes]) -> None:
        """Store ``puts``/``deletes`` and release the lease, in one atomic step where the engine
        can (one commit instead of two); raises LeaseLost, writing nothing, if it was taken."""
        if self._held is None:
            raise LeaseLost("lease not held")
        if self._store.supports_compare_and_write:
            if not self._store.compare_and_write(self._key, self._held, None, puts, deletes):
                self._held = None
                raise LeaseLost("lease expired and was taken by another holder")
            self._held = None
            return
        self.renew(force=True)
        self._store.write(puts=puts, deletes=deletes)
        self.release()

    def release(self) -> None:
        if self._held is not None:
            self._store.compare_and_set(self._key, self._held, None)
            self._held = None


def _until(raw: bytes) -> float:
    try:
        return float(json.loads(raw)["until"])
    except (ValueError, KeyError, TypeError):
        return 0.0
