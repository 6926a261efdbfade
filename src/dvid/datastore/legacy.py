"""Metadata format 1: the whole metadata state as ONE JSON document (``keys.LEGACY_META_KEY``).

Stores written before per-repo records keep their metadata this way; ``metadata.py`` reads the
document once, on first open, and migrates it. ``dumps`` remains so tests and benchmarks can build
such a store.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, Repo

FORMAT_VERSION = 1
_REPO_FIELDS = ("repo_id", "root", "alias", "description", "log", "properties", "passcode")
_REPO_TAIL = ("mutation_id", "saved_mutation_id", "created", "updated")


class State:
    """Everything the format-1 document holds: counters, repos, server-wide settings."""

    def __init__(self) -> None:
        self.next_repo = 1
        self.next_version = 1
        self.next_instance = 1
        self.repos_by_root: dict[str, Repo] = {}
        self.settings: dict[str, Any] = {}

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
        state = cls()
        if not raw:
            return state
        doc = json.loads(raw)
        state.next_repo = doc["next_repo"]
        state.next_version = doc["next_version"]
        state.next_instance = doc["next_instance"]
        state.settings = doc.get("settings", {})
        for rec in doc["repos"]:
            repo = _repo_from_record(rec)
            state.repos_by_root[repo.root] = repo
        return state


def _repo_record(r: Repo) -> dict[str, Any]:
    """A repo as format 1 stored it (the field order of the old ``asdict``)."""
    d: dict[str, Any] = {f: getattr(r, f) for f in _REPO_FIELDS}
    d["nodes"] = [asdict(n) for n in r.nodes.values()]
    d["instances"] = [i.to_record() for i in r.instances.values()]
    d.update({f: getattr(r, f) for f in _REPO_TAIL})
    return d


def _repo_from_record(d: dict[str, Any]) -> Repo:
    d = dict(d)
    nodes = [Node(**n) for n in d.pop("nodes")]
    insts = [Instance.from_record(i) for i in d.pop("instances")]
    repo = Repo(**d)
    repo.nodes = {n.uuid: n for n in nodes}
    repo.instances = {i.name: i for i in insts}
    return repo
