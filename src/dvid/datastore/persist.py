"""(De)serialisation of the whole metadata state to one JSON document."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, Repo
from dvid.datastore.txn import missing_node, missing_repo

FORMAT_VERSION = 1
_REPO_FIELDS = ("repo_id", "root", "alias", "description", "log", "properties", "passcode",
                "mutation_id", "saved_mutation_id", "created", "updated")


class State:
    """Everything the metadata key holds: counters, repos, server-wide settings. Loaded fresh for
    each mutation, so it is also that mutation's ``Txn`` (edits are made in place)."""

    def __init__(self) -> None:
        self.next_repo = 1
        self.next_version = 1
        self.next_instance = 1
        self.repos_by_root: dict[str, Repo] = {}
        self.settings: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------ Txn
    def repos(self) -> Iterable[Repo]:
        return self.repos_by_root.values()

    def find_repo(self, root: str) -> Repo | None:
        return self.repos_by_root.get(root)

    def repo(self, root: str) -> Repo:
        repo = self.repos_by_root.get(root)
        if repo is None:
            raise missing_repo(root)
        return repo

    def node(self, repo: Repo, uuid: str) -> Node:
        node = repo.nodes.get(uuid)
        if node is None:
            raise missing_node(uuid)
        return node

    def add_node(self, repo: Repo, node: Node) -> None:
        repo.put_node(node)

    def add_repo(self, repo: Repo) -> None:
        self.repos_by_root[repo.root] = repo

    def drop_repo(self, root: str) -> Repo | None:
        return self.repos_by_root.pop(root, None)

    def put_instance(self, repo: Repo, instance: Instance) -> None:
        repo.instances[instance.name] = instance

    def drop_instance(self, repo: Repo, name: str) -> None:
        del repo.instances[name]

    # ------------------------------------------------------------------------------ document
    def dumps(self) -> bytes:
        doc = {
            "format": FORMAT_VERSION,
            "next_repo": self.next_repo,
            "next_version": self.next_version,
            "next_instance": self.next_instance,
            "settings": self.settings,
            "repos": [_repo_record(r) for r in self.repos_by_root.values()],
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes | None) -> State:
        st = cls()
        if not raw:
            return st
        doc = json.loads(raw)
        st.next_repo = doc["next_repo"]
        st.next_version = doc["next_version"]
        st.next_instance = doc["next_instance"]
        st.settings = doc.get("settings", {})
        for rec in doc["repos"]:
            repo = _repo_from_record(rec)
            st.repos_by_root[repo.root] = repo
        return st


def _repo_record(r: Repo) -> dict[str, Any]:
    d = {f: getattr(r, f) for f in _REPO_FIELDS}
    d["nodes"] = [asdict(n) for n in r.nodes.values()]
    d["instances"] = [i.to_record() for i in r.instances.values()]
    return d


def _repo_from_record(d: dict[str, Any]) -> Repo:
    d = dict(d)
    nodes = [Node(**n) for n in d.pop("nodes")]
    insts = [Instance.from_record(i) for i in d.pop("instances")]
    repo = Repo(**d)
    repo.nodes = {n.uuid: n for n in nodes}
    repo.instances = {i.name: i for i in insts}
    return repo
