"""One generation of metadata in memory (``Catalog``) and a mutation's copy-on-write view of it
(``CatalogTxn``, the ``Txn`` of ``txn.py``).

A published ``Catalog`` is never modified: requests keep using the repos and nodes they resolved
while another thread adopts a newer generation. A mutation edits private copies of only the repos
and nodes it touches, so it costs what it changes plus two dict copies per touched repo, not the
size of the history; ``CatalogTxn.changes`` then lists the records to write.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dvid.datastore import records
from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, Repo
from dvid.datastore.records import Payload, Root
from dvid.datastore.txn import missing_node, missing_repo


@dataclass
class Catalog:
    """The metadata as of one generation record (``raw``; None while the store has none)."""

    root: Root
    raw: bytes | None
    repos_by_root: dict[str, Repo]
    #: per-generation memo of derived lookups (resolved UUID specs, parent maps); dropped with it
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def gen(self) -> int:
        return self.root.gen

    @property
    def settings(self) -> dict[str, Any]:
        return self.root.settings

    @property
    def header(self) -> bytes | None:
        return records.header(self.raw)


class CatalogTxn:
    """Edits of one mutation against ``base``; nothing is shared with ``base`` once edited."""

    def __init__(self, base: Catalog) -> None:
        self.base = base
        root = base.root
        self.next_repo, self.next_version, self.next_instance = root.next_repo, root.next_version, root.next_instance
        self.settings: dict[str, Any] = root.settings
        self._drafts: dict[str, Repo] = {}
        self._added: list[str] = []
        self._dropped: dict[str, Repo] = {}
        self._dirty_nodes: dict[str, dict[str, None]] = {}

    # ----------------------------------------------------------------------------------- reading
    def repos(self) -> Iterator[Repo]:
        for root in [*self.base.repos_by_root, *self._added]:
            r = self.find_repo(root)
            if r is not None:
                yield r

    def find_repo(self, root: str) -> Repo | None:
        if root in self._dropped:
            return None
        return self._drafts.get(root) or self.base.repos_by_root.get(root)

    # ----------------------------------------------------------------------------------- editing
    def repo(self, root: str) -> Repo:
        draft = self._drafts.get(root)
        if draft is not None and root not in self._dropped:
            return draft
        base = self.base.repos_by_root.get(root)
        if base is None or root in self._dropped:
            raise missing_repo(root)
        draft = copy.copy(base)
        draft.log = list(base.log)
        draft.properties = dict(base.properties)
        draft.nodes = dict(base.nodes)
        draft.instances = dict(base.instances)
        draft._by_version = dict(base.by_version())
        self._drafts[root] = draft
        return draft

    def node(self, repo: Repo, uuid: str) -> Node:
        dirty = self._dirty_nodes.setdefault(repo.root, {})
        node = repo.nodes.get(uuid)
        if node is None:
            raise missing_node(uuid)
        if uuid not in dirty:
            node = Node(uuid=node.uuid, version_id=node.version_id, branch=node.branch, note=node.note,
                        log=list(node.log), locked=node.locked, parents=list(node.parents),
                        children=list(node.children), created=node.created, updated=node.updated)
            repo.put_node(node)
            dirty[uuid] = None
        return node

    def add_node(self, repo: Repo, node: Node) -> None:
        repo.put_node(node)
        self._dirty_nodes.setdefault(repo.root, {})[node.uuid] = None

    def add_repo(self, repo: Repo) -> None:
        self._drafts[repo.root] = repo
        self._dropped.pop(repo.root, None)
        self._added.append(repo.root)
        self._dirty_nodes[repo.root] = dict.fromkeys(repo.nodes)

    def drop_repo(self, root: str) -> Repo | None:
        r = self.find_repo(root)
        if r is not None:
            self._dropped[root] = r
        return r

    def put_instance(self, repo: Repo, instance: Instance) -> None:
        repo.instances[instance.name] = instance

    def drop_instance(self, repo: Repo, name: str) -> None:
        del repo.instances[name]

    # ------------------------------------------------------------------------------------ result
    def changes(self) -> tuple[dict[str, Payload | None], set[str]]:
        """The records this mutation changed (name -> payload, None: removed) and the roots of the
        repos it touched (including dropped ones)."""
        out: dict[str, Payload | None] = {}
        touched: set[str] = set(self._dropped)
        for root, draft in self._drafts.items():
            if root in self._dropped:
                continue
            base = None if root in self._added else self.base.repos_by_root.get(root)
            before = len(out)
            rid = draft.repo_id
            if base is None:
                out.update(records.repo_records(draft))
            else:
                head = records.head_payload(draft)
                if head != records.head_payload(base):
                    out[records.head_name(rid)] = head
                if draft.log != base.log:
                    out[records.log_name(rid)] = {"log": list(draft.log)}
                old = {i.instance_id: i for i in base.instances.values()}
                new = {i.instance_id: i for i in draft.instances.values()}
                for iid, inst in new.items():
                    if old.get(iid) is not inst:
                        out[records.instance_name(rid, iid)] = inst.to_record()
                for iid in old.keys() - new.keys():
                    out[records.instance_name(rid, iid)] = None
                for uuid in self._dirty_nodes.get(root, ()):
                    node = draft.nodes[uuid]
                    out[records.node_name(rid, node.version_id)] = records.node_payload(node)
            if len(out) > before:
                touched.add(root)
        return out, touched

    def result(self, root: Root, raw: bytes, touched: set[str]) -> Catalog:
        """The catalog this mutation leaves, once its generation record ``raw`` is committed."""
        repos: dict[str, Repo] = {}
        for r in [*self.base.repos_by_root, *self._added]:
            if r in self._dropped:
                continue
            repos[r] = self._drafts[r] if r in touched else self.base.repos_by_root[r]
        return Catalog(root, raw, repos)

    def root_fields_changed(self) -> bool:
        b = self.base.root
        return ((self.next_repo, self.next_version, self.next_instance, self.settings)
                != (b.next_repo, b.next_version, b.next_instance, b.settings))
