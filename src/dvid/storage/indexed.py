"""The indexed layout for object stores: immutable pack objects located through small index objects.

A *space* (the caller's name for one set of keys that is written atomically, e.g. one data instance
at one version) is stored as:

* **pack objects** ``x/<space>/p/<id>``: values concatenated, written once, never overwritten. The
  caller chooses what goes together (a brick of neighbouring blocks), so one large GET serves many
  keys of one region.
* **group objects** ``x/<space>/g/<id>``: one index shard each, immutable. For every key of the
  shard: where its value is (pack, offset, length), the value itself if small, or a tombstone.
* the **root** ``x/<space>/root``: which group object is current for each shard. It is the only
  object ever replaced, always by a conditional PUT on its ETag.

A commit uploads packs and new group objects under fresh names, then swaps the root in one
compare-and-set: a request is visible whole or not at all, with no write-ahead copy of the data and
no LIST, and a writer that loses the race re-merges the shards that changed and retries, so several
front ends can share a bucket. Readers revalidate the roots of spaces that may change (a 304 when
nothing did), cache roots of frozen spaces and every group object forever (they are immutable),
and fetch all byte ranges a request needs at once.

Nothing here knows about versions or blocks: shards and packs are chosen by the caller
(``dvid.datastore.indexed_view``). Old packs and groups become garbage when a root stops naming
them; ``collect_garbage`` deletes an object only after two runs at least ``grace`` seconds apart
both found it unreferenced, so no reader that resolved its index less than ``grace`` ago loses data.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import random
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from dvid.storage.base import StorageError
from dvid.storage.objects import UNCHANGED, ObjectStore

log = logging.getLogger("dvid.storage.indexed")

PACK, INLINE, TOMBSTONE = 0, 1, 2
FORGET = 3  # in a commit only: remove the key's entry from its shard (no tombstone left behind)
#: values up to this size live in the group object itself (extents, ROI spans), not in a pack
INLINE_MAX = 256
_MAGIC = b"DVG1"
_HEAD = struct.Struct("<4sII")
_GROUP_CACHE_ENTRIES = 4_000_000  # entries kept per process (~1 GB worst case); least recently used go


def new_id() -> bytes:
    return os.urandom(16)


@dataclass
class Group:
    """One decoded index shard: sorted keys with, per key, a kind and its value's location."""

    keys: list[bytes]
    kinds: list[int]
    packs: list[bytes]  # pack id per entry (b"" when not in a pack)
    offsets: list[int]
    lengths: list[int]
    inline: list[bytes | None]
    pos: dict[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.pos:
            self.pos = {k: i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def span(self, start: bytes, end: bytes) -> range:
        """Indices of the keys in ``[start, end)``."""
        return range(bisect.bisect_left(self.keys, start), bisect.bisect_left(self.keys, end))

    def entries(self) -> dict[bytes, tuple[int, bytes, int, int, bytes | None]]:
        return {k: (self.kinds[i], self.packs[i], self.offsets[i], self.lengths[i], self.inline[i])
                for i, k in enumerate(self.keys)}


EMPTY_GROUP = Group([], [], [], [], [], [])


def encode_group(entries: dict[bytes, tuple[int, bytes, int, int, bytes | None]]) -> bytes:
    keys = sorted(entries)
    n = len(keys)
    pack_ids: dict[bytes, int] = {}
    kinds = np.empty(n, np.uint8)
    pix = np.zeros(n, np.uint32)
    offs = np.zeros(n, np.uint32)
    lens = np.zeros(n, np.uint32)
    ilens = np.zeros(n, np.uint32)
    inline: list[bytes] = []
    for i, k in enumerate(keys):
        kind, pack, off, ln, val = entries[k]
        kinds[i] = kind
        if kind == PACK:
            pix[i] = pack_ids.setdefault(pack, len(pack_ids))
            offs[i], lens[i] = off, ln
        elif kind == INLINE:
            assert val is not None
            ilens[i] = len(val)
            inline.append(val)
    klens = np.fromiter((len(k) for k in keys), np.uint16, n)
    body = b"".join([_HEAD.pack(_MAGIC, n, len(pack_ids)), *pack_ids, klens.tobytes(), *keys, kinds.tobytes(),
                     pix.tobytes(), offs.tobytes(), lens.tobytes(), ilens.tobytes(), *inline])
    return zlib.compress(body, 1)


def decode_group(data: bytes) -> Group:
    body = zlib.decompress(data)
    magic, n, npacks = _HEAD.unpack_from(body, 0)
    if magic != _MAGIC:
        raise StorageError("not an index group object (bad magic)")
    i = _HEAD.size
    pack_table = [body[i + 16 * j : i + 16 * (j + 1)] for j in range(npacks)]
    i += 16 * npacks
    klens = np.frombuffer(body, np.uint16, n, i).tolist()
    i += 2 * n
    keys = []
    for ln in klens:
        keys.append(body[i : i + ln])
        i += ln
    kinds = np.frombuffer(body, np.uint8, n, i).tolist()
    i += n
    pix, offs, lens, ilens = (np.frombuffer(body, np.uint32, n, i + 4 * n * j).tolist() for j in range(4))
    i += 16 * n
    packs: list[bytes] = []
    inline: list[bytes | None] = []
    for kind, p, ln in zip(kinds, pix, ilens, strict=True):
        packs.append(pack_table[p] if kind == PACK else b"")
        if kind == INLINE:
            inline.append(body[i : i + ln])
            i += ln
        else:
            inline.append(None)
    return Group(keys, kinds, packs, offs, lens, inline)


@dataclass(frozen=True)
class Root:
    """The current group object of each shard of one space; ``etag`` None = the space is empty."""

    groups: dict[bytes, bytes]  # shard id -> group object id
    etag: str | None

    @staticmethod
    def decode(data: bytes, etag: str) -> Root:
        doc = json.loads(data)
        return Root({bytes.fromhex(g): bytes.fromhex(o) for g, o in doc["groups"].items()}, etag)

    @staticmethod
    def encode(groups: dict[bytes, bytes]) -> bytes:
        return json.dumps({"format": 1, "groups": {g.hex(): o.hex() for g, o in sorted(groups.items())}}).encode()


EMPTY_ROOT = Root({}, None)


@dataclass
class Ref:
    """Where one value is: a pack of ``space`` and a byte range of it."""

    space: str
    pack: bytes
    offset: int
    length: int


class Fetch:
    """The values of a list of ``Ref``s, every object's ranges requested at once up front.

    ``value(i)`` waits only for the object holding ref ``i``. Objects are requested in the order
    their values are first needed, at most ``window`` bytes ahead of the one being read, so memory
    stays bounded for huge reads while a 256³ request has everything in flight at once.
    """

    def __init__(self, store: IndexedStore, refs: Sequence[Ref], window: int = 256 << 20) -> None:
        self._store, self._refs, self._window = store, refs, window
        by_object: dict[tuple[str, bytes], list[int]] = {}
        for i, r in enumerate(refs):
            by_object.setdefault((r.space, r.pack), []).append(i)
        self._plan = list(by_object.items())
        self._slot: list[tuple[int, int]] = [(0, 0)] * len(refs)  # ref -> (object, range within it)
        self._start: list[int] = []  # bytes needed before each object
        total = 0
        for oi, (_, ids) in enumerate(self._plan):
            self._start.append(total)
            for ri, i in enumerate(ids):
                self._slot[i] = (oi, ri)
                total += refs[i].length
        self._futures: list[Future[list[memoryview]]] = []
        self._issue_through(0)

    def _issue_through(self, oi: int) -> None:
        limit = self._start[oi] + self._window if oi < len(self._plan) else 0
        while len(self._futures) < len(self._plan) and (len(self._futures) <= oi or
                                                        self._start[len(self._futures)] < limit):
            (space, pack), ids = self._plan[len(self._futures)]
            starts = [self._refs[i].offset for i in ids]
            ends = [self._refs[i].offset + self._refs[i].length for i in ids]
            self._futures.append(self._store.objects.read_ranges(self._store.pack_name(space, pack), starts, ends))

    def value(self, i: int) -> memoryview:
        oi, ri = self._slot[i]
        self._issue_through(oi)
        try:
            return self._futures[oi].result()[ri]
        except FileNotFoundError as e:
            raise StorageError(f"a pack object named by the index is gone ({e}); the request can be retried") from e
        except StorageError:
            raise
        except Exception as e:
            raise StorageError(f"object store read failed: {e}") from e


class Transaction:
    """The changes of one commit to one space. Packs upload as soon as they are added."""

    def __init__(self, store: IndexedStore, space: str) -> None:
        self.store, self.space = store, space
        self.changes: dict[bytes, dict[bytes, tuple[int, bytes, int, int, bytes | None]]] = {}
        self._uploads: list[Future[None]] = []
        self._started = time.time()

    def _set(self, shard: bytes, key: bytes, entry: tuple[int, bytes, int, int, bytes | None]) -> None:
        self.changes.setdefault(shard, {})[bytes(key)] = entry

    def put(self, shard: bytes, key: bytes, value: bytes | memoryview) -> bool:
        """Store a small value inline; returns False (storing nothing) if it belongs in a pack."""
        if len(value) > INLINE_MAX:
            return False
        self._set(shard, key, (INLINE, b"", 0, 0, bytes(value)))
        return True

    def delete(self, shard: bytes, key: bytes) -> None:
        self._set(shard, key, (TOMBSTONE, b"", 0, 0, None))

    def forget(self, shard: bytes, key: bytes) -> None:
        self._set(shard, key, (FORGET, b"", 0, 0, None))

    def pack(self, items: Sequence[tuple[bytes, bytes, bytes | memoryview]]) -> None:
        """Upload ``(shard, key, value)`` items as one pack object, in this order."""
        if not items:
            return
        pid = new_id()
        off = 0
        for shard, key, value in items:
            n = len(value)
            self._set(shard, key, (PACK, pid, off, n, None))
            off += n
        data = b"".join(v for _, _, v in items)
        self._uploads.append(self.store.objects.write(self.store.pack_name(self.space, pid), data))

    def commit(self) -> None:
        """Make every change visible at once (or raise StorageError, making none visible)."""
        try:
            for f in self._uploads:
                f.result()
        except Exception as e:
            raise StorageError(f"object store write failed, nothing from this request is visible: {e}") from e
        if not self.changes:
            return
        if time.time() - self._started > self.store.grace / 2:
            raise StorageError("the write took longer than half the garbage-collection grace period; "
                               "nothing from it is visible")
        self.store.commit(self.space, self.changes)


class IndexedStore:
    """Spaces of keys on an ``ObjectStore`` (see the module docstring)."""

    def __init__(self, objects: ObjectStore, prefix: str, *, grace: float = 3600.0,
                 gc_interval: float = 3600.0) -> None:
        """``grace``: seconds an object must stay unreferenced before it is deleted (and the longest
        a commit may take); ``gc_interval``: seconds between runs of ``start_collector``'s thread."""
        self.objects = objects
        self.prefix = prefix.strip("/")
        self.grace = grace
        self.gc_interval = gc_interval
        self._lock = threading.Lock()
        self._roots: dict[str, Root] = {}
        self._frozen: set[str] = set()
        self._groups: OrderedDict[tuple[str, bytes], Group] = OrderedDict()
        self._cached_entries = 0

    # ----------------------------------------------------------------------------------- names
    def space_dir(self, space: str) -> str:
        return f"{self.prefix}/x/{space}/"

    def root_name(self, space: str) -> str:
        return f"{self.prefix}/x/{space}/root"

    def group_name(self, space: str, gid: bytes) -> str:
        return f"{self.prefix}/x/{space}/g/{gid.hex()}"

    def pack_name(self, space: str, pid: bytes) -> str:
        return f"{self.prefix}/x/{space}/p/{pid.hex()}"

    # ----------------------------------------------------------------------------------- reads
    def roots(self, spaces: Sequence[str], frozen: Iterable[str] = ()) -> dict[str, Root]:
        """The current root of each space. Frozen spaces (that never change again) are read once
        per process; the others are revalidated, all at once (a 304 when unchanged)."""
        frozen = set(frozen)
        out: dict[str, Root] = {}
        todo: list[tuple[str, Root | None]] = []
        with self._lock:
            for s in spaces:
                got = self._roots.get(s)
                if got is not None and s in self._frozen:
                    out[s] = got
                else:
                    todo.append((s, got))
        if not todo:
            return out
        futures = self.objects.read_many([self.root_name(s) for s, _ in todo],
                                         [c.etag if c is not None else None for _, c in todo])
        for (s, cached), fut in zip(todo, futures, strict=True):
            try:
                got = fut.result()
            except Exception as e:
                raise StorageError(f"object store read of an index root failed: {e}") from e
            if got is UNCHANGED:
                assert cached is not None
                root = cached
            elif got is None:
                root = EMPTY_ROOT
            else:
                root = Root.decode(*got)  # type: ignore[misc]
            out[s] = root
            with self._lock:
                self._roots[s] = root
                if s in frozen:
                    self._frozen.add(s)
        return out

    def groups(self, wanted: Sequence[tuple[str, bytes]]) -> dict[tuple[str, bytes], Group]:
        """Decoded group objects ``(space, group id)``, from the cache or fetched all at once."""
        out: dict[tuple[str, bytes], Group] = {}
        missing: list[tuple[str, bytes]] = []
        with self._lock:
            for w in wanted:
                g = self._groups.get(w)
                if g is None:
                    missing.append(w)
                else:
                    self._groups.move_to_end(w)
                    out[w] = g
        if not missing:
            return out
        missing = list(dict.fromkeys(missing))
        futures = self.objects.read_many([self.group_name(s, gid) for s, gid in missing])
        for w, fut in zip(missing, futures, strict=True):
            try:
                got = fut.result()
            except Exception as e:
                raise StorageError(f"object store read of an index group failed: {e}") from e
            if got is None:
                raise StorageError(f"index group {self.group_name(*w)} named by its root is missing")
            g = out[w] = decode_group(got[0])
            with self._lock:
                self._groups[w] = g
                self._cached_entries += len(g)
                while self._cached_entries > _GROUP_CACHE_ENTRIES and len(self._groups) > 1:
                    _, old = self._groups.popitem(last=False)
                    self._cached_entries -= len(old)
        return out

    def fetch(self, refs: Sequence[Ref]) -> Fetch:
        return Fetch(self, refs)

    # ---------------------------------------------------------------------------------- writes
    def begin(self, space: str) -> Transaction:
        return Transaction(self, space)

    def commit(self, space: str, changes: dict[bytes, dict[bytes, tuple[int, bytes, int, int, bytes | None]]]) -> None:
        """Merge ``changes`` (shard -> key -> entry) into the space and swap its root (CAS, retried)."""
        written: dict[bytes, tuple[bytes | None, bytes]] = {}  # shard -> (base group id, new group id)
        for attempt in range(100):
            root = self.roots([space])[space]
            todo = [s for s in changes if s not in written or written[s][0] != root.groups.get(s)]
            bases = self.groups([(space, root.groups[s]) for s in todo if s in root.groups])
            uploads = []
            for s in todo:
                base = root.groups.get(s)
                entries = bases[(space, base)].entries() if base is not None else {}
                for key, entry in changes[s].items():
                    if entry[0] == FORGET:
                        entries.pop(key, None)
                    else:
                        entries[key] = entry
                gid = new_id()
                uploads.append(self.objects.write(self.group_name(space, gid), encode_group(entries)))
                written[s] = (base, gid)
            try:
                for f in uploads:
                    f.result()
            except Exception as e:
                raise StorageError(f"object store write failed, nothing from this request is visible: {e}") from e
            new_groups = dict(root.groups)
            new_groups.update({s: gid for s, (_, gid) in written.items()})
            body = Root.encode(new_groups)
            try:
                etag = self.objects.write_if(self.root_name(space), body, root.etag)
            except Exception as e:
                raise StorageError(f"object store write of an index root failed: {e}") from e
            if etag is not None:
                with self._lock:
                    self._roots[space] = Root(new_groups, etag)
                return
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # another writer came first: re-merge
        raise StorageError(f"could not commit to {space}: too many concurrent writers")

    def spaces(self, space_prefix: str) -> list[str]:
        """Names of the non-empty spaces whose name starts with ``space_prefix`` + "/" (a LIST:
        maintenance only, e.g. copying every version of an instance)."""
        head = len(self.prefix) + 3
        return [o.name[head : -len("/root")] for o in self.objects.listing(self.space_dir(space_prefix))
                if o.name.endswith("/root")]

    def drop(self, space_prefix: str) -> int:
        """Delete every object of every space whose name starts with ``space_prefix`` + "/"."""
        names = [o.name for o in self.objects.listing(self.space_dir(space_prefix))]
        roots = [n for n in names if n.endswith("/root")]
        self.objects.delete(roots)  # first the roots: the spaces are empty from here on
        self.objects.delete([n for n in names if not n.endswith("/root")])
        with self._lock:
            for s in [s for s in self._roots if s.startswith(space_prefix + "/")]:
                del self._roots[s]
                self._frozen.discard(s)
        return len(names)

    # -------------------------------------------------------------------------------- maintenance
    def referenced(self) -> set[str]:
        """Names of every object some current root reaches (roots, their groups, their packs)."""
        live: set[str] = set()
        names = [o.name for o in self.objects.listing(f"{self.prefix}/x/") if o.name.endswith("/root")]
        for name in names:
            space = name[len(self.prefix) + 3 : -len("/root")]
            got = self.objects.read(name)
            if got is None:
                continue
            live.add(name)
            root = Root.decode(*got)
            gids = list(root.groups.values())
            for gid in gids:
                live.add(self.group_name(space, gid))
            for g in self.groups([(space, gid) for gid in gids]).values():
                live.update(self.pack_name(space, p) for p, k in zip(g.packs, g.kinds, strict=True) if k == PACK)
        return live

    def collect_garbage(self, now: float | None = None) -> tuple[int, int]:
        """One mark-and-sweep pass: returns (objects deleted, objects marked as garbage).

        An object is deleted when this pass finds it unreferenced and an earlier pass, at least
        ``grace`` seconds ago, did too. Objects younger than ``grace`` are never marked (a commit
        in flight may be about to name them)."""
        now = time.time() if now is None else now
        marks_name = f"{self.prefix}/x-gc-marks"
        got = self.objects.read(marks_name)
        marks: dict[str, float] = json.loads(got[0]) if got else {}
        live = self.referenced()
        dead, new_marks = [], {}
        for o in self.objects.listing(f"{self.prefix}/x/"):
            if o.name in live or o.modified > now - self.grace:
                continue
            first = marks.get(o.name, now)
            if first <= now - self.grace:
                dead.append(o.name)
            else:
                new_marks[o.name] = first
        self.objects.delete(dead)
        self.objects.write(marks_name, json.dumps(new_marks).encode()).result()
        return len(dead), len(new_marks)

    def start_collector(self, name: str) -> threading.Event:
        """Run ``collect_garbage`` every ``gc_interval`` seconds on a daemon thread (the serving
        main process of each front end does; concurrent collectors are safe). Set the returned
        event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.gc_interval):
                t0 = time.monotonic()
                try:
                    deleted, marked = self.collect_garbage()
                except Exception as e:  # an unreachable store: try again next time
                    log.warning("garbage collection of %s failed: %s", name, e)
                    continue
                log.info("garbage collection of %s: %d objects deleted, %d marked, %.1f s",
                         name, deleted, marked, time.monotonic() - t0)

        if self.gc_interval > 0:
            threading.Thread(target=loop, name=f"gc {name}", daemon=True).start()
        return stop

