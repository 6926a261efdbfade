"""An in-memory engine for unit tests: a sorted key list plus a dict, guarded by one lock."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from dvid.storage.base import Engine, StorageError


class MemoryEngine(Engine):
    description = "memory"

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._data: dict[bytes, bytes] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_options(cls, **options: Any) -> MemoryEngine:
        """A fresh empty store (``engine = "memory"``): it lives only as long as the process."""
        if options:
            raise StorageError(f"the memory engine takes no options, got: {', '.join(sorted(options))}")
        return cls()

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(bytes(key))

    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._lock:
            lo = bisect.bisect_left(self._keys, start)
            hi = bisect.bisect_left(self._keys, end)
            items = [(k, b"" if keys_only else self._data[k]) for k in self._keys[lo:hi]]
        return iter(items)

    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        puts = [(bytes(k), bytes(v)) for k, v in puts]
        deletes = [bytes(k) for k in deletes]
        with self._lock:
            for k in deletes:
                if k in self._data:
                    del self._data[k]
                    i = bisect.bisect_left(self._keys, k)
                    del self._keys[i]
            for k, v in puts:
                if k not in self._data:
                    bisect.insort(self._keys, k)
                self._data[k] = v

    supports_compare_and_write = True

    def compare_and_set(self, key: bytes, expected: bytes | None, new: bytes | None) -> bool:
        return self.compare_and_write(key, expected, new)

    def compare_and_write(self, key: bytes, expected: bytes | None, new: bytes | None,
                          puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> bool:
        with self._lock:
            if self._data.get(key) != expected:
                return False
            puts, deletes = list(puts), list(deletes)
            if new is None:
                deletes.append(key)
            else:
                puts.append((key, new))
            self.write(puts=puts, deletes=deletes)
            return True

    def close(self) -> None:
        pass
