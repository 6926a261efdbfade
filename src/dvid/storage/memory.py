"""An in-memory engine for unit tests: a sorted key list plus a dict, guarded by one lock."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from dvid.storage.base import Engine, StorageError
from dvid.storage.indexed import IndexedStore
from dvid.storage.objects import MemoryObjects


class MemoryEngine(Engine):
    description = "memory"

    def __init__(self, *, layout: str = "keys") -> None:
        """``layout = "bricks"`` adds the object-store layout over an in-memory bucket, so the
        indexed views run in unit tests exactly as on S3."""
        if layout not in ("keys", "bricks"):
            raise StorageError(f'store option layout must be "keys" or "bricks", not {layout!r}')
        self._keys: list[bytes] = []
        self._data: dict[bytes, bytes] = {}
        self._lock = threading.RLock()
        self.indexed = IndexedStore(MemoryObjects(), "mem") if layout == "bricks" else None

    @classmethod
    def from_options(cls, layout: str = "keys", **options: Any) -> MemoryEngine:
        """A fresh empty store (``engine = "memory"``): it lives only as long as the process."""
        if options:
            raise StorageError(f"unknown memory store option(s): {', '.join(sorted(options))} (known: layout)")
        return cls(layout=layout)

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
