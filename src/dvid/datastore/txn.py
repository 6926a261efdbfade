"""The interface a metadata mutation sees: read the current repos, edit what it changes.

A mutation is a plain function of a ``Txn`` (``repos.py``, ``instances.py``). The metadata layer
runs it against the newest stored state and retries it if another process committed first, so a
mutation must be a pure function of the ``Txn`` and its arguments (no side effects outside it).
Everything it changes goes through ``repo``/``node``/``add_*``/``put_*``/``drop_*``, which is how the
metadata layer knows what to write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, NodeRef, Repo
from dvid.errors import BadRequest


class Txn(Protocol):
    next_repo: int
    next_version: int
    next_instance: int
    #: server-wide settings; assign a new dict to change them
    settings: dict[str, Any]

    def repos(self) -> Iterable[Repo]:
        """Every repo, read-only."""

    def find_repo(self, root: str) -> Repo | None:
        """A repo by root UUID, read-only."""

    def repo(self, root: str) -> Repo:
        """The repo with this root, to edit; raises if it no longer exists."""

    def node(self, repo: Repo, uuid: str) -> Node:
        """A node of ``repo`` (as returned by ``repo``), to edit; raises if it no longer exists."""

    def add_node(self, repo: Repo, node: Node) -> None: ...

    def add_repo(self, repo: Repo) -> None: ...

    def drop_repo(self, root: str) -> Repo | None: ...

    def put_instance(self, repo: Repo, instance: Instance) -> None:
        """Add an instance or replace the one of that name (same place in the order)."""

    def drop_instance(self, repo: Repo, name: str) -> None: ...


def edit_node(txn: Txn, ref: NodeRef) -> tuple[Repo, Node]:
    """The repo and node ``ref`` names, both to edit."""
    repo = txn.repo(ref.repo.root)
    return repo, txn.node(repo, ref.node.uuid)


def missing_repo(root: str) -> BadRequest:
    return BadRequest(f"repo with root {root} no longer exists")


def missing_node(uuid: str) -> BadRequest:
    return BadRequest(f"node {uuid} no longer exists")
