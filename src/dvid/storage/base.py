"""The engine contract every storage backend implements.

Keys and values are ``bytes``. Keys sort in plain lexicographic byte order, which the key layout in
``dvid.datastore.keys`` relies on to make one ordered scan cover one row of blocks. Every engine must
pass ``tests/test_storage_contract.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class StorageError(Exception):
    """A failure of the engine itself (disk full, map full, unreachable object store)."""


class Engine(abc.ABC):
    """An ordered key-value store.

    Ranges are half-open: ``scan(start, end)`` yields keys ``start <= k < end`` in ascending order.
    ``write`` applies all puts and deletes atomically: after a crash either all are visible or none.
    Engines are safe to use from several threads; LMDB and S3 engines are also safe to share between
    processes (the server's worker processes each open their own handle).
    """

    #: a short human description used in instance JSON ("KVStore"), e.g. ``"lmdb @ /data/dvid"``.
    description: str = "engine"
    #: True if several processes may open the same store at once.
    multiprocess: bool = False

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """Return the value or None."""

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """Values for several keys, in order. Engines override this where batching is cheaper."""
        return [self.get(k) for k in keys]

    @abc.abstractmethod
    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` for ``start <= key < end`` in key order (value ``b""`` if keys_only)."""

    @abc.abstractmethod
    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        """Apply puts and deletes atomically. Deletes are applied before puts."""

    @abc.abstractmethod
    def compare_and_set(self, key: bytes, expected: bytes | None, new: bytes | None) -> bool:
        """Atomically replace ``key``'s value with ``new`` (None deletes) if it currently equals
        ``expected`` (None meaning absent). Returns False, changing nothing, otherwise. Used for
        metadata so several front ends never lose an update."""

    @contextmanager
    def snapshot(self) -> Iterator[Engine]:
        """A read-only handle for many reads in a row (``get``/``get_many``/``scan``).

        Engines with a cheap consistent snapshot (LMDB: one read transaction) return values as
        zero-copy buffers valid only until the ``with`` block ends; the default is the engine itself.
        """
        yield self

    def put(self, key: bytes, value: bytes) -> None:
        self.write(puts=[(key, value)])

    def delete(self, key: bytes) -> None:
        self.write(deletes=[key])

    def delete_range(self, start: bytes, end: bytes, batch: int = 10000) -> int:
        """Physically remove every key in ``[start, end)``; returns how many were removed."""
        n = 0
        while True:
            keys = [k for k, _ in _take(self.scan(start, end, keys_only=True), batch)]
            if not keys:
                return n
            self.write(deletes=keys)
            n += len(keys)

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store; a later ``open_engine`` on the same location sees all written data."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _take(it: Iterator[Any], n: int) -> list[Any]:
    out = []
    for item in it:
        out.append(item)
        if len(out) >= n:
            break
    return out


def open_engine(engine: str, options: dict[str, Any]) -> Engine:
    """Open a store from its config section (``[store.<alias>]`` with ``engine = ...``)."""
    name = engine.lower()
    if name in ("badger", "basholeveldb", "leveldb", "filestore"):
        import warnings

        warnings.warn(f"engine {engine!r} is a DVID Go engine; using the embedded LMDB store instead", stacklevel=2)
        name = "lmdb"
    if name == "lmdb":
        from dvid.storage.lmdb import LMDBEngine

        sync = options.get("sync", True)
        if not isinstance(sync, bool):
            raise StorageError(f"store option sync must be true or false, not {sync!r}")
        return LMDBEngine(options["path"], map_size=options.get("map_size"), sync=sync)
    if name == "memory":
        from dvid.storage.memory import MemoryEngine

        return MemoryEngine()
    if name == "s3":
        from dvid.storage.s3 import S3Engine  # type: ignore[import-not-found]

        return S3Engine(**{k: v for k, v in options.items() if k != "engine"})
    raise StorageError(f"unknown storage engine {engine!r}")
