"""The contract every storage engine must pass: memory, LMDB, and S3 on a real SeaweedFS."""

import threading
import uuid

import pytest

from dvid.storage.base import StorageError
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine

pytest_plugins = ["seaweed"]


@pytest.fixture(params=["memory", "lmdb", "s3"])
def factory(request, tmp_path):
    """A function that opens (or reopens) the same store."""
    opened = []
    if request.param == "memory":
        mem = MemoryEngine()

        def make():
            return mem
    elif request.param == "lmdb":

        def make():
            return LMDBEngine(tmp_path / "db", map_size=1 << 28)
    else:
        sw = request.getfixturevalue("seaweed")
        from dvid.storage.s3 import S3Engine

        prefix = uuid.uuid4().hex

        def make():
            return S3Engine(**sw.options("contract", prefix))

    def opener():
        e = make()
        opened.append(e)
        return e

    opener.kind = request.param
    yield opener
    for e in opened:
        try:
            e.close()
        except Exception:
            pass


def test_byte_order_and_ranges(factory):
    e = factory()
    ks = [b"", b"\x00", b"\x00\x00", b"\x00\xff", b"\x01", b"\x01\x00", b"a", b"ab", b"b", b"\xff", b"\xff\xff"]
    ks = [k for k in ks if k]  # the empty key is not a key
    e.write(puts=[(k, k + b"!") for k in reversed(ks)])
    assert [k for k, _ in e.scan(b"\x00", b"\xff\xff\xff")] == sorted(ks)
    assert [k for k, _ in e.scan(b"\x00\xff", b"ab")] == [b"\x00\xff", b"\x01", b"\x01\x00", b"a"]
    assert list(e.scan(b"c", b"c")) == [] and list(e.scan(b"z", b"a")) == []
    assert dict(e.scan(b"a", b"b")) == {b"a": b"a!", b"ab": b"ab!"}
    assert [k for k, v in e.scan(b"a", b"c", keys_only=True)] == [b"a", b"ab", b"b"]
    assert e.get(b"ab") == b"ab!" and e.get(b"nope") is None
    assert e.get_many([b"b", b"nope", b"a"]) == [b"b!", None, b"a!"]


def test_long_scans_cross_chunks(factory):
    e = factory()
    n = 2500 if factory.kind != "s3" else 2100  # > 2048 (LMDB chunk) and > 2 S3 list pages
    e.write(puts=[(b"k" + i.to_bytes(4, "big"), i.to_bytes(4, "big")) for i in range(n)])
    got = list(e.scan(b"k", b"l"))
    assert len(got) == n and [int.from_bytes(v, "big") for _, v in got] == list(range(n))
    assert len(list(e.scan(b"k" + (100).to_bytes(4, "big"), b"k" + (2100).to_bytes(4, "big")))) == min(n, 2100) - 100


def test_batches_delete_before_put_and_delete_range(factory):
    e = factory()
    e.write(puts=[(b"x1", b"1"), (b"x2", b"2"), (b"x3", b"3")])
    e.write(puts=[(b"x2", b"new")], deletes=[b"x1", b"x2"])
    assert e.get(b"x1") is None and e.get(b"x2") == b"new"
    assert e.delete_range(b"x", b"y") == 2 and list(e.scan(b"x", b"y")) == []


def test_failing_batch_writes_nothing(factory, monkeypatch):
    if factory.kind == "memory":
        pytest.skip("the memory engine has no failure mode to inject")
    e = factory()
    e.put(b"keep", b"old")
    if factory.kind == "lmdb":
        import lmdb

        class Boom:
            def __init__(self, txn):
                self.txn = txn

            def put(self, k, v):
                if k == b"boom":
                    raise lmdb.Error("injected failure")
                return self.txn.put(k, v)

            def delete(self, k):
                return self.txn.delete(k)

        real_begin = e._env.begin

        class Ctx:
            def __init__(self, **kw):
                self.cm = real_begin(**kw)

            def __enter__(self):
                return Boom(self.cm.__enter__())

            def __exit__(self, *a):
                return self.cm.__exit__(*a)

        monkeypatch.setattr(e, "_env", type("E", (), {"begin": lambda self, **kw: Ctx(**kw)})())
        with pytest.raises(StorageError):
            e.write(puts=[(b"keep", b"new"), (b"a", b"1"), (b"boom", b"x")])
        monkeypatch.undo()
        assert e.get(b"keep") == b"old" and e.get(b"a") is None
    else:  # S3: a crash after the manifest is stored is rolled forward on the next open
        import obstore as obs

        from dvid.storage import s3 as s3mod

        calls = []

        async def crash(self, puts, deletes):
            calls.append(1)
            raise RuntimeError("injected crash")

        monkeypatch.setattr(s3mod.S3Engine, "_apply", crash)
        with pytest.raises(StorageError):
            e.write(puts=[(b"keep", b"new"), (b"a", b"1")])
        monkeypatch.undo()
        assert calls and e.get(b"a") is None  # nothing applied yet ...
        assert list(obs.list(e._store, prefix=f"{e.prefix}/wal/"))  # ... but the manifest is there
        e2 = factory()  # reopening rolls the batch forward: all of it, never part
        assert e2.get(b"keep") == b"new" and e2.get(b"a") == b"1"


