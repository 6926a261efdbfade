"""More datastore checks: the remaining Go datastore tests (core.md §8), deletion/rename/passcodes,
instance-ID generation, timestamp formats, and several processes mutating one LMDB store."""

import re

import pytest

from datastore_fakes import TYPES, run_in_processes
from dvid.datastore import keys
from dvid.datastore.manager import Datastore
from dvid.errors import BadRequest
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine

NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
LOG = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)  ")


@pytest.fixture(params=["memory", "lmdb"])
def engine(request, tmp_path):
    eng = MemoryEngine() if request.param == "memory" else LMDBEngine(tmp_path / "db", map_size=1 << 26)
    yield eng
    eng.close()


@pytest.fixture
def ds(engine):
    return Datastore(engine, TYPES)


def test_new_repo_different(ds):
    a, b = ds.new_repo(), ds.new_repo()
    assert a.root != b.root and a.repo_id != b.repo_id
    assert a.nodes[a.root].version_id != b.nodes[b.root].version_id
    assert a.nodes[a.root].version_id == 1 and a.repo_id == 1
    assert set(ds.repos_json()) == {a.root, b.root}


def test_uuid_assignment(ds):
    root = "de305d5475b4431badb2eb6b9e546014"
    repo = ds.new_repo(root=root)
    assert repo.root == root
    ds.commit(ds.resolve(root))
    child = "ee305d5475b4431badb2eb6b9e546014"
    assert ds.new_version(ds.resolve(root), uuid=child) == child
    assert ds.resolve(root[:10]).uuid == root
    # repo roots are stored verbatim (no hex/length validation), as DVID
    odd = "de305d5475b4431badb2eb6b9e546014x"
    assert ds.new_repo(root=odd).root == odd
    ds.commit(ds.resolve(child))
    with pytest.raises(BadRequest, match="UUID already exists in datastore"):
        ds.new_version(ds.resolve(child), uuid=root)


def test_json_set_versioned(ds):
    ref = ds.resolve(ds.new_repo().root)
    for i, (value, want) in enumerate([(True, True), (False, False), ("true", True), ("0", False), ("1", True)]):
        assert ds.new_instance(ref, "faketype", f"i{i}", {"versioned": value}).versioned is want


def test_base_settings(ds):
    ref = ds.resolve(ds.new_repo().root)
    inst = ds.new_instance(ref, "faketype", "a", {"Compression": "SNAPPY", "Checksum": "crc32",
                                                   "Tags": "type=meshes,stuff=x,broken", "echo": "e"})
    assert (inst.compression, inst.checksum, inst.tags) == ("snappy", "crc32", {"type": "meshes", "stuff": "x"})
    assert ds.new_instance(ref, "faketype", "b", {}).compression == "lz4"
    assert ds.new_instance(ref, "faketype", "c", {"compression": "gzip"}).compression == "gzip"
    for settings, msg in [
        ({"compression": 5}, "Setting for 'Compression' was not a string: 5"),
        ({"checksum": ["x"]}, "Setting for 'Checksum' was not a string"),
        ({"tags": 1}, "Setting for 'Tags' was not a string"),
        ({"compression": "bzip"}, "Illegal compression specified: bzip"),
        ({"compression": "gzip:x"}, "Illegal compression specified: gzip:x"),
        ({"bad": 1}, "fake type rejects 'bad'"),
    ]:
        with pytest.raises(BadRequest, match=re.escape(msg)):
            ds.new_instance(ref, "faketype", "z", settings)
    with pytest.raises(BadRequest, match="invalid data instance name"):
        ds.instance(ref, "z")
    log = ds.repo_json(ds.resolve(ref.uuid).repo)["Log"]
    assert any('New data instance "a" of type "faketype" with config map[' in line for line in log)
    assert all(LOG.match(line) for line in log)


def test_locked_node_instance_creation(ds):
    repo = ds.new_repo()
    ds.commit(ds.resolve(repo.root))
    ref = ds.resolve(repo.root)
    with pytest.raises(BadRequest, match=f"New data instance cannot be created on locked node {repo.root}"):
        ds.new_instance(ref, "faketype", "x", {})
    assert ds.new_instance(ref, "faketype", "x", {}, admin=True).name == "x"
    assert ds.new_instance(ref, "faketype", "y", {}, check_lock=False).name == "y"


