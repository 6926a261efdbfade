"""The metadata model: repos, DAG nodes, and resolved node references."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dvid.datastore.instance import Instance

INITIAL_MUTATION_ID = 1_000_000_000


@dataclass
class Node:
    """One version in a repo's DAG (core.md §3.1). ``branch`` "" is master."""

    uuid: str
    version_id: int
    branch: str = ""
    note: str = ""
    log: list[str] = field(default_factory=list)
    locked: bool = False
    parents: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    created: str = ""
    updated: str = ""


@dataclass
class Repo:
    repo_id: int
    root: str
    alias: str = ""
    description: str = ""
    log: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    passcode: str = ""
    #: uuid -> Node
    nodes: dict[str, Node] = field(default_factory=dict)
    #: name -> Instance
    instances: dict[str, Instance] = field(default_factory=dict)
    mutation_id: int = INITIAL_MUTATION_ID
    saved_mutation_id: int = INITIAL_MUTATION_ID + 100
    created: str = ""
    updated: str = ""
    #: version id -> Node, built on first use (see ``by_version``)
    _by_version: dict[int, Node] | None = field(default=None, init=False, repr=False, compare=False)
    #: UUIDs that are not 32 lower-case hex digits (tags, verbatim roots), built on first use
    _odd: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def by_version(self) -> dict[int, Node]:
        """Nodes by version id. Built once; ``put_node`` keeps it current, and a size mismatch (a
        node added straight into ``nodes``) rebuilds it."""
        idx = self._by_version
        if idx is None or len(idx) != len(self.nodes):
            idx = self._by_version = {n.version_id: n for n in self.nodes.values()}
        return idx

    def odd_uuids(self) -> tuple[str, ...]:
        """The node UUIDs that are not plain 32-digit hex: the only ones a full UUID can be a
        proper prefix of (see ``dag.match_prefix``). Built once; ``put_node`` keeps it current."""
        if self._odd is None:
            self._odd = tuple(u for u in self.nodes if not is_plain_uuid(u))
        return self._odd

    def put_node(self, node: Node) -> None:
        """Add ``node`` or replace the node with its UUID."""
        self.nodes[node.uuid] = node
        if self._by_version is not None:
            self._by_version[node.version_id] = node
        if self._odd is not None and not is_plain_uuid(node.uuid) and node.uuid not in self._odd:
            self._odd = (*self._odd, node.uuid)


_PLAIN_UUID = re.compile(r"[0-9a-f]{32}")


def is_plain_uuid(u: str) -> bool:
    """32 lower-case hex digits, as every UUID this server makes."""
    return len(u) == 32 and _PLAIN_UUID.fullmatch(u) is not None


@dataclass
class NodeRef:
    """A resolved UUID spec: the repo and the node (full UUID) it designates."""

    repo: Repo
    node: Node

    @property
    def uuid(self) -> str:
        return self.node.uuid

    @property
    def version(self) -> int:
        return self.node.version_id
