"""The versioned view over the in-memory and LMDB engines: ancestry walk, tombstones, merges."""

import pytest

from dvid.datastore import keys
from dvid.datastore.view import Ancestry, MergeConflict, VersionedView
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine


@pytest.fixture(params=["memory", "lmdb"])
def store(request, tmp_path):
    eng = MemoryEngine() if request.param == "memory" else LMDBEngine(tmp_path / "db", map_size=1 << 26)
    yield eng
    eng.close()


def tk(i: int) -> bytes:
    return keys.tkey(23, keys.zyx_bytes(i, 0, 0))


def view(store, version, parents):
    return VersionedView(store, 7, Ancestry(version, parents))


def test_linear_chain_inherits_and_overrides(store):
    parents = {1: [], 2: [1], 3: [2]}
    view(store, 1, parents).write(puts=[(tk(0), b"a0"), (tk(1), b"a1")])
    view(store, 2, parents).write(puts=[(tk(1), b"b1")], deletes=[tk(0)])
    v3 = view(store, 3, parents)
    assert v3.get(tk(0)) is None
    assert v3.get(tk(1)) == b"b1"
    assert view(store, 1, parents).get(tk(0)) == b"a0"
    assert list(view(store, 1, parents).scan(tk(0), tk(9))) == [(tk(0), b"a0"), (tk(1), b"a1")]
    assert list(v3.scan(tk(0), tk(9))) == [(tk(1), b"b1")]
    # a put after a delete at the same version clears the tombstone
    view(store, 2, parents).put(tk(0), b"again")
    assert v3.get(tk(0)) == b"again"


def test_sibling_branches_are_isolated(store):
    parents = {1: [], 2: [1], 3: [1]}
    view(store, 2, parents).put(tk(5), b"left")
    assert view(store, 3, parents).get(tk(5)) is None
    assert view(store, 1, parents).get(tk(5)) is None


def test_merge_rules(store):
    # 1 -> 2, 1 -> 3, merge 4 of (2, 3)
    parents = {1: [], 2: [1], 3: [1], 4: [2, 3]}
    view(store, 1, parents).write(puts=[(tk(0), b"root0"), (tk(1), b"root1"), (tk(2), b"root2")])
    view(store, 2, parents).put(tk(0), b"left0")  # one side changed: wins over untouched ancestor
    view(store, 3, parents).delete(tk(1))  # a delete on one side also wins
    view(store, 2, parents).put(tk(3), b"L")
    view(store, 3, parents).put(tk(3), b"R")  # both sides changed: conflict
    m = view(store, 4, parents)
    assert m.get(tk(0)) == b"left0"
    assert m.get(tk(1)) is None
    assert m.get(tk(2)) == b"root2"
    with pytest.raises(MergeConflict):
        m.get(tk(3))


def test_key_order_is_signed_zyx():
    pts = [(-1, 0, 0), (0, 0, 0), (5, -3, 0), (0, 0, -2), (2, 1, 1)]
    ordered = sorted(pts, key=lambda p: keys.zyx_bytes(*p))
    assert ordered == sorted(pts, key=lambda p: (p[2], p[1], p[0]))
    for p in pts:
        assert keys.zyx_from_bytes(keys.zyx_bytes(*p)) == p