def test_timestamps_and_node_fields(ds):
    repo = ds.new_repo()
    ref = ds.resolve(repo.root)
    ds.append_node_log(ref, ["one", "two"])
    ds.set_node_note(ref, "hello")
    j = ds.repo_json(ds.resolve(repo.root).repo)
    node = j["DAG"]["Nodes"][repo.root]
    assert list(node) == ["Branch", "Note", "Log", "UUID", "VersionID", "Locked", "Parents", "Children",
                          "Created", "Updated"]
    assert NANO.match(node["Created"]) and NANO.match(j["Updated"])
    assert node["Note"] == "hello" and [line.split("  ", 1)[1] for line in node["Log"]] == ["one", "two"]
    assert all(LOG.match(line) for line in node["Log"])
    ds.commit(ds.resolve(repo.root))
    child = ds.new_version(ds.resolve(repo.root))
    j = ds.repo_json(ds.resolve(repo.root).repo)
    cv = j["DAG"]["Nodes"][child]["VersionID"]
    assert j["DAG"]["Nodes"][repo.root]["Children"] == [cv]
    assert j["DAG"]["Nodes"][child]["Parents"] == [node["VersionID"]]


def test_resolution_edge_cases(ds):
    with pytest.raises(BadRequest, match="no repos"):
        ds.resolve(":master")
    with pytest.raises(BadRequest, match="no repos"):
        ds.resolve(":")
    repo = ds.new_repo()
    assert ds.resolve(f"{repo.root[:4]}:").uuid == repo.root
    assert ds.resolve(":").uuid == repo.root
    ds.commit(ds.resolve(repo.root))
    a = ds.branch(ds.resolve(repo.root), "b1")
    with pytest.raises(BadRequest, match='branch "b1" not found|out of range'):
        ds.resolve(":b1~5")
    with pytest.raises(BadRequest, match=f'branch "nope" not found in repo "{repo.root}"'):
        ds.resolve(":nope")
    with pytest.raises(BadRequest, match=re.escape('parent 5 is out of range for branch "b1"')):
        ds.resolve(":b1~5")
    assert ds.resolve(":b1~1").uuid == repo.root and ds.resolve(":b1").uuid == a
    # master head stays the root even though the root has a child on another branch
    assert ds.resolve(":master").uuid == repo.root
    assert ds.master_leaf(ds.resolve(repo.root).repo).uuid == repo.root


def test_delete_rename_passcodes(engine):
    ds = Datastore(engine, TYPES)
    repo = ds.new_repo(passcode="foobar")
    ref = ds.resolve(repo.root)
    a = ds.new_instance(ref, "faketype", "a", {})
    b = ds.new_instance(ref, "faketype", "b", {})
    ds.view(ds.resolve(repo.root), a).put(b"k1", b"v1")
    ds.view(ds.resolve(repo.root), b).put(b"k1", b"v2")
    with pytest.raises(BadRequest, match="Passcode does not match"):
        ds.rename_instance(ref, "a", "a2", "wrong")
    ds.rename_instance(ref, "a", "a2", "foobar")
    a2 = ds.instance(ref, "a2")
    assert a2.instance_id == a.instance_id and ds.view(ref, a2).get(b"k1") == b"v1"
    with pytest.raises(BadRequest, match="invalid data instance name"):
        ds.instance(ref, "a")
    with pytest.raises(BadRequest, match='Data named "b" already exists'):
        ds.rename_instance(ref, "a2", "b", "foobar")
    with pytest.raises(BadRequest, match="Passcode does not match"):
        ds.delete_instance(ref, "a2", "")
    ds.delete_instance(ref, a2.data_uuid, "foobar")  # by data UUID
    assert list(engine.scan(*keys.instance_range(a.instance_id))) == []
    assert ds.view(ref, b).get(b"k1") == b"v2"
    assert "a2" not in ds.repo_json(ds.resolve(repo.root).repo)["DataInstances"]
    assert any("Delete data instance 'a2' of type 'faketype'" in line for line in ds.resolve(repo.root).repo.log)
    with pytest.raises(BadRequest, match="Passcode does not match"):
        ds.delete_repo(repo.root, "nope")
    ds.commit(ds.resolve(repo.root))
    child = ds.new_version(ds.resolve(repo.root))
    with pytest.raises(BadRequest, match="UUID for repo deletion must match UUID of repo's root"):
        ds.delete_repo(child, "foobar")
    ds.delete_repo(repo.root, "foobar")
    assert ds.repos_json() == {}
    assert list(engine.scan(*keys.instance_range(b.instance_id))) == []
    with pytest.raises(BadRequest, match="could not find UUID"):
        ds.resolve(child)


