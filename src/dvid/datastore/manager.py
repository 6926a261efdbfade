"""Repos, the version DAG, UUID resolution, the instance registry and metadata persistence.

All metadata lives in ONE metadata key as JSON and every mutation is read, modify, compare-and-set,
retried on conflict, so several worker processes (or front ends sharing an object store) never lose
an update. ``refresh()`` runs at the start of every request and reloads only when the stored bytes
changed, so a change made through one worker is visible through every other at its next request.

Errors are ``BadRequest`` with DVID's message texts (core.md); the server appends `` (<path>).``.
``types`` maps type name -> datatype object (duck-typed ``DataType``: ``url``, ``version``,
``init_props(settings)``, ``info(instance, view)``); it is injected so this layer never imports
datatypes.
"""

from __future__ import annotations

import random
import re
import threading
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from dvid.datastore import keys
from dvid.datastore.blobs import blob_ref, fnv1_128, ref_hash
from dvid.datastore.instance import Instance
from dvid.datastore.model import INITIAL_MUTATION_ID, Node, NodeRef, Repo
from dvid.datastore.persist import State
from dvid.datastore.settings import (
    parse_checksum,
    parse_compression,
    parse_tags,
    parse_versioned,
    string_setting,
)
from dvid.datastore.timefmt import log_line, rfc3339_nano
from dvid.datastore.view import Ancestry, MergeConflict, VersionedView
from dvid.errors import BadRequest
from dvid.storage.base import Engine

__all__ = ["Datastore", "Node", "NodeRef", "Repo", "RESERVED_NAMES", "INITIAL_MUTATION_ID"]

RESERVED_NAMES = ("log", "branch", "note", "commit", "newversion")
META_KEY = keys.metadata_key(b"\x00meta")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
T = TypeVar("T")


def _new_uuid() -> str:
    return uuidlib.uuid4().hex


