"""The stored form of metadata (format 2): one small generation record plus per-repo records.

Keys (all named in ``keys.py``):

* the **generation record** (``keys.META_ROOT_KEY``), read at every request. Its first bytes are
  ``DVIDMD2 <generation, 16 hex digits>\\n``, then JSON: the counters (next repo, version and
  instance ids), server settings, every repo as ``root -> [repo id, generation of its last
  change]``, ``changed`` (record name -> generation of its last change, for the most recent changes
  after ``since``), and ``pending``: the records the latest mutation wrote (``null``: removed).
  Replacing it by compare-and-set IS the commit of a mutation.
* one **record** per repo head (``<rid>/h``: the repo's fields and its instances' order), repo log
  (``<rid>/l``), instance (``<rid>/i<iid>``) and DAG node (``<rid>/n<vid>``), ids as 8 hex digits,
  under the store's ``epoch``. A record's first 16 bytes are the generation that wrote it, then JSON.

So a mutation writes the generation record and the few records it changed, never the history, and a
process that sees a new generation re-reads only the records named in ``changed``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.model import Node, Repo

MAGIC = b"DVIDMD2 "
HEADER_LEN = len(MAGIC) + 17  # magic, 16 hex digits of generation, newline
REPO_FIELDS = ("repo_id", "root", "alias", "description", "properties", "passcode",
               "mutation_id", "saved_mutation_id", "created", "updated")
#: at most this many names are kept in ``changed``; a process further behind re-reads changed repos
MAX_CHANGED = 128

#: a record's JSON payload; None in ``pending`` means the record was removed
Payload = dict[str, Any]


@dataclass
class Root:
    """The generation record, parsed."""

    gen: int = 0
    epoch: str = ""
    next_repo: int = 1
    next_version: int = 1
    next_instance: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    #: root UUID -> (repo id, generation of the repo's last change), in creation order
    repos: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: every record changed after generation ``since`` is in ``changed``
    since: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    pending: dict[str, Payload | None] = field(default_factory=dict)

    def dumps(self) -> bytes:
        doc = {
            "epoch": self.epoch,
            "next_repo": self.next_repo,
            "next_version": self.next_version,
            "next_instance": self.next_instance,
            "settings": self.settings,
            "repos": {root: list(v) for root, v in self.repos.items()},
            "since": self.since,
            "changed": self.changed,
            "pending": self.pending,
        }
        return MAGIC + b"%016x\n" % self.gen + _json(doc)

    @classmethod
    def loads(cls, raw: bytes) -> Root:
        if not raw.startswith(MAGIC):
            raise ValueError("not a format-2 metadata generation record")
        doc = json.loads(raw[HEADER_LEN:])
        return cls(gen=int(raw[len(MAGIC):HEADER_LEN - 1], 16), epoch=doc["epoch"],
                   next_repo=doc["next_repo"], next_version=doc["next_version"],
                   next_instance=doc["next_instance"], settings=doc["settings"],
                   repos={root: (v[0], v[1]) for root, v in doc["repos"].items()},
                   since=doc["since"], changed=doc["changed"], pending=doc["pending"])

    def successor(self, txn_counters: tuple[int, int, int], settings: dict[str, Any],
                  repos: dict[str, tuple[int, int]], changes: dict[str, Payload | None],
                  pending: bool) -> Root:
        """The next generation: new counters, settings and repo list; ``changes`` join ``changed``
        (the oldest names beyond ``MAX_CHANGED`` leave it, advancing ``since``) and, if ``pending``
        (the records are not written in the same atomic step), are carried in the record itself."""
        gen = self.gen + 1
        changed = {n: g for n, g in self.changed.items() if n not in changes}
        changed.update(dict.fromkeys(changes, gen))
        since = self.since
        if len(changed) > MAX_CHANGED:
            ordered = sorted(changed.values())
            since = max(since, ordered[len(changed) - MAX_CHANGED - 1])
            changed = {n: g for n, g in changed.items() if g > since}
        next_repo, next_version, next_instance = txn_counters
        return Root(gen=gen, epoch=self.epoch, next_repo=next_repo, next_version=next_version,
                    next_instance=next_instance, settings=settings, repos=repos,
                    since=since, changed=changed, pending=changes if pending else {})


def header(raw: bytes | None) -> bytes | None:
    """The part of a generation record that changes with every commit (magic + generation)."""
    return None if raw is None else bytes(raw[:HEADER_LEN])


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------------- record names
def repo_prefix(repo_id: int) -> str:
    return f"{repo_id:08x}/"


def head_name(repo_id: int) -> str:
    return f"{repo_id:08x}/h"


def log_name(repo_id: int) -> str:
    return f"{repo_id:08x}/l"


def instance_name(repo_id: int, instance_id: int) -> str:
    return f"{repo_id:08x}/i{instance_id:08x}"


def node_name(repo_id: int, version_id: int) -> str:
    return f"{repo_id:08x}/n{version_id:08x}"


def repo_of(name: str) -> int:
    return int(name[:8], 16)


# --------------------------------------------------------------------------------- record values
def record_bytes(gen: int, payload: Payload) -> bytes:
    return b"%016x" % gen + _json(payload)


def record_gen(raw: bytes) -> int:
    return int(raw[:16], 16)


def record_payload(raw: bytes) -> Payload:
    return json.loads(raw[16:])


def head_payload(repo: Repo) -> Payload:
    return {"repo": {f: getattr(repo, f) for f in REPO_FIELDS},
            "instances": [i.instance_id for i in repo.instances.values()]}


def node_payload(node: Node) -> Payload:
    return asdict(node)


def repo_records(repo: Repo) -> dict[str, Payload]:
    """Every record of one repo (a new or migrated repo)."""
    rid = repo.repo_id
    out = {head_name(rid): head_payload(repo), log_name(rid): {"log": list(repo.log)}}
    for inst in repo.instances.values():
        out[instance_name(rid, inst.instance_id)] = inst.to_record()
    for node in repo.nodes.values():
        out[node_name(rid, node.version_id)] = node_payload(node)
    return out


def _kind(name: str) -> str:
    return name[9]


def build_repo(records: dict[str, Payload]) -> Repo:
    """A repo from all of its records (any order); nodes in version order, which is the order
    they were created in, and instances in the head's order."""
    head: Payload | None = None
    log: list[str] = []
    insts: dict[int, Instance] = {}
    nodes: list[Node] = []
    for name, payload in records.items():
        kind = _kind(name)
        if kind == "h":
            head = payload
        elif kind == "l":
            log = payload["log"]
        elif kind == "i":
            inst = Instance.from_record(payload)
            insts[inst.instance_id] = inst
        elif kind == "n":
            nodes.append(Node(**payload))
    if head is None:
        raise ValueError("repo head record missing")
    repo = Repo(**head["repo"], log=log)
    nodes.sort(key=lambda n: n.version_id)
    repo.nodes = {n.uuid: n for n in nodes}
    repo.instances = {insts[i].name: insts[i] for i in head["instances"] if i in insts}
    return repo


