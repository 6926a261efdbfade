"""Metadata format 2: per-repo records under a generation record. A mutation writes only what it
changed, a handle that falls behind re-reads only what changed, a crash between the commit and the
record copies loses nothing, and a format-1 store (one JSON document) is migrated on open."""

import json
from pathlib import Path

import pytest

from datastore_fakes import TYPES, run_in_processes
from dvid.datastore import keys, records
from dvid.datastore.manager import Datastore
from dvid.datastore.metadata import Metadata, _empty
from dvid.storage.base import StorageError
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine

FORMAT1 = json.loads((Path(__file__).parent / "data" / "metadata_format1.json").read_text())




class CasOnlyEngine(MemoryEngine):
    """A memory engine without the atomic ``compare_and_write``, as S3: commits carry their records
    in the generation record and copy them afterwards."""

    supports_compare_and_write = False


@pytest.fixture(params=["atomic", "cas-only"])
def make_engine(request):
    return MemoryEngine if request.param == "atomic" else CasOnlyEngine


class CountingEngine(CasOnlyEngine):
    """A memory engine that counts the keys read and written (its compare-and-set writes through
    ``write``)."""

    def __init__(self):
        super().__init__()
        self.reads = self.writes = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)

    def get_many(self, ks):
        self.reads += len(ks)
        return [super(CountingEngine, self).get(k) for k in ks]

    def scan(self, start, end, *, keys_only=False):
        for kv in super().scan(start, end, keys_only=keys_only):
            self.reads += 1
            yield kv

    def write(self, puts=(), deletes=()):
        puts, deletes = list(puts), list(deletes)
        self.writes += len(puts) + len(deletes)
        super().write(puts, deletes)


def chain(ds, root, n):
    """Commit and branch ``n`` new versions on master after ``root``; returns the head UUID."""
    head = root
    for _ in range(n):
        ds.commit(ds.resolve(head))
        head = ds.new_version(ds.resolve(head))
    return head


@pytest.mark.parametrize("atomic", [True, False])
def test_mutation_cost_does_not_grow_with_history(atomic):
    eng = CountingEngine()
    eng.supports_compare_and_write = atomic
    ds = Datastore(eng, TYPES)
    big = ds.new_repo("big").root
    head = chain(ds, big, 300)
    other = ds.new_repo("new").root
    reader = Datastore(eng, TYPES)
    for repo_root in (head, other):
        eng.reads = eng.writes = 0
        ds.commit(ds.resolve(repo_root))
        child = ds.new_version(ds.resolve(repo_root))
        # commit: the generation record + node + repo head; newversion: + child node + parent node
        assert eng.writes <= 8, eng.writes
        assert eng.reads <= 12, eng.reads
        eng.reads = 0
        reader.refresh()  # a handle one pair behind re-reads only what changed
        assert eng.reads <= 6, eng.reads
        assert reader.resolve(child).node.parents == [ds.resolve(repo_root).version]
        eng.reads = 0
        reader.refresh()  # nothing changed: one read of the generation record
        assert eng.reads == 1
    assert reader.repos_json() == ds.repos_json()


def test_far_behind_handle_reloads_changed_repos_only(make_engine):
    eng = make_engine()
    ds = Datastore(eng, TYPES)
    a, b = ds.new_repo("a").root, ds.new_repo("b").root
    chain(ds, b, 20)
    late = Datastore(eng, TYPES)
    b_before = late.resolve(b).repo
    head = chain(ds, a, records.MAX_CHANGED)  # more changes than the generation record lists
    assert ds._md.current.root.since > late._md.current.gen
    late.refresh()
    assert late.repos_json() == ds.repos_json() and late.resolve(head).uuid == head
    assert late.resolve(b).repo is b_before  # repo b did not change, so it was not re-read


def test_commit_survives_a_crash_before_records_are_copied(monkeypatch):
    eng = CasOnlyEngine()
    a = Datastore(eng, TYPES)
    root = a.new_repo("r").root
    a.commit(a.resolve(root))

    def crash(self, key, value, gen):
        raise StorageError("injected: process died after the commit")

    monkeypatch.setattr(Metadata, "_put_record", crash)
    child = a.new_version(a.resolve(root), note="kept")  # committed; its records only in the gen record
    monkeypatch.undo()
    b = Datastore(eng, TYPES)  # reads the pending records from the generation record
    assert b.resolve(child).node.note == "kept"
    assert b.resolve(root).node.children == [b.resolve(child).version]
    b.set_node_note(b.resolve(root), "next")  # the next commit first puts the previous records in place
    c = Datastore(eng, TYPES)
    assert c.resolve(child).node.note == "kept" and c.resolve(root).node.note == "next"
    stored = eng.get(keys.meta_record_key(c._md.current.root.epoch,
                                          records.node_name(1, c.resolve(child).version)))
    assert stored is not None and json.loads(stored[16:])["note"] == "kept"


def test_reader_racing_a_commit_rereads(make_engine):
    eng = make_engine()
    a = Datastore(eng, TYPES)
    root = a.new_repo("r").root
    b = Datastore(eng, TYPES)
    stale = eng.get(keys.META_ROOT_KEY)
    head = chain(a, root, 3)
    a.set_node_note(a.resolve(head), "latest")
    # a fresh handle starts from the stale generation record, but the records it then reads are newer
    b._md.current = _empty()
    b._md.current = b._md._load(stale)
    assert b._md.current.gen == a._md.current.gen
    assert b.repos_json() == a.repos_json()


