"""The distributed engine: any S3-compatible object store, through obstore.

Data instances live in the indexed layout (``dvid.storage.indexed``, reached through
``S3Engine.indexed`` by the datastore's views); this module is the plain ordered key-value store
beside it, for metadata, jobs and blobs (and for everything with ``layout = "keys"``).

Key-value layout: one object per key, named ``<prefix>/d/<hex of the key>``. Hex keeps byte order (a key
that is a prefix of another sorts first, otherwise the first differing byte decides), and S3 lists
keys in lexicographic order, so a listing from a start offset is an ordered range scan.

Guarantees:
* ``get``/``put`` of one key are atomic (S3 object semantics).
* ``compare_and_set`` is a conditional PUT (If-None-Match: * for "absent", If-Match on the ETag of
  the value read otherwise), so several front ends sharing a bucket never lose a metadata update.
* ``write`` of several keys is crash-atomic through a write-ahead manifest: the whole batch is first
  stored as one object under ``<prefix>/wal/``, then applied, then the manifest is deleted. Opening
  the engine (any front end) rolls forward every manifest it finds, so after a crash a batch is
  either absent or complete. Concurrent readers may briefly see part of a batch being applied.
"""

from __future__ import annotations

import asyncio
import struct
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import obstore as obs
from obstore import exceptions as oerr

from dvid.storage.base import Engine, StorageError
from dvid.storage.indexed import IndexedStore
from dvid.storage.s3objects import CONCURRENCY as _CONCURRENCY
from dvid.storage.s3objects import NOT_FOUND as _NOT_FOUND
from dvid.storage.s3objects import S3Objects

_LIST_CHUNK = 1000


def _encode_batch(puts: list[tuple[bytes, bytes]], deletes: list[bytes]) -> bytes:
    parts = [struct.pack("<II", len(puts), len(deletes))]
    for k, v in puts:
        parts += [struct.pack("<II", len(k), len(v)), k, v]
    for k in deletes:
        parts += [struct.pack("<I", len(k)), k]
    return b"".join(parts)


def _decode_batch(data: bytes) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    np_, nd = struct.unpack_from("<II", data, 0)
    i = 8
    puts = []
    for _ in range(np_):
        kl, vl = struct.unpack_from("<II", data, i)
        i += 8
        puts.append((data[i : i + kl], data[i + kl : i + kl + vl]))
        i += kl + vl
    deletes = []
    for _ in range(nd):
        (kl,) = struct.unpack_from("<I", data, i)
        i += 4
        deletes.append(data[i : i + kl])
        i += kl
    return puts, deletes


