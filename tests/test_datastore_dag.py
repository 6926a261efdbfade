"""The DAG rules and UUID resolution as pure functions on hand-built repos (no store)."""

import pytest

from dvid.datastore import dag
from dvid.datastore.model import Node, Repo
from dvid.errors import BadRequest


def make_repo(root: str, nodes: list[tuple[str, int, str, list[int], bool]], repo_id: int = 1) -> Repo:
    """``nodes``: (uuid, version, branch, parents, locked); children are derived."""
    repo = Repo(repo_id=repo_id, root=root)
    for uuid, version, branch, parents, locked in nodes:
        repo.put_node(Node(uuid=uuid, version_id=version, branch=branch, parents=list(parents), locked=locked))
    byv = repo.by_version()
    for n in repo.nodes.values():
        for p in n.parents:
            byv[p].children.append(n.version_id)
    return repo


@pytest.fixture
def repo() -> Repo:
    #   a1 (root) -> a2 -> a3 (master head)
    #    \-> b1 (branch "b") -> b2
    #   a2 -> t1 (tag, own branch)
    return make_repo("a1" + "0" * 30, [
        ("a1" + "0" * 30, 1, "", [], True),
        ("a2" + "0" * 30, 2, "", [1], True),
        ("a3" + "0" * 30, 3, "", [2], False),
        ("b1" + "0" * 30, 4, "b", [1], True),
        ("b2" + "0" * 30, 5, "b", [4], False),
        ("c1" + "0" * 30, 6, "tag-v1", [2], True),
    ])


def uuid(p: str) -> str:
    return p + "0" * 30


def test_branch_heads_and_ancestry(repo):
    assert dag.branch_head(repo, "master").uuid == uuid("a3")
    assert dag.branch_head(repo, "b").uuid == uuid("b2")
    assert dag.branch_head(repo, "nope") is None
    assert [n.uuid for n in dag.ancestry_by_branch(repo, "b")] == [uuid("b2"), uuid("b1"), uuid("a1")]
    assert [n.version_id for n in dag.ancestry_by_branch(repo, "master")] == [3, 2, 1]
    assert dag.ancestry_by_branch(repo, "nope") == []
    assert dag.parents_map(repo) == {1: [], 2: [1], 3: [2], 4: [1], 5: [4], 6: [2]}


def test_two_heads_on_one_branch_is_an_error(repo):
    repo.put_node(Node(uuid=uuid("a4"), version_id=7, branch="", parents=[2]))
    repo.nodes[uuid("a2")].children.append(7)
    with pytest.raises(BadRequest, match=f'branch "master" has more than 1 child: {uuid("a3")}, {uuid("a4")}'):
        dag.branch_head(repo, "master")
    assert dag.master_leaf(repo) is None


def test_resolve_specs(repo):
    repos = {repo.root: repo}
    assert dag.resolve(repos, "a2").uuid == uuid("a2")
    assert dag.resolve(repos, "A2").uuid == uuid("a2")  # upper-case hex retried in lower case
    assert dag.resolve(repos, ":").uuid == uuid("a3")
    assert dag.resolve(repos, ":master~2").uuid == uuid("a1")
    assert dag.resolve(repos, "b1:").uuid == uuid("b1")
    assert dag.resolve(repos, "a1:b").uuid == uuid("b2")
    assert dag.resolve(repos, ":b~1").uuid == uuid("b1")
    ref = dag.resolve(repos, ":tag-v1")
    assert ref.repo is repo and ref.version == 6
    for spec, msg in [
        ("a", "more than one UUID matches a"),
        ("zz", "could not find UUID with partial match to zz"),
        ("a:b:c", 'bad UUID specification "a:b:c"'),
        (":b~x", 'can\'t parse parent "x" in branch "b"'),
        (":b~3", 'parent 3 is out of range for branch "b"'),
        (":b~-1", 'parent -1 is out of range'),
        (":nope", f'branch "nope" not found in repo "{repo.root}"'),
        (":nope~1", 'branch "nope" not found'),
    ]:
        with pytest.raises(BadRequest, match=msg):
            dag.resolve(repos, spec)


def test_resolve_across_repos():
    r1 = make_repo("aa" + "1" * 30, [("aa" + "1" * 30, 1, "", [], False)])
    r2 = make_repo("ab" + "2" * 30, [("ab" + "2" * 30, 2, "", [], False)], repo_id=2)
    repos = {r1.root: r1, r2.root: r2}
    assert dag.resolve(repos, "ab").repo is r2
    with pytest.raises(BadRequest, match="UUID must be specified if more than one repo exists"):
        dag.resolve(repos, ":master")
    with pytest.raises(BadRequest, match="no repos exist on this server"):
        dag.resolve({}, ":")
    # a full UUID that also starts a longer one is ambiguous, as in DVID
    r3 = make_repo(r1.root + "x", [(r1.root + "x", 3, "", [], False)], repo_id=3)
    with pytest.raises(BadRequest, match="more than one UUID matches"):
        dag.resolve({**repos, r3.root: r3}, r1.root)


def test_new_child_rules(repo):
    a2, a3, b1 = (repo.nodes[uuid(p)] for p in ("a2", "a3", "b1"))
    with pytest.raises(BadRequest, match="can't branch an unlocked node"):
        dag.check_new_child(repo, a3, "", False)
    with pytest.raises(BadRequest, match="branch already exists with given name"):
        dag.check_new_child(repo, a2, "", False)  # a3 is a2's master child already
    with pytest.raises(BadRequest, match="branch already exists with given name"):
        dag.check_new_child(repo, b1, "b", True)
    dag.check_new_child(repo, b1, "c", True)
    dag.check_new_child(repo, b1, "", False)  # b1's child is on "b", so a master child is allowed


def test_assigned_uuid_checks():
    dag.check_assigned_uuid("f3870173ad1d4a6a872b9fd860e246b3")
    with pytest.raises(BadRequest, match="UUID must be 32 character"):
        dag.check_assigned_uuid("abc")
    with pytest.raises(BadRequest, match="invalid byte: U\\+0058 'X'"):
        dag.check_assigned_uuid("fX870173ad1d4a6a872b9fd860e246b3")
