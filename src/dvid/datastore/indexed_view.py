"""The versioned view over the indexed layout of an object store (``dvid.storage.indexed``).

Same rules as ``VersionedView`` (nearest ancestor wins, tombstones hide, merges reconcile the
parents' answers and report conflicts), but where ``VersionedView`` finds a key's versions by an
ordered scan of ``(tkey, version)`` keys, this view asks each version's own index:

* one *space* per (instance, version), holding exactly the entries that version wrote: a value,
  or a tombstone. What a key scan saw at version v is what v's index holds, so ``Ancestry.choose``
  decides the same way on either.
* index shards of 16 × 16 × 16 blocks for type-keys whose payload is a (z, y, x) block coordinate
  (``keys.zyx_bytes``), one shard per type-key class for every other key. A row of blocks is
  looked up in the few shards that hold it, never by listing.
* values in packs of up to 4 × 4 × 4 blocks (a *brick*, ~2 MiB at 32³ uint8), so a 256³ read is
  about eight large GETs, all in flight at once (``scan_ranges``).

Indexes of frozen (locked) versions are cached by every process forever; those of open versions
are revalidated once per view, i.e. per request (one 304 per open version in the ancestry), and
again after the view's own write.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager

from dvid.datastore import keys
from dvid.datastore.view import Ancestry, VersionedView
from dvid.storage.base import Engine
from dvid.storage.indexed import INLINE, PACK, TOMBSTONE, Fetch, Group, IndexedStore, Ref, Root, Transaction

SHARD_SHIFT = 4  # index shards of 16³ blocks
BRICK_SHIFT = 2  # packs of 4³ blocks
PACK_BYTES = 8 << 20  # a brick larger than this (big blocks, uncompressed labels) is split into packs
HELD_BYTES = 256 << 20  # encoded values waiting for their brick to complete, at most
_SPATIAL_LEN = keys.TKEY_HEADER_LEN + 12
_ZYX = struct.Struct(">III")
_X_AT = keys.TKEY_HEADER_LEN + 8

# A resolved key: (tkey, inline value) or (tkey, index into the request's pack refs)
Item = tuple[bytes, "bytes | int"]


def space_of(instance_id: int, version: int) -> str:
    return f"{instance_id:08x}/{version:08x}"


def shard_of(tk: bytes) -> bytes:
    if len(tk) == _SPATIAL_LEN:
        z, y, x = _ZYX.unpack_from(tk, keys.TKEY_HEADER_LEN)
        return tk[: keys.TKEY_HEADER_LEN] + _ZYX.pack(z >> SHARD_SHIFT, y >> SHARD_SHIFT, x >> SHARD_SHIFT)
    return tk[:1]


def brick_of(tk: bytes) -> tuple[int, int, int] | None:
    if len(tk) != _SPATIAL_LEN:
        return None
    z, y, x = _ZYX.unpack_from(tk, keys.TKEY_HEADER_LEN)
    return z >> BRICK_SHIFT, y >> BRICK_SHIFT, x >> BRICK_SHIFT


def row_shards(start: bytes, end: bytes) -> list[bytes] | None:
    """The spatial shards a range within one (z, y) row of blocks can touch, or None if the range
    is not such a row (then every shard of the classes in range is consulted)."""
    if len(start) != _SPATIAL_LEN or len(end) < _SPATIAL_LEN or end[:_X_AT] != start[:_X_AT]:
        return None
    x0 = int.from_bytes(start[_X_AT:], "big")
    x1 = int.from_bytes(end[_X_AT:_SPATIAL_LEN], "big") + (1 if len(end) > _SPATIAL_LEN else 0)
    if x1 <= x0:
        return []
    z, y, _ = _ZYX.unpack_from(start, keys.TKEY_HEADER_LEN)
    head = start[: keys.TKEY_HEADER_LEN]
    zs, ys = z >> SHARD_SHIFT, y >> SHARD_SHIFT
    return [head + _ZYX.pack(zs, ys, sx) for sx in range(x0 >> SHARD_SHIFT, ((x1 - 1) >> SHARD_SHIFT) + 1)]


class IndexedView(VersionedView):
    """``VersionedView``'s interface and rules over an ``IndexedStore`` (see the module docstring)."""

    def __init__(self, store: Engine, layout: IndexedStore, instance_id: int, ancestry: Ancestry,
                 frozen: Collection[int] = (), *, roots: dict[int, Root] | None = None) -> None:
        super().__init__(store, instance_id, ancestry)
        self.layout = layout
        self.frozen = frozenset(frozen)
        self._fixed_roots = roots  # a snapshot's: never revalidated
        self._seen: dict[int, Root] | None = None  # revalidated once per view (a view serves one request)
        self._order = sorted(ancestry.members, key=ancestry.rank.__getitem__)  # nearest first
        self._space = {v: space_of(instance_id, v) for v in self._order}

    # ------------------------------------------------------------------------------- resolution
    def _roots(self) -> dict[int, Root]:
        if self._fixed_roots is not None:
            return self._fixed_roots
        if self._seen is None:
            frozen = [self._space[v] for v in self._order if v in self.frozen]
            got = self.layout.roots([self._space[v] for v in self._order], frozen)
            self._seen = {v: got[self._space[v]] for v in self._order}
        return self._seen

    def _commit(self, tx: Transaction) -> None:
        tx.commit()
        self._seen = None  # this view's next read sees its own write

    def _groups(self, roots: dict[int, Root], shards: Iterable[bytes]) -> dict[tuple[int, bytes], Group]:
        want = [(v, s) for s in dict.fromkeys(shards) for v in self._order if s in roots[v].groups]
        got = self.layout.groups([(self._space[v], roots[v].groups[s]) for v, s in want])
        return {(v, s): got[(self._space[v], roots[v].groups[s])] for v, s in want}

    def _shards_for(self, roots: dict[int, Root], start: bytes, end: bytes) -> list[bytes]:
        row = row_shards(start, end)
        present: set[bytes] = set()
        for r in roots.values():
            present.update(r.groups)
        if row is not None:
            cand = row + [start[:1]]
            return [s for s in cand if s in present]
        lo, hi = start[:1], end[:1]
        return sorted(s for s in present if lo <= s[:1] <= hi)

    def _resolve(self, roots: dict[int, Root], ranges: Sequence[tuple[bytes, bytes]]
                 ) -> list[list[tuple[bytes, int, Group, int]]]:
        """For each range, the visible entries ``(tkey, version, group, index)`` in key order."""
        shards_per = [self._shards_for(roots, a, b) for a, b in ranges]
        groups = self._groups(roots, (s for ss in shards_per for s in ss))
        out = []
        linear = self.ancestry.linear
        for (start, end), shards in zip(ranges, shards_per, strict=True):
            gs = [(v, groups[(v, s)]) for v in self._order for s in shards if (v, s) in groups]
            if linear:
                chosen: dict[bytes, tuple[int, Group, int]] = {}
                for v, g in gs:  # nearest version first: the first entry seen for a key wins
                    gkeys = g.keys
                    for i in g.span(start, end):
                        chosen.setdefault(gkeys[i], (v, g, i))
                items = [(k, v, g, i) for k, (v, g, i) in chosen.items() if g.kinds[i] != TOMBSTONE]
            else:
                present: dict[bytes, dict[int, tuple[bool, tuple[int, Group, int]]]] = {}
                for v, g in gs:
                    for i in g.span(start, end):
                        present.setdefault(g.keys[i], {})[v] = (g.kinds[i] == TOMBSTONE, (v, g, i))
                items = []
                for k, per_version in present.items():
                    won = self.ancestry.choose(per_version, k)  # type: ignore[arg-type]
                    if won is not None:
                        items.append((k, *won))  # type: ignore[arg-type]
            items.sort(key=lambda t: t[0])
            out.append(items)
        return out

    def _read(self, ranges: Sequence[tuple[bytes, bytes]]) -> _Scans:
        """Resolve every range, request every pack value of all of them at once, then yield each
        range's ``(tkey, value)`` list as its values arrive."""
        resolved = self._resolve(self._roots(), ranges)
        refs: list[Ref] = []
        plans: list[list[Item]] = []
        for items in resolved:
            plan: list[Item] = []
            for k, v, g, i in items:
                if g.kinds[i] == PACK:
                    plan.append((k, len(refs)))
                    refs.append(Ref(self._space[v], g.packs[i], g.offsets[i], g.lengths[i]))
                else:
                    assert g.kinds[i] == INLINE
                    plan.append((k, g.inline[i] or b""))
            plans.append(plan)
        return _Scans(plans, self.layout.fetch(refs) if refs else None)

    # ------------------------------------------------------------------------------------ reads
    def get(self, tk: bytes) -> bytes | None:
        return self.get_many([tk])[0]

    def get_many(self, tks: Sequence[bytes]) -> list[bytes | None]:
        scans = self._read([(t, t + b"\x00") for t in tks])
        got = {k: v for i in range(len(tks)) for k, v in scans[i]}
        return [got.get(bytes(t)) for t in tks]  # type: ignore[misc]

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        yield from self._read([(start, end)])[0]  # type: ignore[misc]

    def scan_ranges(self, ranges: Sequence[tuple[bytes, bytes]]) -> Sequence[Iterable[tuple[bytes, bytes]]]:
        return self._read(ranges)  # type: ignore[return-value]

    def keys(self, start: bytes, end: bytes) -> Iterator[bytes]:
        return iter([k for k, _, _, _ in self._resolve(self._roots(), [(start, end)])[0]])

    def entries(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, int, bool, bytes]]:
        """Every stored ``(tkey, version, is_tombstone, value)`` in ``[start, end)`` at this version
        or an ancestor, unresolved, in (tkey, version) order (as ``VersionedView.entries``)."""
        roots = self._roots()
        groups = self._groups(roots, self._shards_for(roots, start, end))
        found = sorted(((g.keys[i], v, g, i) for (v, _), g in groups.items() for i in g.span(start, end)),
                       key=lambda t: (t[0], t[1]))
        refs = [Ref(self._space[v], g.packs[i], g.offsets[i], g.lengths[i]) for _, v, g, i in found
                if g.kinds[i] == PACK]
        fetch = self.layout.fetch(refs) if refs else None
        n = 0
        for k, v, g, i in found:
            kind = g.kinds[i]
            if kind == PACK:
                assert fetch is not None
                yield k, v, False, fetch.value(n)  # type: ignore[misc]
                n += 1
            else:
                yield k, v, kind == TOMBSTONE, g.inline[i] or b""

    @contextmanager
    def snapshot(self) -> Iterator[VersionedView]:
        """A view whose indexes are fixed when it opens: every read inside sees one state."""
        yield IndexedView(self.store, self.layout, self.instance_id, self.ancestry, self.frozen, roots=self._roots())

    # ----------------------------------------------------------------------------------- writes
    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = ()) -> None:
        """Atomically store ``puts`` and tombstone ``deletes`` at this version (one commit)."""
        self.write_batches([list(puts)], deletes=list(deletes))

    def forget(self, tks: Iterable[bytes]) -> None:
        tx = self.layout.begin(space_of(self.instance_id, self.version))
        for tk in tks:
            tx.forget(shard_of(tk), bytes(tk))
        self._commit(tx)

    def write_batches(self, batches: Iterable[Sequence[tuple[bytes, bytes | memoryview]]], *,
                      deletes: Iterable[bytes] = ()) -> None:
        """Store every batch in ONE atomic commit (``deletes`` become tombstones first). Packs
        upload while batches still arrive: once a z-ordered stream has moved past a brick, its pack
        goes out, so encoding and uploading overlap."""
        tx = self.layout.begin(space_of(self.instance_id, self.version))
        for tk in deletes:
            tx.delete(shard_of(tk), bytes(tk))
        bricks: dict[tuple[int, int, int] | None, list[tuple[bytes, bytes, bytes | memoryview, int]]] = {}
        sizes: dict[tuple[int, int, int] | None, int] = {}
        latest: dict[bytes, int] = {}  # a key put twice: the later value wins, as on every engine
        held = 0
        zmax = -1
        n = 0

        def flush(b: tuple[int, int, int] | None) -> None:
            nonlocal held
            held -= sizes.pop(b)
            tx.pack([(s, k, v) for s, k, v, i in bricks.pop(b) if latest[k] == i])

        for tk, value in (item for batch in batches for item in batch):
            tk = bytes(tk)
            n += 1
            latest[tk] = n
            shard = shard_of(tk)
            if tx.put(shard, tk, value):
                continue
            b = brick_of(tk)
            if b is not None and b[0] > zmax:
                for old in [o for o in bricks if o is not None and o[0] < b[0]]:
                    flush(old)  # a z-ordered stream has finished this brick
                zmax = b[0]
            bricks.setdefault(b, []).append((shard, tk, value, n))
            sizes[b] = sizes.get(b, 0) + len(value)
            held += len(value)
            if sizes[b] >= PACK_BYTES:
                flush(b)
            elif held > HELD_BYTES:  # an unordered or very wide stream: bound memory, lose some locality
                for old in list(bricks):
                    flush(old)
        for b in list(bricks):
            flush(b)
        self._commit(tx)

    def delete_range(self, start: bytes, end: bytes) -> int:
        tks = list(self.keys(start, end))
        if tks:
            self.write(deletes=tks)
        return len(tks)


class _Scans(Sequence[list[tuple[bytes, "bytes | memoryview"]]]):
    """``scan_ranges``' answer: range i's ``(tkey, value)`` list, waiting only for its own packs."""

    def __init__(self, plans: list[list[Item]], fetch: Fetch | None) -> None:
        self._plans, self._fetch = plans, fetch

    def __len__(self) -> int:
        return len(self._plans)

    def __getitem__(self, i):  # type: ignore[override]
        fetch = self._fetch
        return [(k, fetch.value(v) if isinstance(v, int) and fetch is not None else v) for k, v in self._plans[i]]
