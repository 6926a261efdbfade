"""Repos, the version DAG, UUID resolution, the instance registry and metadata persistence.

INTERFACE CONTRACT (agreed before implementation; the server codes against exactly this).

Persistence: all metadata lives in ONE metadata key (``keys.metadata_key(b"\\x00meta")``) as JSON,
replaced with ``Engine.compare_and_set`` so several worker processes / front ends never lose an
update: every mutation is read-modify-CAS, retried on conflict. ``refresh()`` is called by the server
at the start of every request; it re-reads that key and reloads only when the bytes changed, so a
change made through one worker is visible through every other at its next request.

Errors are ``dvid.errors.BadRequest`` carrying DVID's message texts (core.md); the server appends
`` (<path>).``.

``types`` maps type name -> datatype object (duck-typed ``dvid.datatypes.base.DataType``: ``.url``,
``.version``, ``.init_props(settings)``, ``.info(instance, view)``); it is injected so this layer
never imports datatypes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView
from dvid.storage.base import Engine

RESERVED_NAMES = ("log", "branch", "note", "commit", "newversion")
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


class Datastore:
    def __init__(
        self,
        store: Engine,
        types: Mapping[str, Any],
        *,
        instance_id_gen: str = "sequential",
        instance_id_start: int = 1,
        min_mutation_id_start: int = 0,
        metadata_store: Engine | None = None,
    ) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence / multi-worker
    def refresh(self) -> None:
        """Reload metadata if another process changed it (cheap when unchanged)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------- repos
    def new_repo(self, alias: str = "", description: str = "", root: str | None = None, passcode: str = "") -> Repo:
        """Create a repo; ``root`` (not validated, as DVID) already used -> 'UUID already exists in datastore'."""
        raise NotImplementedError

    def repos(self) -> list[Repo]:
        raise NotImplementedError

    def resolve(self, spec: str) -> NodeRef:
        """core.md §2.2: unique prefix, ``prefix:branch``, ``:branch``, ``branch~N``; errors as DVID."""
        raise NotImplementedError

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        """core.md §4 (keys in DVID's order; DataInstances via the datatype's ``info`` at the master leaf)."""
        raise NotImplementedError

    def repos_json(self) -> dict[str, Any]:
        """``{root_uuid: repo_json}``."""
        raise NotImplementedError

    def set_repo_info(self, ref: NodeRef, alias: str | None, description: str | None) -> None:
        raise NotImplementedError

    def append_repo_log(self, ref: NodeRef, lines: list[str]) -> None:
        """Each line stored as ``"<RFC3339 now>  <line>"``."""
        raise NotImplementedError

    def branch_versions(self, ref: NodeRef, branch: str) -> list[str]:
        """UUIDs from the branch leaf back to the root; ``master`` = ""; unknown -> []."""
        raise NotImplementedError

    def delete_repo(self, root: str, passcode: str = "") -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------- nodes
    def set_node_note(self, ref: NodeRef, note: str) -> None:
        raise NotImplementedError

    def append_node_log(self, ref: NodeRef, lines: list[str]) -> None:
        raise NotImplementedError

    def commit(self, ref: NodeRef, note: str = "", log: list[str] | None = None) -> None:
        raise NotImplementedError

    def new_version(self, ref: NodeRef, note: str = "", uuid: str | None = None) -> str:
        """Child on the parent's branch; returns the child UUID."""
        raise NotImplementedError

    def branch(self, ref: NodeRef, name: str, note: str = "", uuid: str | None = None) -> str:
        raise NotImplementedError

    def tag(self, ref: NodeRef, tag: str, note: str = "") -> str:
        raise NotImplementedError

    def merge(self, ref: NodeRef, parents: list[str], note: str = "", merge_type: str = "conflict-free") -> str:
        """All-or-nothing: validates every parent before changing anything."""
        raise NotImplementedError

    def resolve_conflicts(self, ref: NodeRef, data: list[str], parents: list[str], note: str = "") -> str:
        """core.md §3.5 ``resolve``."""
        raise NotImplementedError

    # --------------------------------------------------------------------------------- instances
    def new_instance(self, ref: NodeRef, typename: str, name: str, settings: dict[str, Any], *,
                     check_lock: bool = True) -> Instance:
        """Checks in DVID's order (core.md §1.3 'Create instance details'); ``settings`` keys are
        lower-cased by the caller; datatype props via ``types[typename].init_props(settings)``."""
        raise NotImplementedError

    def instance(self, ref: NodeRef, name: str) -> Instance:
        """BadRequest('invalid data instance name') when unknown or deleted."""
        raise NotImplementedError

    def update_instance(self, ref: NodeRef, instance: Instance) -> None:
        """Persist a changed instance (props, tags, syncs)."""
        raise NotImplementedError

    def rename_instance(self, ref: NodeRef, old: str, new: str, passcode: str = "") -> None:
        raise NotImplementedError

    def delete_instance(self, ref: NodeRef, name: str, passcode: str = "") -> None:
        """Removes the instance from metadata and physically deletes all its keys in all versions."""
        raise NotImplementedError

    def view(self, ref: NodeRef, instance: Instance) -> VersionedView:
        """The instance at the node's version (repo root version when unversioned)."""
        raise NotImplementedError

    def master_leaf(self, repo: Repo) -> Node | None:
        raise NotImplementedError

    def types_in_use(self) -> set[str]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ blobs, settings
    def put_blob(self, data: bytes) -> str:
        """Store unversioned bytes; returns the URL-safe base64 (with padding) of their FNV-1 128 hash."""
        raise NotImplementedError

    def get_blob(self, ref: str) -> bytes | None:
        raise NotImplementedError

    def get_setting(self, key: str, default: Any = None) -> Any:
        """Server-wide settings shared by all workers (e.g. ``throttle``)."""
        raise NotImplementedError

    def set_setting(self, key: str, value: Any) -> None:
        raise NotImplementedError
