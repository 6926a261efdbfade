"""The versioned view: get / scan / write of type-keys as seen from one version (core.md §3.3-3.4).

This is the only way datatypes touch storage. Writes go to the view's own version; reads walk the
ancestry: the nearest ancestor's entry wins, tombstones hide, and at a merge node the per-parent
answers are reconciled (a change on one side beats an untouched ancestor; changes on two sides of
the same key are a conflict, reported as a 400 by the datatype).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from dvid.datastore import keys
from dvid.errors import Conflict
from dvid.storage.base import Engine, Reader


class MergeConflict(Conflict):
    """Two parents of a merge hold different values for one key."""


class Ancestry:
    """The ancestors of one version, prepared so the hot path (a linear chain) is a dict lookup."""

    def __init__(self, version: int, parents: Mapping[int, Sequence[int]]) -> None:
        self.version = version
        order: list[int] = []
        seen: set[int] = set()
        queue = deque([version])
        linear = True
        while queue:
            v = queue.popleft()
            if v in seen:
                continue
            seen.add(v)
            order.append(v)
            ps = parents.get(v, ())
            if len(ps) > 1:
                linear = False
            queue.extend(ps)
        self.members: frozenset[int] = frozenset(seen)
        #: True when no merge node is an ancestor: the first present version in ``rank`` order wins.
        self.linear = linear
        # Only a merge walks parents again, and only those of members: keep just them, so a cached
        # ancestry does not hold on to a whole generation's parent map.
        self._parents = {} if linear else {v: tuple(parents.get(v, ())) for v in seen}
        self.rank: dict[int, int] = {v: i for i, v in enumerate(order)}
        self._anc_cache: dict[int, frozenset[int]] = {}

    def _ancestors(self, v: int) -> frozenset[int]:
        got = self._anc_cache.get(v)
        if got is None:
            acc: set[int] = set()
            stack = list(self._parents.get(v, ()))
            while stack:
                p = stack.pop()
                if p not in acc:
                    acc.add(p)
                    stack.extend(self._parents.get(p, ()))
            got = self._anc_cache[v] = frozenset(acc)
        return got

    def choose(self, present: Mapping[int, tuple[bool, bytes]], what: bytes = b"") -> bytes | None:
        """Given ``{version: (is_tombstone, value)}`` of one key, return the visible value or None."""
        if self.linear:
            best = None
            best_rank = 1 << 62
            for v, entry in present.items():
                r = self.rank.get(v)
                if r is not None and r < best_rank:
                    best, best_rank = entry, r
            if best is None or best[0]:
                return None
            return best[1]
        found = self._matches(self.version, present, {})
        found = {m for m in found if not any(m != o and m in self._ancestors(o) for o in found)}
        live = [m for m in found if not present[m][0]]
        if not live:
            return None
        if len(live) > 1:
            vs = ", ".join(str(v) for v in sorted(live))
            raise MergeConflict(f"found multiple kv for key {what.hex()} among parents: versions {vs}")
        return present[live[0]][1]

    def _matches(self, v: int, present: Mapping[int, object], memo: dict[int, frozenset[int]]) -> frozenset[int]:
        if v in memo:
            return memo[v]
        if v in present:
            res = frozenset((v,))
        else:
            ps = self._parents.get(v, ())
            acc: set[int] = set()
            for p in ps:
                acc |= self._matches(p, present, memo)
            res = frozenset(acc)
        memo[v] = res
        return res


class VersionedView:
    """Reads and writes of one data instance at one version.

    ``tkey`` arguments are type-keys built with ``dvid.datastore.keys.tkey``. Ranges are half-open
    in type-key order. Unversioned instances get a view at the repo root version with an ancestry
    of just that version.
    """

    def __init__(self, store: Engine, instance_id: int, ancestry: Ancestry, *, reader: Reader | None = None) -> None:
        self.store = store
        #: where reads go: the engine, or one read snapshot of it (``snapshot()``)
        self.reader: Reader = store if reader is None else reader
        self.instance_id = instance_id
        self.ancestry = ancestry
        self.version = ancestry.version
        self._prefix = keys.instance_prefix(instance_id)
        self._plen = len(self._prefix)

    # ----------------------------------------------------------------------------------------- reads
    def get(self, tk: bytes) -> bytes | None:
        """The value of ``tk`` visible at this version, or None."""
        base = self._prefix + tk
        present: dict[int, tuple[bool, bytes]] = {}
        want = len(base) + keys.SUFFIX_LEN
        for k, v in self.reader.scan(base, base + b"\xff" * (keys.SUFFIX_LEN + 1)):
            if len(k) != want:
                continue
            _, version, tomb = keys.split_data_key(k, self._plen)
            present[version] = (tomb, v)
        if not present:
            return None
        return self.ancestry.choose(present, tk)

    def get_many(self, tks: Sequence[bytes]) -> list[bytes | None]:
        return [self.get(t) for t in tks]

    def scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(tkey, value)`` of every key in ``[start, end)`` that has a value visible here."""
        if self.ancestry.linear:
            return self._scan_linear(start, end)
        return self._scan_general(start, end)

    def _scan_linear(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        """The hot path: no merge among the ancestors, so the nearest version present wins."""
        plen = self._plen
        rank = self.ancestry.rank
        big = 1 << 62
        cur_tk: bytes | None = None
        best: bytes | None = None
        best_rank = big
        tomb_marker, suffix, at_version, at_marker = keys.MARKER_TOMBSTONE, -keys.SUFFIX_LEN, keys.KEY_VERSION, \
            keys.KEY_MARKER
        for k, v in self.reader.scan(self._prefix + start, self._prefix + end):
            tk = k[plen:suffix]
            if tk != cur_tk:
                if best is not None:
                    yield cur_tk, best  # type: ignore[misc]
                cur_tk, best, best_rank = tk, None, big
            r = rank.get(int.from_bytes(k[at_version], "big"))
            if r is not None and r < best_rank:
                best_rank = r
                best = None if k[at_marker] == tomb_marker else v
        if best is not None:
            yield cur_tk, best  # type: ignore[misc]

    def _scan_general(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        plen = self._plen
        choose = self.ancestry.choose
        cur_tk: bytes | None = None
        present: dict[int, tuple[bool, bytes]] = {}
        members = self.ancestry.members
        for k, v in self.reader.scan(self._prefix + start, self._prefix + end):
            tk, version, tomb = keys.split_data_key(k, plen)
            if tk != cur_tk:
                if present:
                    val = choose(present, cur_tk or b"")
                    if val is not None:
                        yield cur_tk, val  # type: ignore[misc]
                    present = {}
                cur_tk = tk
            if version in members:
                present[version] = (tomb, v)
        if present:
            val = choose(present, cur_tk or b"")
            if val is not None:
                yield cur_tk, val  # type: ignore[misc]

    def scan_ranges(self, ranges: Sequence[tuple[bytes, bytes]]) -> Sequence[Iterable[tuple[bytes, bytes]]]:
        """``scan`` of each range, as a sequence: ``result[i]`` is range i's ``(tkey, value)``s.

        How a request reads many rows of blocks: a view over an object store resolves and
        requests every range's values at once (one round of parallel GETs, not one per row), so
        index in increasing order. Here, on an ordered engine, ``result[i]`` is a plain ``scan``
        made when asked for (skipped ranges cost nothing): exactly as fast as calling ``scan``.
        """
        return _LazyScans(self, ranges)

    def keys(self, start: bytes, end: bytes) -> Iterator[bytes]:
        """Type-keys in ``[start, end)`` with a value visible here."""
        for tk, _ in self.scan(start, end):
            yield tk

    def entries(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, int, bool, bytes]]:
        """Every stored ``(tkey, version, is_tombstone, value)`` in ``[start, end)`` at this version
        or an ancestor, unresolved. For bookkeeping keys that exactly one version ever writes (each
        has a unique type-key), where the caller must know whose entry it sees."""
        plen = self._plen
        members = self.ancestry.members
        for k, v in self.reader.scan(self._prefix + start, self._prefix + end):
            tk, version, tomb = keys.split_data_key(k, plen)
            if version in members:
                yield tk, version, tomb, v

    def snapshot(self) -> AbstractContextManager[VersionedView]:
        """A read-only view on one consistent snapshot of the store, for a request's many scans.

        On LMDB its values are zero-copy buffers into the map, valid only inside the ``with``
        block: decode them there, never keep them.
        """
        return _SnapshotView(self)

    # ---------------------------------------------------------------------------------------- writes
    def write(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = (),
              forget: Iterable[bytes] = ()) -> None:
        """Atomically store ``puts`` and delete ``deletes`` at this version.

        A put also clears this version's tombstone; a delete removes this version's value and writes
        a tombstone, never touching ancestors' values (they may belong to locked versions).
        ``forget`` removes this version's own entries of those keys and leaves no tombstone (see
        ``forget``), in the same batch.
        """
        store_puts, store_dels = self.ops(puts, deletes, forget)
        self.store.write(puts=store_puts, deletes=store_dels)

    @property
    def shares_batches(self) -> bool:
        """Whether ``ops`` describes this view's writes, so the changes of several views of one
        store can go out in one ``Engine.write`` (views over other layouts override ``write``)."""
        return type(self).write is VersionedView.write

    def ops(self, puts: Iterable[tuple[bytes, bytes]] = (), deletes: Iterable[bytes] = (),
            forget: Iterable[bytes] = ()) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
        """The storage puts and deletes ``write`` would apply, for a caller that commits the
        changes of several instances (or versions) in one batch."""
        iid, ver = self.instance_id, self.version
        store_puts: list[tuple[bytes, bytes]] = []
        store_dels: list[bytes] = [k for tk in forget for k in (keys.data_key(iid, tk, ver),
                                                                keys.data_key(iid, tk, ver, tombstone=True))]
        for tk in deletes:
            store_dels.append(keys.data_key(iid, tk, ver))
            store_puts.append((keys.data_key(iid, tk, ver, tombstone=True), b""))
        for tk, value in puts:
            store_dels.append(keys.data_key(iid, tk, ver, tombstone=True))
            store_puts.append((keys.data_key(iid, tk, ver), value))
        # A key both deleted and put in one batch ends up put: puts are applied after deletes.
        put_keys = {k for k, _ in store_puts}
        return store_puts, [k for k in store_dels if k not in put_keys]

    def forget(self, tks: Iterable[bytes]) -> None:
        """Physically remove this version's own entries (value and tombstone) of ``tks``, leaving
        no tombstone behind: for bookkeeping keys no other version holds."""
        self.write(forget=tks)

    def write_batches(self, batches: Iterable[Sequence[tuple[bytes, bytes | memoryview]]]) -> None:
        """Store a stream of batches of ``(tkey, value)`` puts, each batch atomically (on ordered
        engines; memory stays at one batch). A view over an object store commits the whole
        stream at once, uploading as the batches come."""
        for batch in batches:
            if batch:
                self.write(puts=batch)  # type: ignore[arg-type]

    def put(self, tk: bytes, value: bytes) -> None:
        self.write(puts=[(tk, value)])

    def delete(self, tk: bytes) -> None:
        self.write(deletes=[tk])

    def delete_range(self, start: bytes, end: bytes) -> int:
        """Tombstone every key visible in ``[start, end)``; returns how many."""
        tks = list(self.keys(start, end))
        if tks:
            self.write(deletes=tks)
        return len(tks)


class _LazyScans(Sequence[Iterable[tuple[bytes, bytes]]]):
    def __init__(self, view: VersionedView, ranges: Sequence[tuple[bytes, bytes]]) -> None:
        self._view, self._ranges = view, ranges

    def __len__(self) -> int:
        return len(self._ranges)

    def __getitem__(self, i):  # type: ignore[override]
        return self._view.scan(*self._ranges[i])


class _SnapshotView(AbstractContextManager):
    """``VersionedView.snapshot()``: a plain context manager (no generator frame), because every
    block request opens one."""

    __slots__ = ("_view", "_cm")

    def __init__(self, view: VersionedView) -> None:
        self._view = view
        self._cm: AbstractContextManager[Reader] | None = None

    def __enter__(self) -> VersionedView:
        v = self._view
        self._cm = cm = v.store.snapshot()
        snap = object.__new__(type(v))  # the same view, reading from the snapshot
        snap.__dict__.update(v.__dict__)
        snap.reader = cm.__enter__()
        return snap

    def __exit__(self, *exc: Any) -> None:
        cm, self._cm = self._cm, None
        if cm is not None:
            cm.__exit__(*exc)