def test_compare_and_set(factory):
    e = factory()
    assert e.compare_and_set(b"m", None, b"v1")
    assert not e.compare_and_set(b"m", None, b"v2")
    assert not e.compare_and_set(b"m", b"wrong", b"v2")
    assert e.compare_and_set(b"m", b"v1", b"v2") and e.get(b"m") == b"v2"
    assert e.compare_and_set(b"m", b"v2", None) and e.get(b"m") is None


def test_concurrent_cas_never_loses_updates(factory):
    e = factory()
    e.put(b"ctr", b"0")

    def bump(n):
        for _ in range(n):
            while True:
                cur = e.get(b"ctr")
                if e.compare_and_set(b"ctr", cur, str(int(cur) + 1).encode()):
                    break

    ts = [threading.Thread(target=bump, args=(10,)) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert e.get(b"ctr") == b"30"


def test_reopen_sees_data(factory):
    e = factory()
    e.write(puts=[(b"p%d" % i, b"v%d" % i) for i in range(10)])
    if factory.kind != "memory":
        e.close()
    e2 = factory()
    assert e2.get(b"p7") == b"v7" and len(list(e2.scan(b"p", b"q"))) == 10


def test_readers_while_writing(factory):
    e = factory()
    e.write(puts=[(b"r%03d" % i, b"A" * 100) for i in range(100)])
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            vals = {v for _, v in e.scan(b"r", b"s")}
            if not vals <= {b"A" * 100, b"B" * 100}:
                errors.append(vals)

    ts = [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    for i in range(0, 100, 10):
        e.write(puts=[(b"r%03d" % j, b"B" * 100) for j in range(i, i + 10)])
    stop.set()
    for t in ts:
        t.join()
    assert not errors and {v for _, v in e.scan(b"r", b"s")} == {b"B" * 100}


def test_seaweedfs_honours_conditional_put(seaweed):
    """The S3 compare_and_set relies on the server rejecting stale If-Match / If-None-Match PUTs."""
    import obstore as obs
    import obstore.exceptions as oe
    from obstore.store import S3Store

    o = seaweed.options("contract", "")
    st = S3Store(o["bucket"], endpoint=o["endpoint"], access_key_id=o["access_key"], secret_access_key=o["secret_key"],
                 region=o["region"], client_options={"allow_http": True})
    path = f"cond/{uuid.uuid4().hex}"
    first = obs.put(st, path, b"1", mode="create")
    with pytest.raises((FileExistsError, oe.AlreadyExistsError, oe.PreconditionError)):
        obs.put(st, path, b"2", mode="create")
    second = obs.put(st, path, b"2", mode={"e_tag": first["e_tag"]})
    with pytest.raises((oe.PreconditionError, FileExistsError)):
        obs.put(st, path, b"3", mode={"e_tag": first["e_tag"]})
    assert bytes(obs.get(st, path).bytes()) == b"2" and second["e_tag"] != first["e_tag"]


def test_snapshot_reads_match_and_refuse_writes(factory):
    """A read snapshot sees what scan/get see; held values stay valid inside the block; writes after
    the snapshot opened do not change what it sees (LMDB) or are at least readable (others)."""
    e = factory()
    items = [(b"s%03d" % i, bytes([i]) * (100 + i)) for i in range(50)]
    e.write(puts=items)
    with e.snapshot() as snap:
        held = list(snap.scan(b"s", b"t"))
        assert [(k, bytes(v)) for k, v in held] == items
        assert bytes(snap.get(b"s007")) == items[7][1] and snap.get(b"nope") is None
        assert [bytes(v) if v is not None else None for v in snap.get_many([b"s001", b"x"])] == [items[1][1], None]
        assert [k for k, _ in snap.scan(b"s010", b"s013", keys_only=True)] == [b"s010", b"s011", b"s012"]
        if factory.kind == "lmdb":
            with pytest.raises(StorageError):
                snap.write(puts=[(b"s000", b"x")])
            e.write(puts=[(b"s000", b"changed")])
            assert bytes(snap.get(b"s000")) == items[0][1]  # isolation: the snapshot is consistent
        assert [(k, bytes(v)) for k, v in held][1:] == items[1:]  # buffers still valid


def test_lmdb_sync_option(tmp_path):
    """``[store.x] sync = false`` opens LMDB without per-commit fsync; data still survives a reopen
    (the OS page cache is flushed on close); a non-boolean value is refused clearly."""
    from dvid.storage.base import open_engine

    e = open_engine("lmdb", {"path": str(tmp_path / "db"), "sync": False, "map_size": 1 << 28})
    assert "sync off" in e.description
    e.write(puts=[(b"k", b"v")])
    e.close()
    e = open_engine("lmdb", {"path": str(tmp_path / "db"), "map_size": 1 << 28})
    assert e.get(b"k") == b"v" and "sync off" not in e.description
    e.close()
    with pytest.raises(StorageError, match="sync must be true or false"):
        open_engine("lmdb", {"path": str(tmp_path / "db"), "sync": "no"})
