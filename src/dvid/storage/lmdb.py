"""The embedded default engine: LMDB.

Chosen for the fastest measured reads of 32 KiB values, ordered cursors, crash safety with no
recovery step, and because several worker processes can share one environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import lmdb

from dvid.storage.base import Engine, Reader, StorageError

DEFAULT_MAP_SIZE = 1 << 40  # 1 TiB of address space; the file only grows as data is written.
_SCAN_CHUNK = 2048  # items read per read-transaction, so a long scan never pins old pages for long


class LMDBEngine(Engine):
    def __init__(self, path: str | os.PathLike[str], map_size: int | None = None, *, sync: bool = True) -> None:
        """``sync=False`` skips the fsync at each commit (docs/reliability.md): like DVID's LevelDB and
        Badger defaults, a killed server loses nothing but an OS crash or power cut may lose the
        last commits. Measured on our VM: a 16 MiB commit takes ~43 ms with fsync, ~13 ms without."""
        self.path = os.path.abspath(os.fspath(path))
        os.makedirs(self.path, exist_ok=True)
        try:
            self._env = lmdb.open(
                self.path,
                map_size=int(map_size or DEFAULT_MAP_SIZE),
                max_readers=1024,
                max_dbs=0,
                readahead=False,
                meminit=False,
                sync=sync,
            )
        except lmdb.Error as e:
            raise StorageError(f"cannot open LMDB store at {self.path}: {e}") from e
        self.description = f"lmdb @ {self.path}" + ("" if sync else " (sync off)")

    @classmethod
    def from_options(cls, path: str, map_size: int | None = None, sync: Any = True, **other: Any) -> LMDBEngine:
        """Open from a ``[store.<alias>]`` section. Unknown keys are refused: a misspelt option
        must not silently fall back to a default."""
        if other:
            raise StorageError(f"unknown LMDB store option(s): {', '.join(sorted(other))} "
                               "(known: path, map_size, sync)")
        if not isinstance(sync, bool):
            raise StorageError(f"store option sync must be true or false, not {sync!r}")
        return cls(path, map_size=map_size, sync=sync)

    def get(self, key: bytes) -> bytes | None:
        with self._env.begin(buffers=False) as txn:
            return txn.get(key)

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        with self._env.begin() as txn:
            get = txn.get
            return [get(k) for k in keys]

    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        lo = bytes(start)
        first = True
        while True:
            batch: list[tuple[bytes, bytes]] = []
            with self._env.begin() as txn:
                cur = txn.cursor()
                if not cur.set_range(lo):
                    return
                if not first and cur.key() == lo:
                    if not cur.next():
                        return
                it = cur.iternext(keys=True, values=not keys_only)
                for item in it:
                    k = item if keys_only else item[0]
                    if k >= end:
                        break
                    batch.append((k, b"") if keys_only else item)
                    if len(batch) >= _SCAN_CHUNK:
                        break
            yield from batch
            if len(batch) < _SCAN_CHUNK:
                return
            lo = batch[-1][0]
            first = False

    def snapshot(self) -> _Snapshot:
        """One read transaction, as its own context manager (no generator frame: every block
        request opens one, so its cost is part of the per-request floor)."""
        return _Snapshot(self._env.begin(buffers=True), self.description)

    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        try:
            with self._env.begin(write=True) as txn:
                for k in deletes:
                    txn.delete(k)
                for k, v in puts:
                    txn.put(k, v)
        except lmdb.MapFullError as e:
            raise StorageError("storage is full (LMDB map size reached); nothing from this batch was written") from e
        except lmdb.Error as e:
            raise StorageError(f"LMDB write failed, nothing from this batch was written: {e}") from e

    supports_compare_and_write = True

    def compare_and_set(self, key: bytes, expected: bytes | None, new: bytes | None) -> bool:
        return self.compare_and_write(key, expected, new)

    def compare_and_write(self, key: bytes, expected: bytes | None, new: bytes | None,
                          puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> bool:
        try:
            with self._env.begin(write=True) as txn:
                if txn.get(key) != expected:
                    return False
                for k in deletes:
                    txn.delete(k)
                for k, v in puts:
                    txn.put(k, v)
                if new is None:
                    txn.delete(key)
                else:
                    txn.put(key, new)
                return True
        except lmdb.MapFullError as e:
            raise StorageError("storage is full (LMDB map size reached); nothing from this batch was written") from e
        except lmdb.Error as e:
            raise StorageError(f"LMDB write failed: {e}") from e

    def close(self) -> None:
        self._env.close()


class _Snapshot(Reader):
    """One LMDB read transaction: keys as bytes, values as zero-copy buffers into the map, valid
    until the transaction ends (perf.md: copying 32 KiB values out costs more than decoding them)."""

    def __init__(self, txn: lmdb.Transaction, description: str) -> None:
        self._txn = txn
        self.description = description

    def __enter__(self) -> _Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self._txn.abort()  # a read transaction: ending it is all there is to do

    def get(self, key: bytes) -> bytes | None:
        return self._txn.get(key)

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        get = self._txn.get
        return [get(k) for k in keys]

    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        cur = self._txn.cursor()
        if not cur.set_range(start):
            return
        for k, v in cur.iternext(keys=True, values=True):
            kb = bytes(k)
            if kb >= end:
                return
            yield kb, (b"" if keys_only else v)
