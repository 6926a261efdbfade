"""Metadata persistence shared by every worker process and front end: compare-and-set with retry.

All metadata lives in ONE metadata key as JSON and every mutation is read, modify, compare-and-set,
retried on conflict, so several worker processes (or front ends sharing an object store) never lose
an update. ``refresh()`` runs at the start of every request and reloads only when the stored bytes
changed, so a change made through one worker is visible through every other at its next request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from dvid.datastore import keys
from dvid.datastore.persist import State
from dvid.errors import BadRequest
from dvid.storage.base import Engine

T = TypeVar("T")
_MAX_ATTEMPTS = 1000


class Metadata:
    """The current metadata of one store as this process last saw it, and the way to change it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._raw: bytes | None = None
        self.current = State()
        self.refresh()

    def refresh(self) -> None:
        """Adopt what another process committed since we last looked."""
        raw = self.engine.get(keys.LEGACY_META_KEY)
        if raw != self._raw:
            with self._lock:
                self._raw, self.current = raw, State.loads(raw)

    def mutate(self, fn: Callable[[State], T]) -> T:
        """Apply ``fn`` to a fresh copy of the stored state and compare-and-set it; retry on races."""
        with self._lock:
            for _ in range(_MAX_ATTEMPTS):
                raw = self.engine.get(keys.LEGACY_META_KEY)
                state = State.loads(raw)
                result = fn(state)
                new_raw = state.dumps()
                if self.engine.compare_and_set(keys.LEGACY_META_KEY, raw, new_raw):
                    self._raw, self.current = new_raw, state
                    return result
            raise BadRequest("metadata is too contended to update; try again")
