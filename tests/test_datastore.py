"""The datastore layer on both embedded engines: DAG operations, UUID resolution, instances,
persistence across reopen, and several processes' handles sharing one store."""

import threading

import pytest

from datastore_fakes import TYPES
from dvid.datastore.manager import Datastore
from dvid.errors import BadRequest
from dvid.storage.lmdb import LMDBEngine
from dvid.storage.memory import MemoryEngine


@pytest.fixture(params=["memory", "lmdb"])
def engine_factory(request, tmp_path):
    engines = []
    mem = MemoryEngine()

    def make():
        eng = mem if request.param == "memory" else LMDBEngine(tmp_path / "db", map_size=1 << 26)
        engines.append(eng)
        return eng

    yield make
    for e in engines:
        e.close()


@pytest.fixture
def ds(engine_factory):
    return Datastore(engine_factory(), TYPES)


def test_branching_and_resolution(ds):
    repo = ds.new_repo("r", "d")
    root = ds.resolve(repo.root)
    ds.commit(root)
    m2 = ds.new_version(ds.resolve(repo.root))
    ds.commit(ds.resolve(m2))
    m3 = ds.new_version(ds.resolve(m2))
    ds.commit(ds.resolve(m3))
    ds.branch(ds.resolve(m3), "random")
    o1 = ds.branch(ds.resolve(repo.root), "other")
    ds.commit(ds.resolve(o1))
    o2 = ds.new_version(ds.resolve(o1))
    ref = ds.resolve(m3)
    assert ds.branch_versions(ref, "master") == [m3, m2, repo.root]
    assert ds.branch_versions(ref, "other") == [o2, o1, repo.root]
    assert ds.branch_versions(ref, "nope") == []
    assert ds.resolve(f"{m2[:5]}:master").uuid == m3
    assert ds.resolve(f"{m2[:5]}:master~1").uuid == m2
    assert ds.resolve(f"{m2[:5]}:master~2").uuid == repo.root
    assert ds.resolve(":master").uuid == m3
    assert ds.resolve(":master~2").uuid == repo.root
    assert ds.resolve(":").uuid == m3
    assert ds.resolve(f"{m2[:5]}:other").uuid == o2
    assert ds.resolve(f"{m2[:6]}:").uuid == m2
    assert ds.resolve(m2[:8].upper()).uuid == m2
    for spec, msg in [
        (f"{m2}:master~x", "can't parse parent"),
        (f"{m2}:master~9", "out of range"),
        (f"{m2}:nobranch", 'branch "nobranch" not found'),
        ("zzzz", "could not find UUID with partial match to zzzz"),
        ("a:b:c", "bad UUID specification"),
    ]:
        with pytest.raises(BadRequest, match=msg):
            ds.resolve(spec)


def test_ambiguous_prefix_and_zero_repos(ds):
    with pytest.raises(BadRequest):
        ds.resolve(":master")
    ds.new_repo(root="abc1" + "0" * 28)
    ds.new_repo(root="abc2" + "0" * 28)
    with pytest.raises(BadRequest, match="more than one UUID matches abc"):
        ds.resolve("abc")
    with pytest.raises(BadRequest, match="UUID must be specified if more than one repo exists"):
        ds.resolve(":master")
    with pytest.raises(BadRequest, match="UUID already exists in datastore"):
        ds.new_repo(root="abc1" + "0" * 28)


def test_dag_rules(ds):
    repo = ds.new_repo()
    root = ds.resolve(repo.root)
    with pytest.raises(BadRequest, match="can't branch an unlocked node"):
        ds.new_version(root)
    ds.commit(root, note="n", log=["a", "b"])
    with pytest.raises(BadRequest, match="Could not post to locked node"):
        ds.commit(ds.resolve(repo.root))
    child = ds.new_version(ds.resolve(repo.root), uuid="f3870173ad1d4a6a872b9fd860e246b3")
    assert child == "f3870173ad1d4a6a872b9fd860e246b3"
    with pytest.raises(BadRequest, match="branch already exists"):
        ds.new_version(ds.resolve(repo.root))
    with pytest.raises(BadRequest, match="UUID must be 32"):
        ds.branch(ds.resolve(repo.root), "b2", uuid="abc")
    with pytest.raises(BadRequest, match="invalid byte"):
        ds.branch(ds.resolve(repo.root), "b2", uuid="fXX70173ad1d4a6a872b9fd860e246b3")
    with pytest.raises(BadRequest, match="Cannot create a master branch"):
        ds.branch(ds.resolve(repo.root), "master")
    b = ds.branch(ds.resolve(repo.root), "mybranch2", uuid="7487347145aa42d0bda8ae6f27d4605c")
    with pytest.raises(BadRequest, match="branch already exists"):
        ds.branch(ds.resolve(repo.root), "mybranch2")
    tag = ds.tag(ds.resolve(repo.root), "v1.0")
    assert tag == "v1.0" and ds.resolve("v1.0").node.locked
    assert ds.resolve("v1.0").node.note == f'Tag of version {repo.root} with "v1.0"'
    # merge validation leaves the DAG unchanged on error
    before = ds.repo_json(ds.resolve(repo.root).repo)["DAG"]
    with pytest.raises(BadRequest, match="can't branch an unlocked node"):
        ds.merge(ds.resolve(repo.root), [child, b])
    with pytest.raises(BadRequest, match="can't match parent"):
        ds.merge(ds.resolve(repo.root), [child, "nonexistent"])
    assert ds.repo_json(ds.resolve(repo.root).repo)["DAG"] == before
    ds.commit(ds.resolve(child))
    ds.commit(ds.resolve(b))
    m = ds.merge(ds.resolve(repo.root), [child[:7], b])
    node = ds.resolve(m).node
    assert node.branch == "" and len(node.parents) == 2


