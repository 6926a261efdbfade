"""The indexed view (object-store layout) keeps every rule of the ordered-key view: a model-based
test runs random writes, deletes, forgets, commits, branches and merges against both and compares
every read (get, get_many, scan, scan_ranges, entries, keys, delete_range), merge conflicts included; plus the
layout's own guarantees (atomic commits, concurrent writers, frozen caching, garbage collection)."""

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvid.datastore import keys
from dvid.datastore.indexed_view import IndexedView, row_shards, shard_of
from dvid.datastore.view import Ancestry, MergeConflict, VersionedView
from dvid.datastore.views import view_for
from dvid.storage.base import StorageError
from dvid.storage.indexed import IndexedStore
from dvid.storage.memory import MemoryEngine
from dvid.storage.objects import MemoryObjects

IID = 7


def btk(x: int, y: int = 0, z: int = 0) -> bytes:
    return keys.tkey(23, keys.zyx_bytes(x, y, z))


def row(x0: int, x1: int, y: int = 0, z: int = 0) -> tuple[bytes, bytes]:
    return btk(x0, y, z), btk(x1 + 1, y, z)


SMALL = keys.tkey(24)  # a non-spatial key (like extents), stored inline
coords = st.tuples(st.integers(-20, 40), st.integers(-2, 2), st.integers(-2, 2))
values = st.one_of(st.binary(min_size=1, max_size=8), st.binary(min_size=300, max_size=600))
op = st.one_of(
    st.tuples(st.just("put"), st.lists(st.tuples(coords, values), min_size=1, max_size=12)),
    st.tuples(st.just("del"), st.lists(coords, min_size=1, max_size=6)),
    st.tuples(st.just("small"), values),
    st.tuples(st.just("delrange"), st.integers(-20, 40), st.integers(0, 30)),
    st.tuples(st.just("forget"), st.lists(coords, min_size=1, max_size=6)),
    st.tuples(st.just("branch"), st.integers(0, 50)),
    st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
)


class Pair:
    """The same DAG on both layouts; reads at any version must agree."""

    def __init__(self) -> None:
        self.kv = MemoryEngine()
        self.ix = MemoryEngine(layout="bricks")
        self.parents: dict[int, list[int]] = {1: []}
        self.open = {1}

    def views(self, v: int):
        anc = Ancestry(v, self.parents)
        frozen = [u for u in anc.members if u not in self.open]
        return VersionedView(self.kv, IID, anc), view_for(self.ix, IID, anc, frozen)

    def check(self, v: int) -> None:
        a, b = self.views(v)
        assert isinstance(b, IndexedView)
        ranges = [row(-20, 40, y, z) for z in (-2, 0, 2) for y in (-2, -1, 0, 1, 2)]
        got_a = _try(lambda: [[(k, bytes(x)) for k, x in r] for r in a.scan_ranges(ranges)])
        got_b = _try(lambda: [[(k, bytes(x)) for k, x in r] for r in b.scan_ranges(ranges)])
        assert got_a == got_b
        whole = (keys.tkey(0), keys.tkey(255))
        assert _try(lambda: [(k, bytes(x)) for k, x in a.scan(*whole)]) == \
            _try(lambda: [(k, bytes(x)) for k, x in b.scan(*whole)])
        probe = [btk(x, 0, 0) for x in range(-3, 8)] + [SMALL]
        assert _try(lambda: [bytes(x) if x is not None else None for x in a.get_many(probe)]) == \
            _try(lambda: [bytes(x) if x is not None else None for x in b.get_many(probe)])
        assert [(k, v, t, bytes(x)) for k, v, t, x in a.entries(*whole)] == \
            [(k, v, t, bytes(x)) for k, v, t, x in b.entries(*whole)]
        with b.snapshot() as snap:
            assert _try(lambda: [(k, bytes(x)) for k, x in snap.scan(*whole)]) == \
                _try(lambda: [(k, bytes(x)) for k, x in a.scan(*whole)])


def _try(fn):
    try:
        return fn()
    except MergeConflict:
        return "conflict"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=14))
def test_indexed_view_matches_ordered_view(ops):
    p = Pair()
    for o in ops:
        writable = sorted(p.open)
        v = writable[-1] if writable else None
        kind = o[0]
        if kind in ("put", "del", "small", "delrange", "forget") and v is None:
            continue
        if kind == "put":
            puts = [(btk(*c), val) for c, val in o[1]]
            for w in p.views(v):
                w.write(puts=puts)
        elif kind == "del":
            for w in p.views(v):
                w.write(deletes=[btk(*c) for c in o[1]])
        elif kind == "forget":
            for w in p.views(v):
                w.forget([btk(*c) for c in o[1]])
        elif kind == "small":
            for w in p.views(v):
                w.put(SMALL, o[1])
        elif kind == "delrange":
            span = row(o[1], o[1] + o[2])
            na, nb = (_try(lambda w=w, span=span: w.delete_range(*span)) for w in p.views(v))
            assert na == nb
        elif kind == "branch":  # commit a node and branch from it
            nodes = sorted(p.parents)
            parent = nodes[o[1] % len(nodes)]
            p.open.discard(parent)
            child = max(p.parents) + 1
            p.parents[child] = [parent]
            p.open.add(child)
        elif kind == "merge":
            nodes = sorted(n for n in p.parents if n not in p.open)
            if len(nodes) < 2:
                continue
            x, y = nodes[o[1] % len(nodes)], nodes[o[2] % len(nodes)]
            if x == y:
                continue
            child = max(p.parents) + 1
            p.parents[child] = [x, y]
            p.open.add(child)
        for u in sorted(p.parents):
            p.check(u)


