"""Repo and version mutations (core.md §3.1): new repo, repo info and log, node note and log,
commit, new version / branch / tag, merge, and the mutation-id stride advanced at start-up.

Each function applies one mutation to a ``Txn`` (see ``txn.py``): it validates against the state it
is given and edits only through the ``Txn``. They are called by ``Datastore``, which commits them.
"""

from __future__ import annotations

import uuid as uuidlib

from dvid.datastore import dag
from dvid.datastore.model import INITIAL_MUTATION_ID, Node, NodeRef, Repo
from dvid.datastore.timefmt import log_line, rfc3339_nano
from dvid.datastore.txn import Txn, edit_node
from dvid.errors import BadRequest


def new_uuid() -> str:
    return uuidlib.uuid4().hex


def uuid_taken(txn: Txn, uuid: str) -> bool:
    return any(uuid in r.nodes for r in txn.repos())


def new_version_id(txn: Txn) -> int:
    v = txn.next_version
    txn.next_version += 1
    return v


def new_repo(txn: Txn, alias: str, description: str, root: str | None, passcode: str,
             min_mutation_id_start: int) -> Repo:
    uuid = root if root else new_uuid()
    if uuid_taken(txn, uuid):
        raise BadRequest("UUID already exists in datastore")
    now = rfc3339_nano()
    start = max(INITIAL_MUTATION_ID, min_mutation_id_start)
    repo = Repo(repo_id=txn.next_repo, root=uuid, alias=alias, description=description,
                passcode=passcode, mutation_id=start, saved_mutation_id=start + 100,
                created=now, updated=now)
    txn.next_repo += 1
    repo.put_node(Node(uuid=uuid, version_id=new_version_id(txn), created=now, updated=now))
    txn.add_repo(repo)
    return repo


def advance_mutation_ids(txn: Txn) -> None:
    """On start-up DVID continues each repo's mutation ids from the saved stride (core.md §3.7)."""
    for root in [r.root for r in txn.repos()]:
        repo = txn.repo(root)
        repo.mutation_id = repo.saved_mutation_id
        repo.saved_mutation_id += 100


def set_repo_info(txn: Txn, ref: NodeRef, alias: str | None, description: str | None) -> None:
    repo = txn.repo(ref.repo.root)
    if alias is not None:
        repo.alias = alias
    if description is not None:
        repo.description = description
    repo.updated = rfc3339_nano()


def append_repo_log(txn: Txn, ref: NodeRef, lines: list[str]) -> None:
    repo = txn.repo(ref.repo.root)
    repo.log.extend(log_line(m) for m in lines)
    repo.updated = rfc3339_nano()


def delete_repo(txn: Txn, root: str) -> list[int]:
    """Drop the repo; returns its instance ids, whose data the caller then deletes."""
    r = txn.drop_repo(root)
    return [i.instance_id for i in r.instances.values()] if r else []


def set_node_note(txn: Txn, ref: NodeRef, note: str) -> None:
    _, node = edit_node(txn, ref)
    node.note = note
    node.updated = rfc3339_nano()


def append_node_log(txn: Txn, ref: NodeRef, lines: list[str]) -> None:
    _, node = edit_node(txn, ref)
    node.log.extend(log_line(m) for m in lines)
    node.updated = rfc3339_nano()


def commit(txn: Txn, ref: NodeRef, note: str, log: list[str]) -> None:
    repo, node = edit_node(txn, ref)
    if node.locked:
        raise BadRequest("Could not post to locked node")
    node.locked = True
    if note:
        node.note = note
    node.log.extend(log_line(m) for m in log)
    node.updated = repo.updated = rfc3339_nano()


def add_child(txn: Txn, ref: NodeRef, branch: str, note: str, uuid: str | None, new_branch: bool,
              *, locked: bool = False, version_id: int | None = None) -> Node:
    """A child of ``ref`` on ``branch`` (a new version, a branch or a tag). ``version_id`` is one the
    caller reserved earlier, else a new one is taken."""
    repo, parent = edit_node(txn, ref)
    dag.check_new_child(repo, parent, branch, new_branch)
    child_uuid = uuid or new_uuid()
    if uuid_taken(txn, child_uuid):
        raise BadRequest("UUID already exists in datastore")
    now = rfc3339_nano()
    vid = new_version_id(txn) if version_id is None else version_id
    child = Node(uuid=child_uuid, version_id=vid, branch=branch, note=note,
                 locked=locked, parents=[parent.version_id], created=now, updated=now)
    txn.add_node(repo, child)
    parent.children.append(child.version_id)
    parent.updated = repo.updated = now
    return child


def new_version(txn: Txn, ref: NodeRef, note: str, uuid: str | None) -> str:
    return add_child(txn, ref, ref.node.branch, note, uuid, False).uuid


def branch(txn: Txn, ref: NodeRef, name: str, note: str, uuid: str | None) -> str:
    parent = txn.repo(ref.repo.root).nodes.get(ref.node.uuid, ref.node)
    return add_child(txn, ref, name, note, uuid, name != parent.branch).uuid


def tag(txn: Txn, ref: NodeRef, tag: str, note: str) -> str:
    child = add_child(txn, ref, f"tag-{tag}", note, tag, True, locked=True)
    child.note = f'Tag of version {ref.node.uuid} with "{tag}"'
    return child.uuid


def merge(txn: Txn, ref: NodeRef, parents: list[NodeRef], note: str) -> str:
    """A new node on master with ``parents`` (all locked, all in ``ref``'s repo)."""
    repo = txn.repo(ref.repo.root)
    pnodes = [txn.node(repo, p.node.uuid) for p in parents]
    if not all(p.locked for p in pnodes):
        raise BadRequest("can't branch an unlocked node")
    now = rfc3339_nano()
    child = Node(uuid=new_uuid(), version_id=new_version_id(txn), note=note,
                 parents=[p.version_id for p in pnodes], created=now, updated=now)
    txn.add_node(repo, child)
    for p in pnodes:
        p.children.append(child.version_id)
        p.updated = now
    repo.updated = now
    return child.uuid