def test_instances_and_json(ds):
    repo = ds.new_repo("alias", "desc")
    ref = ds.resolve(repo.root)
    inst = ds.new_instance(ref, "faketype", "grayscale", {"echo": "hi", "compression": "gzip:5"})
    assert inst.compression == "gzip:5" and inst.props == {"Echo": "hi"}
    for settings, msg in [
        ({"compression": "jpeg:80"}, "Illegal compression specified: jpeg:80"),
        ({"versioned": "maybe"}, "Illegal setting for 'versioned'"),
        ({"versioned": 3}, "not a string"),
    ]:
        with pytest.raises(BadRequest, match=msg):
            ds.new_instance(ref, "faketype", "x", settings)
    with pytest.raises(BadRequest, match='Data named "grayscale" already exists'):
        ds.new_instance(ref, "faketype", "grayscale", {})
    with pytest.raises(BadRequest, match='cannot use reserved name "log"'):
        ds.new_instance(ref, "faketype", "log", {})
    with pytest.raises(BadRequest, match='Data type "nope" is not supported'):
        ds.new_instance(ref, "nope", "y", {})
    with pytest.raises(BadRequest, match="invalid data instance name"):
        ds.instance(ref, "y")
    j = ds.repo_json(ds.resolve(repo.root).repo)
    assert list(j) == ["Root", "Alias", "Description", "Log", "Properties", "DataInstances", "DAG",
                       "MutationID", "SavedMutationID", "Created", "Updated"]
    assert j["DataInstances"]["grayscale"]["Base"]["Compression"] == "gzip compression, level 5"
    assert j["MutationID"] == 1000000000 and j["SavedMutationID"] == 1000000100
    node = j["DAG"]["Nodes"][repo.root]
    assert node["Parents"] == [] and node["Children"] == [] and node["VersionID"] >= 1
    unv = ds.new_instance(ref, "faketype", "unv", {"versioned": False})
    ds.commit(ds.resolve(repo.root))
    child = ds.new_version(ds.resolve(repo.root))
    assert ds.view(ds.resolve(child), unv).version == ds.resolve(repo.root).version


def test_persistence_and_two_handles(engine_factory, request):
    eng = engine_factory()
    a = Datastore(eng, TYPES)
    repo = a.new_repo("r", "d")
    a.set_repo_info(a.resolve(repo.root), "newalias", None)
    a.new_instance(a.resolve(repo.root), "faketype", "inst", {})
    before = a.repo_json(a.resolve(repo.root).repo)
    if "lmdb" in request.node.name:  # reopen the store as a restarted server would
        eng.close()
        eng = engine_factory()
    b = Datastore(eng, TYPES, startup=True)
    a = Datastore(eng, TYPES)  # a second handle, as another worker process has
    after = b.repo_json(b.resolve(repo.root).repo)
    assert after["MutationID"] == 1000000100 and after["SavedMutationID"] == 1000000200
    for k in ("MutationID", "SavedMutationID"):
        before.pop(k), after.pop(k)
    assert before == after
    # a change through one handle is visible through the other after refresh
    b.set_node_note(b.resolve(repo.root), "from b")
    a.refresh()
    assert a.resolve(repo.root).node.note == "from b"

    # concurrent mutations through both handles are all kept
    def worker(d, tag):
        for i in range(20):
            d.append_repo_log(d.resolve(repo.root), [f"{tag}{i}"])

    ts = [threading.Thread(target=worker, args=(d, t)) for d, t in ((a, "a"), (b, "b"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    a.refresh()
    log = a.repo_json(a.resolve(repo.root).repo)["Log"]
    assert sum(1 for line in log if line.split("  ", 1)[1][0] in "ab") == 40


def test_instance_ids_distinct_under_concurrency(ds):
    repo = ds.new_repo()
    ids = []

    def make(i):
        ids.append(ds.new_instance(ds.resolve(repo.root), "faketype", f"i{i}", {}).instance_id)

    ts = [threading.Thread(target=make, args=(i,)) for i in range(30)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(set(ids)) == 30


def test_blobs_and_settings(ds):
    ref = ds.put_blob(b"hello world")
    assert ds.get_blob(ref) == b"hello world" and ref.endswith("=")
    assert ds.get_blob("AAAAAAAAAAAAAAAAAAAAAA==") is None and ds.get_blob("!!") is None
    ds.set_setting("throttle", 3)
    assert ds.get_setting("throttle") == 3