def test_rows_touch_only_their_shards():
    a, b = row(0, 15)
    assert row_shards(a, b) == [shard_of(btk(0))]
    assert row_shards(*row(15, 16)) == [shard_of(btk(15)), shard_of(btk(16))]
    assert row_shards(btk(0), btk(5, 1)) is None  # not one row: every shard of the class is consulted
    end = btk(2**31 - 1) + b"\xff"
    assert len(row_shards(btk(2**31 - 17), end)) == 2


def test_a_commit_is_all_or_nothing_and_writers_never_lose_updates():
    eng = MemoryEngine(layout="bricks")
    anc = Ancestry(1, {1: []})
    v = view_for(eng, IID, anc)
    big = bytes(range(256)) * 4
    v.write_batches([[(btk(x, y, z), big) for z in range(8) for y in range(8) for x in range(8)]])
    assert len(list(v.scan(btk(0), btk(0, 0, 8)))) == 512

    def failing():
        yield btk(100), big
        raise RuntimeError("the client went away")

    with pytest.raises(RuntimeError):
        v.write_batches([failing()])
    assert v.get(btk(100)) is None  # the uploaded pack is garbage, never visible

    errors = []

    def writer(x0: int) -> None:
        try:
            w = view_for(eng, IID, anc)
            for i in range(10):
                w.put(btk(x0 + i, 9, 9), b"w%d" % (x0 + i))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(x0,)) for x0 in (0, 10, 20, 30)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    v = view_for(eng, IID, anc)  # a view serves one request: the next one sees every commit
    assert [k for k, _ in v.scan(*row(0, 39, 9, 9))] == [btk(x, 9, 9) for x in range(40)]


def test_frozen_indexes_are_cached_open_ones_revalidated():
    objects = MemoryObjects()
    writer_side = IndexedStore(objects, "p")
    reader_side = IndexedStore(objects, "p")  # a second front end on the same bucket
    eng = MemoryEngine()
    parents = {1: [], 2: [1]}
    w1 = IndexedView(eng, writer_side, IID, Ancestry(1, parents))
    w1.put(btk(0), b"a" * 400)
    def r2():  # a request's view on the second front end
        return IndexedView(eng, reader_side, IID, Ancestry(2, parents), frozen=[1])

    assert r2().get(btk(0)) == b"a" * 400
    IndexedView(eng, writer_side, IID, Ancestry(2, parents)).put(btk(1), b"b" * 400)
    assert r2().get(btk(1)) == b"b" * 400  # version 2 is open: seen by the next request
    calls = []
    real = objects.read_many
    objects.read_many = lambda names, etags=None: calls.append(list(names)) or real(names, etags)
    r2().get(btk(0))
    assert all(not n.endswith("00000001/root") for c in calls for n in c)  # frozen root: cached


def test_garbage_collection_never_deletes_what_a_version_can_see():
    objects = MemoryObjects()
    layout = IndexedStore(objects, "p", grace=60)
    eng = MemoryEngine()
    parents = {1: [], 2: [1]}
    v1 = IndexedView(eng, layout, IID, Ancestry(1, parents))
    v1.write_batches([[(btk(x), bytes([x]) * 1000) for x in range(8)]])
    v2 = IndexedView(eng, layout, IID, Ancestry(2, parents))
    for x in range(4):  # overwrite half at v2, several times: old packs and groups become garbage
        v2.write_batches([[(btk(i), bytes([x + 100]) * 1000) for i in range(4)]])
    before = len(list(objects.listing("p/x/")))
    t = time.time()
    assert layout.collect_garbage() == (0, 0)  # everything is younger than the grace period
    deleted, marked = layout.collect_garbage(now=t + 120)
    assert deleted == 0 and marked > 0  # first sighting only marks
    assert layout.collect_garbage(now=t + 150) == (0, marked)  # marked less than the grace period ago
    deleted, _ = layout.collect_garbage(now=t + 240)
    assert deleted == marked and len(list(objects.listing("p/x/"))) == before - deleted
    fresh = IndexedStore(objects, "p")  # nothing cached: everything comes from the bucket
    for v in (1, 2):
        got = dict(IndexedView(eng, fresh, IID, Ancestry(v, parents)).scan(btk(0), btk(8)))
        want = {btk(x): bytes([x if v == 1 or x >= 4 else 103]) * 1000 for x in range(8)}
        assert {k: bytes(x) for k, x in got.items()} == want


def test_a_slow_commit_is_refused_rather_than_racing_the_collector(monkeypatch):
    layout = IndexedStore(MemoryObjects(), "p", grace=10)
    tx = layout.begin("00000001/00000001")
    tx.pack([(shard_of(btk(0)), btk(0), b"x" * 1000)])
    import dvid.storage.indexed as ix

    t0 = ix.time.time()
    monkeypatch.setattr(ix.time, "time", lambda: t0 + 6)
    with pytest.raises(StorageError, match="grace"):
        tx.commit()
    assert layout.roots(["00000001/00000001"])["00000001/00000001"].etag is None
