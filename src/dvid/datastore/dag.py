"""The version DAG and UUID resolution as pure functions over repos (core.md §3.1-3.2).

Nothing here touches a store: every function takes the repos (or one repo) it reasons about, so the
rules can be tested on hand-built DAGs. Errors are ``BadRequest`` with DVID's message texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from dvid.datastore.model import Node, NodeRef, Repo, is_plain_uuid
from dvid.errors import BadRequest

_HEX = re.compile(r"[0-9A-Fa-f]+")


def parents_map(repo: Repo) -> dict[int, list[int]]:
    """``{version: [parent versions]}`` of every node: what an ``Ancestry`` walks."""
    return {n.version_id: n.parents for n in repo.nodes.values()}


def branch_head(repo: Repo, name: str) -> Node | None:
    """The unique node on branch ``name`` ("master" is the unnamed branch) with no child on the same
    branch, or None if the branch has no node; two such nodes is an error, as in DVID."""
    stored = "" if name == "master" else name
    byv = repo.by_version()
    heads = [n for n in repo.nodes.values()
             if n.branch == stored and not any(c in byv and byv[c].branch == stored for c in n.children)]
    if not heads:
        return None
    if len(heads) > 1:
        heads.sort(key=lambda n: n.version_id)
        raise BadRequest(f'branch "{name}" has more than 1 child: ' + ", ".join(n.uuid for n in heads))
    return heads[0]


def master_leaf(repo: Repo) -> Node | None:
    """The head of master, or None if master has none or more than one."""
    try:
        return branch_head(repo, "master")
    except BadRequest:
        return None


def ancestry_by_branch(repo: Repo, name: str) -> list[Node]:
    """The branch head, then its first parent, and so on back to the root (``~N`` counts along it)."""
    head = branch_head(repo, name)
    if head is None:
        return []
    byv = repo.by_version()
    chain = [head]
    while chain[-1].parents:
        chain.append(byv[chain[-1].parents[0]])
    return chain


def resolve(repos: Mapping[str, Repo], spec: str) -> NodeRef:
    """The node a UUID specification names: ``<prefix>``, ``<prefix>:<branch>``, ``:<branch>`` (the
    only repo), ``<prefix>:`` and any branch followed by ``~N`` (N first-parents back)."""
    if spec.count(":") > 1:
        raise BadRequest(f'bad UUID specification "{spec}"')
    prefix, has_branch, branch = spec.partition(":")
    if has_branch and prefix == "":
        if len(repos) != 1:
            if not repos:
                raise BadRequest("no repos exist on this server")
            raise BadRequest("UUID must be specified if more than one repo exists")
        repo = next(iter(repos.values()))
        return branch_node(repo, branch or "master")
    repo, node = match_prefix(repos.values(), prefix)
    if has_branch and branch:
        return branch_node(repo, branch)
    return NodeRef(repo, node)


def match_prefix(repos: Iterable[Repo], prefix: str) -> tuple[Repo, Node]:
    """The one node whose UUID starts with ``prefix`` (as DVID, even a full UUID that is also the
    start of a longer one is ambiguous); an all-hex prefix in upper case is retried in lower case."""
    repos = list(repos)
    if is_plain_uuid(prefix):  # a full UUID: a dict lookup, unless a longer odd UUID extends it
        hits = [(r, r.nodes[prefix]) for r in repos if prefix in r.nodes]
        if len(hits) == 1 and not any(u.startswith(prefix) for r in repos for u in r.odd_uuids()):
            return hits[0]

    def find(p: str) -> list[tuple[Repo, Node]]:
        return [(r, n) for r in repos for u, n in r.nodes.items() if u.startswith(p)]

    found = find(prefix)
    if not found and prefix != prefix.lower() and _HEX.fullmatch(prefix):
        found = find(prefix.lower())
    if len(found) > 1:
        raise BadRequest(f"more than one UUID matches {prefix}")
    if not found:
        raise BadRequest(f"could not find UUID with partial match to {prefix}")
    return found[0]


def branch_node(repo: Repo, branch: str) -> NodeRef:
    """``<branch>`` is its head; ``<branch>~N`` the N-th first-parent back from it."""
    name, tilde, back = branch.partition("~")
    if tilde:
        try:
            n = int(back)
        except ValueError:
            raise BadRequest(f'can\'t parse parent "{back}" in branch "{name}"') from None
        chain = ancestry_by_branch(repo, name)
        if not chain:
            raise BadRequest(f'branch "{name}" not found in repo "{repo.root}"')
        if n < 0 or n >= len(chain):
            raise BadRequest(f'parent {n} is out of range for branch "{name}"')
        return NodeRef(repo, chain[n])
    head = branch_head(repo, name)
    if head is None:
        raise BadRequest(f'branch "{name}" not found in repo "{repo.root}"')
    return NodeRef(repo, head)


def check_assigned_uuid(u: str) -> None:
    """A client-chosen UUID for a new version must be 32 hex digits (DVID's messages)."""
    if len(u) != 32:
        raise BadRequest("Bad UUID provided: UUID must be 32 character hexadecimal string")
    m = re.search(r"[^0-9a-fA-F]", u)
    if m:
        raise BadRequest(f"Bad UUID provided: encoding/hex: invalid byte: U+{ord(m.group()):04X} {m.group()!r}")


def check_new_child(repo: Repo, parent: Node, branch: str, new_branch: bool) -> None:
    """The rules for adding a child to ``parent`` on ``branch``: the parent is locked, and the branch
    is new to the repo (``new_branch``) or, for a new version, not already taken by a child."""
    if not parent.locked:
        raise BadRequest("can't branch an unlocked node")
    if new_branch:
        if any(n.branch == branch for n in repo.nodes.values()):
            raise BadRequest("branch already exists with given name")
    else:
        byv = repo.by_version()
        if any(c in byv and byv[c].branch == branch for c in parent.children):
            raise BadRequest("branch already exists with given name")