def test_counters_and_settings_live_in_the_generation_record(tmp_path):
    eng = LMDBEngine(tmp_path / "db", map_size=1 << 26)
    try:
        ds = Datastore(eng, TYPES)
        r = ds.new_repo()
        ds.set_setting("throttle", 4)
        ds.delete_repo(r.root)
        again = Datastore(eng, TYPES)
        assert again.get_setting("throttle") == 4 and again.repos() == []
        r2 = again.new_repo()
        assert r2.repo_id == 2 and r2.nodes[r2.root].version_id == 2
        epoch = again._md.current.root.epoch
        # the deleted repo's records are gone
        assert list(eng.scan(*keys.meta_record_range(epoch, records.repo_prefix(1)))) == []
    finally:
        eng.close()


@pytest.mark.parametrize("engine", ["memory", "lmdb"])
def test_format1_store_is_migrated_on_open(engine, tmp_path):
    eng = MemoryEngine() if engine == "memory" else LMDBEngine(tmp_path / "db", map_size=1 << 26)
    try:
        legacy = json.dumps(FORMAT1["document"], separators=(",", ":")).encode()
        eng.put(keys.LEGACY_META_KEY, legacy)
        ds = Datastore(eng, TYPES)
        # DVID's JSON exactly as the format-1 code rendered it from the same document
        assert json.dumps(ds.repos_json()) == json.dumps(FORMAT1["repos_json"])
        assert ds.get_setting("gc") == 7
        assert eng.get(keys.LEGACY_META_KEY) is None and eng.get(keys.LEGACY_META_BACKUP_KEY) == legacy
        assert eng.get(keys.META_ROOT_KEY).startswith(records.MAGIC)
        # counters continue: new ids never reuse migrated ones
        r = ds.new_repo()
        assert r.repo_id == 3 and r.nodes[r.root].version_id == 7
        # a second open (another worker) reads the migrated records, not the document
        other = Datastore(eng, TYPES)
        assert other.repos_json() == ds.repos_json()
        assert other.resolve("0123:side").uuid == "22222222222222222222222222222222"
    finally:
        eng.close()


def test_concurrent_migrations_keep_one_copy(make_engine):
    eng = make_engine()
    legacy = json.dumps(FORMAT1["document"]).encode()
    eng.put(keys.LEGACY_META_KEY, legacy)
    first, second = Metadata.__new__(Metadata), Metadata.__new__(Metadata)
    for m in (first, second):
        m.engine = eng
    first._migrate(legacy)
    second._migrate(legacy)  # lost the race to create the generation record: drops its copy
    ds = Datastore(eng, TYPES)
    epoch = ds._md.current.root.epoch
    every = keys.metadata_key(b"\x00md/")
    all_records = [k for k, _ in eng.scan(every, every + b"\xff")]
    assert all_records and all(k.startswith(keys.meta_record_key(epoch, "")) for k in all_records)
    assert json.dumps(ds.repos_json()) == json.dumps(FORMAT1["repos_json"])


def _branch_worker(path: str, root: str, tag: str, n: int) -> None:
    eng = LMDBEngine(path, map_size=1 << 26)
    ds = Datastore(eng, TYPES)
    for i in range(n):
        ds.refresh()
        b = ds.branch(ds.resolve(root), f"{tag}{i}")
        ds.commit(ds.resolve(b), note=tag)
    eng.close()


def test_processes_growing_one_dag_get_unique_versions(tmp_path):
    path = str(tmp_path / "db")
    eng = LMDBEngine(path, map_size=1 << 26)
    try:
        ds = Datastore(eng, TYPES)
        root = ds.new_repo().root
        ds.commit(ds.resolve(root))
        run_in_processes(_branch_worker, [(path, root, t, 12) for t in ("p", "q", "r")])
        ds.refresh()
        repo = ds.resolve(root).repo
        versions = [n.version_id for n in repo.nodes.values()]
        assert len(repo.nodes) == 37 and len(set(versions)) == 37
        assert sorted(repo.nodes[root].children) == sorted(v for v in versions if v != repo.nodes[root].version_id)
        assert all(n.locked for n in repo.nodes.values())
        assert Datastore(eng, TYPES).repos_json() == ds.repos_json()
    finally:
        eng.close()


def test_generation_record_round_trip_and_change_window():
    root = records.Root(gen=5, epoch="e1", repos={"r": (1, 5)}, since=0, changed={"00000001/h": 5})
    raw = root.dumps()
    assert raw.startswith(b"DVIDMD2 0000000000000005\n") and records.header(raw) == raw[:records.HEADER_LEN]
    assert records.Root.loads(raw) == root
    names = {records.node_name(1, v): None for v in range(records.MAX_CHANGED + 10)}
    nxt = root.successor((2, 3, 4), {"gc": 1}, {"r": (1, 6)}, {n: {} for n in names}, pending=False)
    assert (nxt.gen, nxt.next_repo, nxt.next_version, nxt.next_instance, nxt.pending) == (6, 2, 3, 4, {})
    # more names changed than the window holds: the window restarts after this generation
    assert nxt.since == 6 and nxt.changed == {}
    small = root.successor((2, 3, 4), {}, {"r": (1, 6)}, {"00000001/l": {"log": []}}, pending=True)
    assert small.since == 0 and small.changed == {"00000001/h": 5, "00000001/l": 6}
    assert small.pending == {"00000001/l": {"log": []}}
