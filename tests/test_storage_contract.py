"""The engine contract (``dvid.storage.testing.EngineContract``) run on every engine: memory, LMDB,
and S3 on a real SeaweedFS; plus each engine's own failure modes and options."""

import subprocess
import sys
import uuid

import pytest

from dvid import storage
from dvid.storage.base import StorageError
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine
from dvid.storage.testing import EngineContract

pytest_plugins = ["seaweed"]


def _opener(make):
    """A factory fixture's body: ``make()`` opens the store; everything opened is closed afterwards."""
    opened = []

    def opener():
        opened.append(make())
        return opened[-1]

    return opener, opened


def _close_all(opened):
    for e in opened:
        try:
            e.close()
        except Exception:
            pass


class TestMemory(EngineContract):
    persistent = False

    @pytest.fixture
    def factory(self):
        mem = MemoryEngine()
        yield lambda: mem


class TestLMDB(EngineContract):
    isolated_snapshots = True

    @pytest.fixture
    def factory(self, tmp_path):
        opener, opened = _opener(lambda: LMDBEngine(tmp_path / "db", map_size=1 << 28))
        yield opener
        _close_all(opened)

    def test_failing_batch_writes_nothing(self, factory, monkeypatch):
        import lmdb

        e = factory()
        e.put(b"keep", b"old")

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

    def test_sync_option(self, tmp_path):
        """``[store.x] sync = false`` opens LMDB without per-commit fsync; data still survives a reopen
        (the OS page cache is flushed on close); a non-boolean value is refused clearly."""
        e = storage.open_engine("lmdb", {"path": str(tmp_path / "db"), "sync": False, "map_size": 1 << 28})
        assert "sync off" in e.description
        e.write(puts=[(b"k", b"v")])
        e.close()
        e = storage.open_engine("lmdb", {"path": str(tmp_path / "db"), "map_size": 1 << 28})
        assert e.get(b"k") == b"v" and "sync off" not in e.description
        e.close()
        with pytest.raises(StorageError, match="sync must be true or false"):
            storage.open_engine("lmdb", {"path": str(tmp_path / "db"), "sync": "no"})


class TestS3(EngineContract):
    long_scan_keys = 2100  # > 2 S3 list pages, fewer objects to write

    @pytest.fixture
    def factory(self, seaweed):
        from dvid.storage.s3 import S3Engine

        prefix = uuid.uuid4().hex
        opener, opened = _opener(lambda: S3Engine(**seaweed.options("contract", prefix)))
        yield opener
        _close_all(opened)

    def test_crash_after_manifest_rolls_forward(self, factory, monkeypatch):
        """A crash after the write-ahead manifest is stored is rolled forward on the next open."""
        import obstore as obs

        from dvid.storage import s3 as s3mod

        e = factory()
        e.put(b"keep", b"old")
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

    def test_options_and_environment(self, seaweed, monkeypatch):
        """Credentials and endpoint may come from the AWS_* environment (obstore reads it); a
        misspelt option is an error, not a silent default."""
        o = seaweed.options("contract", uuid.uuid4().hex)
        with pytest.raises(StorageError, match="unknown S3 store option"):
            storage.open_engine("s3", {**o, "endpiont": o["endpoint"]})
        with pytest.raises(StorageError, match="needs bucket"):
            storage.open_engine("s3", {"prefix": "x"})
        monkeypatch.setenv("AWS_ENDPOINT_URL", o["endpoint"])
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", o["access_key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", o["secret_key"])
        monkeypatch.setenv("AWS_REGION", o["region"])
        e = storage.open_engine("s3", {"bucket": o["bucket"], "prefix": o["prefix"]})
        try:
            e.put(b"env", b"ok")
            assert e.get(b"env") == b"ok" and o["endpoint"] in e.description
        finally:
            e.close()


def test_registry_opens_engines_by_name(tmp_path):
    assert storage.available()[0] == "lmdb" and {"memory", "s3"} <= set(storage.available())
    e = storage.open_engine("memory", {})
    e.put(b"a", b"1")
    assert e.get(b"a") == b"1"
    with pytest.raises(StorageError, match=r"unknown storage engine 'badger' \(available: lmdb, memory, s3"):
        storage.open_engine("badger", {})  # DVID's names are mapped to lmdb by the config loader only
    with pytest.raises(StorageError, match="unknown LMDB store option"):
        storage.open_engine("lmdb", {"path": str(tmp_path / "db"), "mapsize": 1})
    about = subprocess.run([sys.executable, "-m", "dvid.cli.main", "about"], capture_output=True, text=True, timeout=60)
    assert "lmdb (default), memory, s3" in about.stdout


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
