"""DVID's JSON shapes for repos and DAG nodes (core.md §2), and Go's ``%v`` for log lines.

Clients parse these documents, so key order and value forms follow DVID's output exactly. The
instance objects come from each datatype's ``info`` (duck-typed; this layer never imports one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dvid.datastore import dag
from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, Repo
from dvid.datastore.view import VersionedView


def repo_json(repo: Repo, types: Mapping[str, Any],
              view_at: Callable[[Repo, Node, Instance], VersionedView]) -> dict[str, Any]:
    """The ``/repo/<uuid>/info`` document. Instance extents are read at master's head
    (``view_at(repo, leaf, instance)``), as DVID does."""
    leaf = dag.master_leaf(repo)
    instances: dict[str, Any] = {}
    for name, inst in repo.instances.items():
        if inst.deleted:
            continue
        dt = types.get(inst.typename)
        view = view_at(repo, leaf, inst) if leaf is not None else None
        if dt is None:
            instances[name] = {"Base": inst.base_json("", ""), "Extended": {}}
        else:
            instances[name] = dt.info(inst, view)
    return {
        "Root": repo.root,
        "Alias": repo.alias,
        "Description": repo.description,
        "Log": list(repo.log),
        "Properties": dict(repo.properties),
        "DataInstances": instances,
        "DAG": {
            "Root": repo.root,
            "Nodes": {u: node_json(n) for u, n in repo.nodes.items()},
        },
        "MutationID": repo.mutation_id,
        "SavedMutationID": repo.saved_mutation_id,
        "Created": repo.created,
        "Updated": repo.updated,
    }


def node_json(n: Node) -> dict[str, Any]:
    """One DAG node as DVID prints it."""
    return {
        "Branch": n.branch,
        "Note": n.note,
        "Log": list(n.log),
        "UUID": n.uuid,
        "VersionID": n.version_id,
        "Locked": n.locked,
        "Parents": list(n.parents),
        "Children": list(n.children),
        "Created": n.created,
        "Updated": n.updated,
    }


def go_repr(v: Any) -> str:
    """A value as Go's ``%v`` prints it (maps with sorted keys), for the instance-creation log line."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_repr(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_repr(x) for x in v) + "]"
    return str(v)