def test_instance_id_generation(engine):
    ds = Datastore(engine, TYPES, instance_id_start=100)
    ref = ds.resolve(ds.new_repo().root)
    assert [ds.new_instance(ref, "faketype", f"s{i}", {}).instance_id for i in range(3)] == [100, 101, 102]
    rnd = Datastore(engine, TYPES, instance_id_gen="random")
    ids = {rnd.new_instance(rnd.resolve(ref.uuid), "faketype", f"r{i}", {}).instance_id for i in range(20)}
    assert len(ids) == 20 and all(0 < i < 2**32 for i in ids) and not ids & {100, 101, 102}


def test_update_instance_persists(engine):
    ds = Datastore(engine, TYPES)
    ref = ds.resolve(ds.new_repo().root)
    inst = ds.new_instance(ref, "faketype", "a", {})
    inst.tags = {"k": "v"}
    inst.syncs = ["other"]
    inst.props["Echo"] = "changed"
    ds.update_instance(ref, inst)
    again = Datastore(engine, TYPES).instance(ref, "a")
    assert (again.tags, again.syncs, again.props["Echo"]) == ({"k": "v"}, ["other"], "changed")


def test_repo_persistence_full_dag(tmp_path):
    eng = LMDBEngine(tmp_path / "db", map_size=1 << 26)
    ds = Datastore(eng, TYPES, startup=True)
    repo = ds.new_repo("a", "b")
    root = repo.root
    ds.commit(ds.resolve(root))
    c1 = ds.new_version(ds.resolve(root))
    ds.commit(ds.resolve(c1))
    c2 = ds.branch(ds.resolve(c1), "child2", uuid="0c8bc973dba74729880dd1bdfd8d0c5e")
    ds.commit(ds.resolve(c2), log=["l1", "l2", "l3"])
    c3 = ds.branch(ds.resolve(c1), "child3")
    ds.append_node_log(ds.resolve(c3), ["open"])
    ds.new_instance(ds.resolve(c3), "faketype", "inst", {"echo": "x", "tags": "a=b"})
    ds.set_setting("gc", 100)
    before = ds.repos_json()
    eng.close()
    eng = LMDBEngine(tmp_path / "db", map_size=1 << 26)
    try:
        ds2 = Datastore(eng, TYPES, startup=True)
        after = ds2.repos_json()
        assert after[root]["MutationID"] == 1000000100 and after[root]["SavedMutationID"] == 1000000200
        for d in (before, after):
            d[root].pop("MutationID"), d[root].pop("SavedMutationID")
        assert before == after and ds2.get_setting("gc") == 100
        assert ds2.resolve(":child3").uuid == c3 and ds2.resolve(":child2").uuid == c2
        # counters continue after a restart: new IDs never reuse old ones
        other = ds2.new_repo()
        used = {n["VersionID"] for n in after[root]["DAG"]["Nodes"].values()}
        assert other.nodes[other.root].version_id > max(used) and other.repo_id == 2
    finally:
        eng.close()


def test_merge_of_branches_keeps_dag_on_failure(ds):
    repo = ds.new_repo()
    ds.commit(ds.resolve(repo.root))
    a = ds.new_version(ds.resolve(repo.root))
    b = ds.branch(ds.resolve(repo.root), "b")
    ds.commit(ds.resolve(a))
    before = ds.repo_json(ds.resolve(repo.root).repo)["DAG"]
    for parents, msg in [([a], "at least two parent"), ([a, b], "can't branch an unlocked node"),
                         ([a, "zz"], 'can\'t match parent "zz"')]:
        with pytest.raises(BadRequest, match=msg):
            ds.merge(ds.resolve(repo.root), parents)
    with pytest.raises(BadRequest, match="'mergeType' must be 'conflict-free'"):
        ds.merge(ds.resolve(repo.root), [a, b], merge_type="auto")
    assert ds.repo_json(ds.resolve(repo.root).repo)["DAG"] == before
    ds.commit(ds.resolve(b))
    m = ds.merge(ds.resolve(repo.root), [b, a], note="merged")
    j = ds.repo_json(ds.resolve(repo.root).repo)["DAG"]["Nodes"]
    assert j[m]["Parents"] == [j[b]["VersionID"], j[a]["VersionID"]]
    assert j[m]["Branch"] == "" and j[m]["Note"] == "merged" and not j[m]["Locked"]
    assert j[m]["VersionID"] in j[a]["Children"] and j[m]["VersionID"] in j[b]["Children"]