class S3Engine(Engine):
    local = False  # every read is a request to the object store

    def __init__(self, bucket: str, prefix: str = "dvid", *, layout: str = "bricks", gc_grace: float = 3600.0,
                 gc_interval: float = 3600.0, **connection: Any) -> None:
        """Connect to ``bucket`` under ``prefix`` (``connection``: see ``S3Objects``).

        ``layout = "bricks"`` (the default) stores data instances in the indexed layout
        (``dvid.storage.indexed``: no LIST on any request, a 256³ read is a few large GETs);
        ``"keys"`` keeps every key, data included, as its own object (the layout before it).
        ``gc_grace`` / ``gc_interval``: the indexed layout's garbage collection (seconds)."""
        if layout not in ("bricks", "keys"):
            raise StorageError(f'store option layout must be "bricks" or "keys", not {layout!r}')
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.objects = S3Objects(bucket, **connection)
        self._store = self.objects.store
        self.description = f"s3 @ {self.objects.endpoint or 'aws'}/{bucket}/{self.prefix}"
        self.indexed = (IndexedStore(self.objects, self.prefix, grace=float(gc_grace), gc_interval=float(gc_interval))
                        if layout == "bricks" else None)
        self._recover()

    @classmethod
    def from_options(cls, **options: Any) -> S3Engine:
        """Open from a ``[store.<alias>]`` section (``bucket`` required)."""
        if "bucket" not in options:
            raise StorageError("an s3 store needs bucket = <name>")
        return cls(**options)

    # ---------------------------------------------------------------------------------- helpers
    def _path(self, key: bytes) -> str:
        return f"{self.prefix}/d/{key.hex()}"

    def _key(self, path: str) -> bytes:
        return bytes.fromhex(path.rsplit("/", 1)[1])

    def _run(self, coro: Any) -> Any:
        return self.objects.run(coro)

    async def _get_one(self, path: str, sem: asyncio.Semaphore) -> bytes | None:
        async with sem:
            try:
                res = await obs.get_async(self._store, path)
                return bytes(await res.bytes_async())
            except _NOT_FOUND:
                return None

    async def _get_all(self, paths: Sequence[str]) -> list[bytes | None]:
        sem = asyncio.Semaphore(_CONCURRENCY)
        return list(await asyncio.gather(*(self._get_one(p, sem) for p in paths)))

    async def _apply(self, puts: list[tuple[bytes, bytes]], deletes: list[bytes]) -> None:
        sem = asyncio.Semaphore(_CONCURRENCY)

        async def put(k: bytes, v: bytes) -> None:
            async with sem:
                await obs.put_async(self._store, self._path(k), v)

        async def delete(k: bytes) -> None:
            async with sem:
                try:
                    await obs.delete_async(self._store, self._path(k))
                except _NOT_FOUND:
                    pass

        put_keys = {k for k, _ in puts}
        await asyncio.gather(*(delete(k) for k in deletes if k not in put_keys))
        await asyncio.gather(*(put(k, v) for k, v in puts))

    def _recover(self) -> None:
        """Roll forward batches whose manifest survived a crash."""
        try:
            # a marker object; SeaweedFS also creates a missing bucket on this first write
            obs.put(self._store, f"{self.prefix}/engine", b"dvid s3 engine, format 1")
            for chunk in obs.list(self._store, prefix=f"{self.prefix}/wal/"):
                for meta in chunk:
                    data = bytes(obs.get(self._store, meta["path"]).bytes())
                    puts, deletes = _decode_batch(data)
                    self._run(self._apply(puts, deletes))
                    obs.delete(self._store, meta["path"])
        except Exception as e:
            raise StorageError(f"cannot open S3 store {self.description}: {e}") from e

    # ------------------------------------------------------------------------------- interface
    def get(self, key: bytes) -> bytes | None:
        try:
            return bytes(obs.get(self._store, self._path(key)).bytes())
        except _NOT_FOUND:
            return None
        except Exception as e:
            raise StorageError(f"S3 get failed: {e}") from e

    def get_many(self, keys: Sequence[bytes]) -> list[bytes | None]:
        if len(keys) <= 1:
            return [self.get(k) for k in keys]
        try:
            return self._run(self._get_all([self._path(k) for k in keys]))
        except Exception as e:
            raise StorageError(f"S3 get failed: {e}") from e

    def scan(self, start: bytes, end: bytes, *, keys_only: bool = False) -> Iterator[tuple[bytes, bytes]]:
        base = f"{self.prefix}/d/"
        hs = start.hex()
        kwargs: dict[str, Any] = {"prefix": base, "chunk_size": _LIST_CHUNK}
        if hs:
            kwargs["offset"] = base + hs[:-1]  # StartAfter is exclusive: back off one hex digit
        try:
            for chunk in obs.list(self._store, **kwargs):
                ks = [self._key(m["path"]) for m in chunk]
                ks = [k for k in ks if k >= start]
                done = False
                if ks and ks[-1] >= end:
                    ks = [k for k in ks if k < end]
                    done = True
                if keys_only:
                    yield from ((k, b"") for k in ks)
                else:
                    vals = self.get_many(ks)
                    yield from ((k, v) for k, v in zip(ks, vals, strict=True) if v is not None)
                if done:
                    return
        except StorageError:
            raise
        except Exception as e:
            raise StorageError(f"S3 list failed: {e}") from e

    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        puts = [(bytes(k), bytes(v)) for k, v in puts]
        deletes = [bytes(k) for k in deletes]
        if not puts and not deletes:
            return
        try:
            if len(puts) + len(deletes) == 1:  # a single object write is atomic by itself
                self._run(self._apply(puts, deletes))
                return
            wal = f"{self.prefix}/wal/{uuidlib.uuid4().hex}"
            obs.put(self._store, wal, _encode_batch(puts, deletes))
            self._run(self._apply(puts, deletes))
            obs.delete(self._store, wal)
        except Exception as e:
            raise StorageError(f"S3 write failed: {e}") from e

    def compare_and_set(self, key: bytes, expected: bytes | None, new: bytes | None) -> bool:
        path = self._path(key)
        try:
            try:
                res = obs.get(self._store, path)
                cur, etag = bytes(res.bytes()), res.meta["e_tag"]
            except _NOT_FOUND:
                cur, etag = None, None
            if cur != expected:
                return False
            if new is None:
                if cur is None:
                    return True
                obs.delete(self._store, path)  # deletes of metadata are rare; not conditional in S3
                return True
            try:
                obs.put(self._store, path, new, mode="create" if etag is None else {"e_tag": etag})
            except (FileExistsError, oerr.PreconditionError, oerr.AlreadyExistsError):
                return False
            return True
        except Exception as e:
            raise StorageError(f"S3 conditional write failed: {e}") from e

    def close(self) -> None:
        self.objects.close()
