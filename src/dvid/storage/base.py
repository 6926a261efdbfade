"""The interfaces every storage backend implements: ``Reader`` (reads) and ``Engine`` (reads + writes).

Keys and values are ``bytes``. Keys sort in plain lexicographic byte order, which the key layout in
``dvid.datastore.keys`` relies on to make one ordered scan cover one row of blocks. Every engine must
pass the shared contract, ``dvid.storage.testing.EngineContract``.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import islice


class StorageError(Exception):
    """A failure of the engine itself (disk full, map full, unreachable object store)."""


class Reader(abc.ABC):
    """Read access to an ordered key-value store (an engine, or one consistent snapshot of it).

    Ranges are half-open: ``scan(start, end)`` yields keys ``start <= k < end`` in ascending order.
    Values may be ``bytes`` or zero-copy buffers (a snapshot's, valid while it is open).
    """

    #: a short human description used in instance JSON ("KVStore"), e.g. ``"lmdb @ /data/dvid"``.
    description: str = "engine"

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """Return the value or None."""

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """Values for several keys, in order. Readers override this where batching is cheaper."""
        return [self.get(k) for k in keys]

    @abc.abstractmethod
    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Yield ``(key, value)`` for ``start <= key < end`` in key order (value ``b""`` if keys_only)."""


class Engine(Reader):
    """An ordered key-value store that can be written.

    ``write`` applies all puts and deletes atomically: after a crash either all are visible or none.
    Engines are safe to use from several threads; LMDB and S3 engines are also safe to share between
    processes (the server's worker processes each open their own handle).
    """

    @abc.abstractmethod
    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        """Apply puts and deletes atomically. Deletes are applied before puts."""

    @abc.abstractmethod
    def compare_and_set(self, key: bytes, expected: bytes | None, new: bytes | None) -> bool:
        """Atomically replace ``key``'s value with ``new`` (None deletes) if it currently equals
        ``expected`` (None meaning absent). Returns False, changing nothing, otherwise. Used for
        metadata so several front ends never lose an update."""

    #: True if the engine implements ``compare_and_write`` (LMDB, memory; not S3)
    supports_compare_and_write: bool = False
    #: True if reads never leave this machine (memory, a memory-mapped file): a small read costs
    #: microseconds, so the server may make it on its event loop (``Route.quick``); False for
    #: engines whose every read is a network round trip (S3)
    local: bool = True

    def compare_and_write(self, key: bytes, expected: bytes | None, new: bytes | None,
                          puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> bool:
        """``compare_and_set`` that, only if the swap happens, also applies ``puts`` and ``deletes``,
        all in ONE atomic step. Only engines with ``supports_compare_and_write`` provide it; it
        lets a metadata commit write its records with the same single write (one LMDB fsync)."""
        raise NotImplementedError(f"{type(self).__name__} has no atomic compare_and_write")

    def snapshot(self) -> AbstractContextManager[Reader]:
        """A read-only handle for many reads in a row (``get``/``get_many``/``scan``).

        Engines with a cheap consistent snapshot (LMDB: one read transaction) return values as
        zero-copy buffers valid only until the ``with`` block ends; the default is the engine itself.
        """
        return _itself(self)

    def put(self, key: bytes, value: bytes) -> None:
        self.write(puts=[(key, value)])

    def delete(self, key: bytes) -> None:
        self.write(deletes=[key])

    def delete_range(self, start: bytes, end: bytes, batch: int = 10000) -> int:
        """Physically remove every key in ``[start, end)``; returns how many were removed."""
        n = 0
        while True:
            keys = [k for k, _ in islice(self.scan(start, end, keys_only=True), batch)]
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


@contextmanager
def _itself(reader: Reader) -> Iterator[Reader]:
    yield reader