def test_resolve_conflicts(ds):
    repo = ds.new_repo()
    ref = ds.resolve(repo.root)
    inst = ds.new_instance(ref, "faketype", "kv", {})
    ds.view(ref, inst).write(puts=[(b"same", b"0"), (b"both", b"0")])
    ds.commit(ds.resolve(repo.root))
    a = ds.new_version(ds.resolve(repo.root))
    b = ds.branch(ds.resolve(repo.root), "b")
    ds.view(ds.resolve(a), inst).write(puts=[(b"both", b"A"), (b"onlya", b"A")])
    ds.view(ds.resolve(b), inst).write(puts=[(b"both", b"B"), (b"onlyb", b"B")])
    ds.commit(ds.resolve(a))
    ds.commit(ds.resolve(b))
    with pytest.raises(BadRequest, match="at least one data instance"):
        ds.resolve_conflicts(ds.resolve(repo.root), [], [a, b])
    m = ds.resolve_conflicts(ds.resolve(repo.root), ["kv"], [a, b], note="resolved")
    view = ds.view(ds.resolve(m), inst)
    assert dict(view.scan(b"", b"\xff")) == {b"same": b"0", b"both": b"A", b"onlya": b"A", b"onlyb": b"B"}
    assert ds.resolve(f":conflict-{b}").node.locked


def _proc_worker(path: str, root: str, tag: str, n: int) -> None:
    eng = LMDBEngine(path, map_size=1 << 26)
    ds = Datastore(eng, TYPES)
    for i in range(n):
        ds.refresh()
        ds.append_repo_log(ds.resolve(root), [f"{tag}{i}"])
        ds.new_instance(ds.resolve(root), "faketype", f"{tag}-inst{i}", {})
    eng.close()


def test_two_processes_keep_every_mutation(tmp_path):
    path = str(tmp_path / "db")
    eng = LMDBEngine(path, map_size=1 << 26)
    ds = Datastore(eng, TYPES)
    root = ds.new_repo().root
    run_in_processes(_proc_worker, [(path, root, t, 15) for t in ("p", "q")])
    ds.refresh()
    repo = ds.resolve(root).repo
    msgs = {line.split("  ", 1)[1] for line in repo.log}
    assert {f"{t}{i}" for t in "pq" for i in range(15)} <= msgs
    ids = [i.instance_id for i in repo.instances.values()]
    assert len(ids) == 30 and len(set(ids)) == 30
    eng.close()


def test_creation_log_is_go_map_dump(ds):
    ref = ds.resolve(ds.new_repo().root)
    ds.new_instance(ref, "faketype", "g", {"versioned": False, "echo": "hi", "typename": "faketype"})
    line = ds.resolve(ref.uuid).repo.log[-1].split("  ", 1)[1]
    assert line == 'New data instance "g" of type "faketype" with config map[echo:hi typename:faketype versioned:false]'


def test_resolve_conflicts_failure_leaves_nothing(ds, engine):
    repo = ds.new_repo()
    ref = ds.resolve(repo.root)
    inst = ds.new_instance(ref, "faketype", "kv", {})
    ds.commit(ds.resolve(repo.root))
    a = ds.new_version(ds.resolve(repo.root))
    b = ds.branch(ds.resolve(repo.root), "b")
    ds.view(ds.resolve(a), inst).put(b"both", b"A")
    ds.view(ds.resolve(b), inst).put(b"both", b"B")
    ds.commit(ds.resolve(a))
    ds.commit(ds.resolve(b))
    ds.branch(ds.resolve(b), f"conflict-{b}")  # the branch the resolver needs is taken
    before = ds.repo_json(ds.resolve(repo.root).repo)["DAG"]
    data_before = sorted(k for k, _ in engine.scan(*keys.instance_range(inst.instance_id)))
    with pytest.raises(BadRequest, match="branch already exists with given name"):
        ds.resolve_conflicts(ds.resolve(repo.root), ["kv"], [a, b])
    assert ds.repo_json(ds.resolve(repo.root).repo)["DAG"] == before
    assert sorted(k for k, _ in engine.scan(*keys.instance_range(inst.instance_id))) == data_before
