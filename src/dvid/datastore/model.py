"""The metadata model: repos, DAG nodes, and resolved node references."""

from __future__ import annotations

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
