"""Whole named objects, as an object store offers them: the primitives of the indexed layout.

An ``ObjectStore`` reads and writes immutable-by-convention blobs by name, reads byte ranges of
many objects at once, and replaces one object only if it still has the version (ETag) that was
read: the compare-and-set that lets several front ends share a bucket. Bulk calls return
``concurrent.futures.Future``s so a caller can keep encoding while uploads run, and issue every
read of a request before waiting for the first.

``MemoryObjects`` keeps objects in a dict: the unit-test double of an S3 bucket, with the same
semantics (ETags change on every write, names list in order).
"""

from __future__ import annotations

import abc
import bisect
import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    #: seconds since the epoch, as the store reports it
    modified: float


class Unchanged:
    """``read_if_changed``'s answer when the object still has the ETag the caller holds."""


UNCHANGED = Unchanged()


class ObjectStore(abc.ABC):
    @abc.abstractmethod
    def read(self, name: str) -> tuple[bytes, str] | None:
        """``(data, etag)`` of an object, or None if it does not exist."""

    @abc.abstractmethod
    def read_many(self, names: Sequence[str], etags: Sequence[str | None] | None = None
                  ) -> list[Future[tuple[bytes, str] | Unchanged | None]]:
        """``read`` of several objects, all in flight at once. Where ``etags[i]`` is given and the
        object still has it, the answer is ``UNCHANGED`` (one cheap request: a 304)."""

    @abc.abstractmethod
    def read_ranges(self, name: str, starts: Sequence[int], ends: Sequence[int]) -> Future[list[memoryview]]:
        """Byte ranges ``[start, end)`` of one object (neighbouring ranges fetched as one request)."""

    @abc.abstractmethod
    def write(self, name: str, data: bytes | memoryview) -> Future[None]:
        """Store an object (replacing any); the future completes when it is durable."""

    @abc.abstractmethod
    def write_if(self, name: str, data: bytes, etag: str | None) -> str | None:
        """Store ``data`` only if the object still has ``etag`` (None: only if it does not exist).
        Returns the new ETag, or None, changing nothing, if another writer came first."""

    @abc.abstractmethod
    def delete(self, names: Sequence[str]) -> None:
        """Remove objects; names that do not exist are ignored."""

    @abc.abstractmethod
    def listing(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose name starts with ``prefix`` (ending in ``/``), in name order.
        Maintenance only (garbage collection, dropping an instance): never on a request's path."""


def _done(value: object) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


class MemoryObjects(ObjectStore):
    """Objects in a dict, guarded by one lock; ETags are a counter."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str, float]] = {}
        self._lock = threading.Lock()
        self._etags = itertools.count(1)

    def _put(self, name: str, data: bytes) -> str:
        etag = f'"{next(self._etags)}"'
        self._objects[name] = (data, etag, time.time())
        return etag

    def read(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            got = self._objects.get(name)
        return None if got is None else (got[0], got[1])

    def read_many(self, names: Sequence[str], etags: Sequence[str | None] | None = None
                  ) -> list[Future[tuple[bytes, str] | Unchanged | None]]:
        out = []
        for i, n in enumerate(names):
            got = self.read(n)
            out.append(_done(UNCHANGED if got is not None and etags and got[1] == etags[i] else got))
        return out

    def read_ranges(self, name: str, starts: Sequence[int], ends: Sequence[int]) -> Future[list[memoryview]]:
        got = self.read(name)
        if got is None:
            f: Future = Future()
            f.set_exception(FileNotFoundError(name))
            return f
        view = memoryview(got[0])
        return _done([view[s:e] for s, e in zip(starts, ends, strict=True)])

    def write(self, name: str, data: bytes | memoryview) -> Future[None]:
        with self._lock:
            self._put(name, bytes(data))
        return _done(None)

    def write_if(self, name: str, data: bytes, etag: str | None) -> str | None:
        with self._lock:
            got = self._objects.get(name)
            if (got[1] if got else None) != etag:
                return None
            return self._put(name, bytes(data))

    def delete(self, names: Sequence[str]) -> None:
        with self._lock:
            for n in names:
                self._objects.pop(n, None)

    def listing(self, prefix: str) -> Iterator[ObjectInfo]:
        with self._lock:
            names = sorted(self._objects)
            lo = bisect.bisect_left(names, prefix)
            out = []
            for n in names[lo:]:
                if not n.startswith(prefix):
                    break
                data, _, mtime = self._objects[n]
                out.append(ObjectInfo(n, len(data), mtime))
        return iter(out)