def _check_assigned_uuid(u: str) -> None:
    if len(u) != 32:
        raise BadRequest("Bad UUID provided: UUID must be 32 character hexadecimal string")
    m = re.search(r"[^0-9a-fA-F]", u)
    if m:
        raise BadRequest(f"Bad UUID provided: encoding/hex: invalid byte: U+{ord(m.group()):04X} {m.group()!r}")


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
        startup: bool = False,
    ) -> None:
        """``startup=True`` (the serving main process, once) advances the saved mutation-id stride
        as DVID does on open (core.md §3.7)."""
        self.store = store
        self.meta = metadata_store or store
        self.types = types
        self.instance_id_gen = instance_id_gen
        self.instance_id_start = instance_id_start
        self.min_mutation_id_start = min_mutation_id_start
        self._lock = threading.RLock()
        self._raw: bytes | None = None
        self._state = State()
        self._parents_cache: dict[str, dict[int, list[int]]] = {}
        self.refresh()
        if startup and self._state.repos:

            def bump(st: State) -> None:
                for r in st.repos.values():
                    r.mutation_id = r.saved_mutation_id
                    r.saved_mutation_id += 100

            self._mutate(bump)

    # ------------------------------------------------------------------ persistence / multi-worker
    def refresh(self) -> None:
        raw = self.meta.get(META_KEY)
        if raw != self._raw:
            with self._lock:
                self._adopt(raw, State.loads(raw))

    def _adopt(self, raw: bytes | None, state: State) -> None:
        self._raw = raw
        self._state = state
        self._parents_cache = {}

    def _mutate(self, fn: Callable[[State], T]) -> T:
        """Apply ``fn`` to a fresh copy of the stored state and compare-and-set it; retry on races."""
        with self._lock:
            for _ in range(1000):
                raw = self.meta.get(META_KEY)
                state = State.loads(raw)
                result = fn(state)
                new_raw = state.dumps()
                if self.meta.compare_and_set(META_KEY, raw, new_raw):
                    self._adopt(new_raw, state)
                    return result
            raise BadRequest("metadata is too contended to update; try again")

    def close(self) -> None:
        if self.meta is not self.store:
            self.meta.close()
        self.store.close()

    # ------------------------------------------------------------------------------ small lookups
    @staticmethod
    def _repo_of(st: State, ref: NodeRef) -> Repo:
        repo = st.repos.get(ref.repo.root)
        if repo is None:
            raise BadRequest(f"repo with root {ref.repo.root} no longer exists")
        return repo

    @classmethod
    def _node_of(cls, st: State, ref: NodeRef) -> tuple[Repo, Node]:
        repo = cls._repo_of(st, ref)
        node = repo.nodes.get(ref.node.uuid)
        if node is None:
            raise BadRequest(f"node {ref.node.uuid} no longer exists")
        return repo, node

    @staticmethod
    def _by_version(repo: Repo) -> dict[int, Node]:
        return {n.version_id: n for n in repo.nodes.values()}

    def _all_uuids(self, st: State) -> set[str]:
        return {u for r in st.repos.values() for u in r.nodes}

    # ------------------------------------------------------------------------------------- repos
    def new_repo(self, alias: str = "", description: str = "", root: str | None = None, passcode: str = "") -> Repo:
        def op(st: State) -> Repo:
            uuid = root if root else _new_uuid()
            if uuid in self._all_uuids(st):
                raise BadRequest("UUID already exists in datastore")
            now = rfc3339_nano()
            start = max(INITIAL_MUTATION_ID, self.min_mutation_id_start)
            repo = Repo(repo_id=st.next_repo, root=uuid, alias=alias, description=description,
                        passcode=passcode, mutation_id=start, saved_mutation_id=start + 100,
                        created=now, updated=now)
            st.next_repo += 1
            repo.nodes[uuid] = Node(uuid=uuid, version_id=st.next_version, created=now, updated=now)
            st.next_version += 1
            st.repos[uuid] = repo
            return repo

        return self._mutate(op)

    def repos(self) -> list[Repo]:
        return list(self._state.repos.values())

    def resolve(self, spec: str) -> NodeRef:
        st = self._state
        if spec.count(":") > 1:
            raise BadRequest(f'bad UUID specification "{spec}"')
        prefix, _, branch = spec.partition(":")
        has_branch = ":" in spec
        if has_branch and prefix == "":
            if len(st.repos) != 1:
                if not st.repos:
                    raise BadRequest("no repos exist on this server")
                raise BadRequest("UUID must be specified if more than one repo exists")
            repo = next(iter(st.repos.values()))
            return self._branch_node(repo, branch or "master", spec)
        repo, node = self._match_prefix(st, prefix)
        if has_branch and branch:
            return self._branch_node(repo, branch, spec)
        return NodeRef(repo, node)

    @staticmethod
    def _match_prefix(st: State, prefix: str) -> tuple[Repo, Node]:
        def find(p: str) -> list[tuple[Repo, Node]]:
            return [(r, n) for r in st.repos.values() for u, n in r.nodes.items() if u.startswith(p)]

        found = find(prefix)
        if not found and prefix != prefix.lower() and re.fullmatch(r"[0-9A-Fa-f]+", prefix):
            found = find(prefix.lower())
        if len(found) > 1:
            raise BadRequest(f"more than one UUID matches {prefix}")
        if not found:
            raise BadRequest(f"could not find UUID with partial match to {prefix}")
        return found[0]

    def _branch_node(self, repo: Repo, branch: str, spec: str) -> NodeRef:
        name, tilde, back = branch.partition("~")
        if tilde:
            try:
                n = int(back)
            except ValueError:
                raise BadRequest(f'can\'t parse parent "{back}" in branch "{name}"') from None
            chain = self._ancestry_by_branch(repo, name)
            if not chain:
                raise BadRequest(f'branch "{name}" not found in repo "{repo.root}"')
            if n < 0 or n >= len(chain):
                raise BadRequest(f'parent {n} is out of range for branch "{name}"')
            return NodeRef(repo, chain[n])
        head = self._branch_head(repo, name)
        if head is None:
            raise BadRequest(f'branch "{name}" not found in repo "{repo.root}"')
        return NodeRef(repo, head)

    def _branch_head(self, repo: Repo, name: str) -> Node | None:
        """The unique node on the branch with no child on the same branch."""
        stored = "" if name == "master" else name
        byv = self._by_version(repo)
        heads = [n for n in repo.nodes.values()
                 if n.branch == stored and not any(byv[c].branch == stored for c in n.children if c in byv)]
        if not heads:
            return None
        if len(heads) > 1:
            heads.sort(key=lambda n: n.version_id)
            raise BadRequest(f'branch "{name}" has more than 1 child: ' + ", ".join(n.uuid for n in heads))
        return heads[0]

    def _ancestry_by_branch(self, repo: Repo, name: str) -> list[Node]:
        head = self._branch_head(repo, name)
        if head is None:
            return []
        byv = self._by_version(repo)
        chain = [head]
        while chain[-1].parents:
            chain.append(byv[chain[-1].parents[0]])
        return chain

    def branch_versions(self, ref: NodeRef, branch: str) -> list[str]:
        repo = self._repo_of(self._state, ref)
        return [n.uuid for n in self._ancestry_by_branch(repo, branch)]

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        leaf = None
        try:
            leaf = self._branch_head(repo, "master")
        except BadRequest:
            leaf = None
        instances: dict[str, Any] = {}
        for name, inst in repo.instances.items():
            if inst.deleted:
                continue
            dt = self.types.get(inst.typename)
            view = self._view_at(repo, leaf, inst) if leaf is not None else None
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
                "Nodes": {u: _node_json(n) for u, n in repo.nodes.items()},
            },
            "MutationID": repo.mutation_id,
            "SavedMutationID": repo.saved_mutation_id,
            "Created": repo.created,
            "Updated": repo.updated,
        }

    def repos_json(self) -> dict[str, Any]:
        return {root: self.repo_json(r) for root, r in self._state.repos.items()}

    def set_repo_info(self, ref: NodeRef, alias: str | None, description: str | None) -> None:
        def op(st: State) -> None:
            repo = self._repo_of(st, ref)
            if alias is not None:
                repo.alias = alias
            if description is not None:
                repo.description = description
            repo.updated = rfc3339_nano()

        self._mutate(op)

    def append_repo_log(self, ref: NodeRef, lines: list[str]) -> None:
        def op(st: State) -> None:
            repo = self._repo_of(st, ref)
            repo.log.extend(log_line(m) for m in lines)
            repo.updated = rfc3339_nano()

        self._mutate(op)

    def delete_repo(self, root: str, passcode: str = "") -> None:
        repo = self._state.repos.get(root)
        if repo is None:
            raise BadRequest("UUID for repo deletion must match UUID of repo's root")
        if repo.passcode and passcode != repo.passcode:
            raise BadRequest(f"Passcode does not match for repo with root {root}")

        def op(st: State) -> list[int]:
            r = st.repos.pop(root, None)
            return [i.instance_id for i in r.instances.values()] if r else []

        for iid in self._mutate(op):
            self.store.delete_range(*keys.instance_range(iid))

    # ------------------------------------------------------------------------------------- nodes
    def set_node_note(self, ref: NodeRef, note: str, *, admin: bool = False) -> None:
        def op(st: State) -> None:
            _, node = self._node_of(st, ref)
            node.note = note
            node.updated = rfc3339_nano()

        self._mutate(op)

    def append_node_log(self, ref: NodeRef, lines: list[str], *, admin: bool = False) -> None:
        def op(st: State) -> None:
            _, node = self._node_of(st, ref)
            node.log.extend(log_line(m) for m in lines)
            node.updated = rfc3339_nano()

        self._mutate(op)

    def commit(self, ref: NodeRef, note: str = "", log: list[str] | None = None, *, admin: bool = False) -> None:
        def op(st: State) -> None:
            repo, node = self._node_of(st, ref)
            if node.locked:
                raise BadRequest("Could not post to locked node")
            node.locked = True
            if note:
                node.note = note
            node.log.extend(log_line(m) for m in (log or []))
            node.updated = repo.updated = rfc3339_nano()

        self._mutate(op)

    def _add_child(self, st: State, ref: NodeRef, branch: str, note: str, uuid: str | None,
                   new_branch: bool) -> Node:
        repo, parent = self._node_of(st, ref)
        if not parent.locked:
            raise BadRequest("can't branch an unlocked node")
        byv = self._by_version(repo)
        if new_branch:
            if any(n.branch == branch for n in repo.nodes.values()):
                raise BadRequest("branch already exists with given name")
        elif any(byv[c].branch == branch for c in parent.children if c in byv):
            raise BadRequest("branch already exists with given name")
        child_uuid = uuid or _new_uuid()
        if child_uuid in self._all_uuids(st):
            raise BadRequest("UUID already exists in datastore")
        now = rfc3339_nano()
        child = Node(uuid=child_uuid, version_id=st.next_version, branch=branch, note=note,
                     parents=[parent.version_id], created=now, updated=now)
        st.next_version += 1
        repo.nodes[child_uuid] = child
        parent.children.append(child.version_id)
        parent.updated = repo.updated = now
        return child

    def new_version(self, ref: NodeRef, note: str = "", uuid: str | None = None) -> str:
        if uuid:
            _check_assigned_uuid(uuid)
        return self._mutate(lambda st: self._add_child(st, ref, ref.node.branch, note, uuid, False).uuid)

    def branch(self, ref: NodeRef, name: str, note: str = "", uuid: str | None = None) -> str:
        if name in ("", "master"):
            raise BadRequest("Cannot create a master branch")
        if uuid:
            _check_assigned_uuid(uuid)

        def op(st: State) -> str:
            _, parent = self._node_of(st, ref)
            same = name == parent.branch
            return self._add_child(st, ref, name, note, uuid, not same).uuid

        return self._mutate(op)

    def tag(self, ref: NodeRef, tag: str, note: str = "") -> str:
        if not tag:
            raise BadRequest("tag requires a non-empty 'tag' value")

        def op(st: State) -> str:
            child = self._add_child(st, ref, f"tag-{tag}", note, tag, True)
            child.locked = True
            child.note = f'Tag of version {ref.node.uuid} with "{tag}"'
            return child.uuid

        return self._mutate(op)

    def merge(self, ref: NodeRef, parents: list[str], note: str = "", merge_type: str = "conflict-free") -> str:
        if len(parents) < 2:
            raise BadRequest("Must specify at least two parent UUIDs using 'parents' field")
        if merge_type != "conflict-free":
            raise BadRequest("'mergeType' must be 'conflict-free' at this time")
        resolved: list[NodeRef] = []
        for p in parents:
            try:
                resolved.append(self.resolve(p))
            except BadRequest as e:
                raise BadRequest(f'can\'t match parent "{p}": {e}') from None
        for r in resolved:
            if r.repo.root != ref.repo.root:
                raise BadRequest(f"parent {r.uuid} is not in the repo of {ref.uuid}")
            if not r.node.locked:
                raise BadRequest("can't branch an unlocked node")

        def op(st: State) -> str:
            repo = self._repo_of(st, ref)
            pnodes = [self._node_of(st, r)[1] for r in resolved]
            if not all(p.locked for p in pnodes):
                raise BadRequest("can't branch an unlocked node")
            now = rfc3339_nano()
            child = Node(uuid=_new_uuid(), version_id=st.next_version, note=note,
                         parents=[p.version_id for p in pnodes], created=now, updated=now)
            st.next_version += 1
            repo.nodes[child.uuid] = child
            for p in pnodes:
                p.children.append(child.version_id)
                p.updated = now
            repo.updated = now
            return child.uuid

        return self._mutate(op)

    def resolve_conflicts(self, ref: NodeRef, data: list[str], parents: list[str], note: str = "") -> str:
        """Merge ``parents`` with the first one winning every conflict (core.md §3.5).

        For each lower-priority parent, the keys that would conflict at the merge (changed on both
        sides) are tombstoned in a new committed child of that parent on branch
        ``conflict-<uuid>``; one-sided changes are kept. (DVID tombstones every differing key, which
        also deletes changes made on only one side.)"""
        if not data:
            raise BadRequest("Must specify at least one data instance using 'data' field")
        if len(parents) < 2:
            raise BadRequest("Must specify at least two parent UUIDs using 'parents' field")
        prefs = []
        for p in parents:
            try:
                prefs.append(self.resolve(p))
            except BadRequest as e:
                raise BadRequest(f'can\'t match parent "{p}": {e}') from None
        insts = [self.instance(ref, name) for name in data]
        top = prefs[0]
        new_parents = [top.uuid]
        for low in prefs[1:]:
            deletions: dict[str, list[bytes]] = {}
            pm = dict(self._parents_map(self._repo_of(self._state, ref)))
            virtual = max(pm) + 1
            pm[virtual] = [top.version, low.version]
            for inst in insts:
                if not inst.versioned:
                    continue
                merged = VersionedView(self.store, inst.instance_id, Ancestry(virtual, pm))
                candidates = {k for k, _ in self.view(top, inst).scan(b"", b"\xff" * 32)}
                candidates |= {k for k, _ in self.view(low, inst).scan(b"", b"\xff" * 32)}
                conflicts = []
                for tk in sorted(candidates):
                    try:
                        merged.get(tk)
                    except MergeConflict:
                        conflicts.append(tk)
                if conflicts:
                    deletions[inst.name] = conflicts
            if not deletions:
                new_parents.append(low.uuid)
                continue
            child_uuid = self.branch(low, f"conflict-{low.uuid}", "Version for deleting conflicts before merge")
            child = self.resolve(child_uuid)
            for inst in insts:
                if inst.name in deletions:
                    self.view(child, inst).write(deletes=deletions[inst.name])
            self.commit(child)
            new_parents.append(child_uuid)
        return self.merge(ref, new_parents, note)

    # --------------------------------------------------------------------------------- instances
    def new_instance(self, ref: NodeRef, typename: str, name: str, settings: dict[str, Any], *,
                     check_lock: bool = True, admin: bool = False) -> Instance:
        if check_lock and not admin and ref.node.locked:
            raise BadRequest(f"New data instance cannot be created on locked node {ref.uuid}")
        dt = self.types.get(typename)
        if dt is None:
            raise BadRequest(f'Data type "{typename}" is not supported by current DVID server')
        existing = self._repo_of(self._state, ref).instances.get(name)
        if existing is not None and not existing.deleted:
            raise BadRequest(f'Data named "{name}" already exists in repo (root {ref.repo.root})')
        if name in RESERVED_NAMES:
            raise BadRequest(f'cannot use reserved name "{name}"')
        # DVID's config keys are case-insensitive; the HTTP path already lower-cases them.
        settings = {str(k).lower(): v for k, v in settings.items()}
        compression = parse_compression(settings)
        checksum = parse_checksum(settings)
        versioned = parse_versioned(settings)
        tags = parse_tags(string_setting(settings, "tags", "Tags"))
        props = dt.init_props(settings)
        config_dump = _go_repr(settings)

        def op(st: State) -> Instance:
            repo = self._repo_of(st, ref)
            old = repo.instances.get(name)
            if old is not None and not old.deleted:
                raise BadRequest(f'Data named "{name}" already exists in repo (root {repo.root})')
            used = {i.instance_id for r in st.repos.values() for i in r.instances.values()}
            if self.instance_id_gen == "random":
                iid = random.randint(1, 2**32 - 2)
                while iid in used:
                    iid = random.randint(1, 2**32 - 2)
            else:
                iid = max(st.next_instance, self.instance_id_start)
                st.next_instance = iid + 1
            inst = Instance(name=name, typename=typename, data_uuid=_new_uuid(), instance_id=iid,
                            repo_uuid=ref.uuid, compression=compression, checksum=checksum,
                            versioned=versioned, tags=tags, props=props, kvstore=self.store.description)
            repo.instances[name] = inst
            repo.log.append(log_line(f'New data instance "{name}" of type "{typename}" with config {config_dump}'))
            repo.updated = rfc3339_nano()
            return inst

        return self._mutate(op)

    def instance(self, ref: NodeRef, name: str) -> Instance:
        repo = self._state.repos.get(ref.repo.root)
        inst = repo.instances.get(name) if repo else None
        if inst is None or inst.deleted:
            raise BadRequest("invalid data instance name")
        return inst

    def update_instance(self, ref: NodeRef, instance: Instance) -> None:
        def op(st: State) -> None:
            repo = self._repo_of(st, ref)
            if instance.name not in repo.instances:
                raise BadRequest("invalid data instance name")
            repo.instances[instance.name] = Instance.from_record(instance.to_record())

        self._mutate(op)

    def rename_instance(self, ref: NodeRef, old: str, new: str, passcode: str = "") -> None:
        def op(st: State) -> None:
            repo = self._repo_of(st, ref)
            if repo.passcode and passcode != repo.passcode:
                raise BadRequest(f"Passcode does not match for repo with root {repo.root}")
            inst = repo.instances.get(old)
            if inst is None or inst.deleted:
                raise BadRequest(f'Data instance "{old}" not found')
            if new in repo.instances or new in RESERVED_NAMES:
                raise BadRequest(f'Data named "{new}" already exists in repo (root {repo.root})')
            del repo.instances[old]
            inst.name = new
            repo.instances[new] = inst
            repo.log.append(log_line(f'Renamed data instance "{old}" to "{new}"'))

        self._mutate(op)

    def delete_instance(self, ref: NodeRef, name: str, passcode: str = "") -> None:
        def op(st: State) -> Instance:
            repo = self._repo_of(st, ref)
            if repo.passcode and passcode != repo.passcode:
                raise BadRequest(f"Passcode does not match for repo with root {repo.root}")
            # DVID tries the data UUID first, then the name.
            inst = next((i for i in repo.instances.values() if i.data_uuid == name), None)
            if inst is None:
                inst = repo.instances.get(name)
            if inst is None or inst.deleted:
                raise BadRequest(f'Data instance "{name}" not found')
            del repo.instances[inst.name]
            repo.log.append(log_line(f"Delete data instance '{inst.name}' of type '{inst.typename}'"))
            return inst

        inst = self._mutate(op)
        self.store.delete_range(*keys.instance_range(inst.instance_id))

    def _parents_map(self, repo: Repo) -> dict[int, list[int]]:
        pm = self._parents_cache.get(repo.root)
        if pm is None:
            pm = self._parents_cache[repo.root] = {n.version_id: list(n.parents) for n in repo.nodes.values()}
        return pm

    def _view_at(self, repo: Repo, node: Node, instance: Instance) -> VersionedView:
        if not instance.versioned:
            root = repo.nodes[repo.root].version_id
            return VersionedView(self.store, instance.instance_id, Ancestry(root, {root: []}))
        return VersionedView(self.store, instance.instance_id, Ancestry(node.version_id, self._parents_map(repo)))

    def view(self, ref: NodeRef, instance: Instance) -> VersionedView:
        repo = self._state.repos.get(ref.repo.root, ref.repo)
        node = repo.nodes.get(ref.node.uuid, ref.node)
        return self._view_at(repo, node, instance)

    def master_leaf(self, repo: Repo) -> Node | None:
        try:
            return self._branch_head(repo, "master")
        except BadRequest:
            return None

    def types_in_use(self) -> set[str]:
        return {i.typename for r in self._state.repos.values() for i in r.instances.values() if not i.deleted}

    def next_mutation_id(self, ref: NodeRef) -> int:
        def op(st: State) -> int:
            repo = self._repo_of(st, ref)
            repo.mutation_id += 1
            if repo.mutation_id >= repo.saved_mutation_id:
                repo.saved_mutation_id = repo.mutation_id + 100
            return repo.mutation_id

        return self._mutate(op)

    # ------------------------------------------------------------------------------ blobs, settings
    def put_blob(self, data: bytes) -> str:
        h = fnv1_128(data)
        self.store.put(keys.blob_key(h), bytes(data))
        return blob_ref(h)

    def get_blob(self, ref: str) -> bytes | None:
        h = ref_hash(ref)
        return None if h is None else self.store.get(keys.blob_key(h))

    def get_setting(self, key: str, default: Any = None) -> Any:
        return self._state.settings.get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        def op(st: State) -> None:
            st.settings[key] = value

        self._mutate(op)


def _go_repr(v: Any) -> str:
    """A value as Go's ``%v`` prints it (maps with sorted keys), for the instance-creation log line."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_repr(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(_go_repr(x) for x in v) + "]"
    return str(v)


def _node_json(n: Node) -> dict[str, Any]:
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