def patch_repo(old: Repo, changes: dict[str, Payload | None]) -> Repo:
    """A new repo object: ``old`` with ``changes`` (records by name; None: removed) applied. Costs
    two dict copies plus the changed records, whatever the size of the DAG."""
    repo = copy.copy(old)
    repo.nodes = dict(old.nodes)
    byv = repo._by_version = dict(old.by_version())
    last = next(reversed(byv), 0)
    insts = {i.instance_id: i for i in old.instances.values()}
    order = list(insts)
    out_of_order = False
    for name, payload in changes.items():
        kind = _kind(name)
        if kind == "h" and payload is not None:
            for f, v in payload["repo"].items():
                setattr(repo, f, v)
            order = payload["instances"]
        elif kind == "l" and payload is not None:
            repo.log = payload["log"]
        elif kind == "i":
            iid = int(name[10:], 16)
            if payload is None:
                insts.pop(iid, None)
            else:
                insts[iid] = Instance.from_record(payload)
        elif kind == "n" and payload is not None:
            node = Node(**payload)
            out_of_order |= node.uuid not in repo.nodes and node.version_id < last
            repo.put_node(node)
    if out_of_order:
        repo.nodes = {n.uuid: n for n in sorted(repo.nodes.values(), key=lambda n: n.version_id)}
        repo._by_version = None
    repo.instances = {insts[i].name: insts[i] for i in order if i in insts}
    return repo
