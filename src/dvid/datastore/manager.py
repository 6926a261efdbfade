"""``Datastore``: the one object the server talks to for repos, versions, instances and views.

A thin façade over the concerns that live in their own modules: the DAG rules and UUID resolution
(``dag``), metadata persistence shared by every process (``metadata``), the mutations (``repos``,
``instances``, ``conflicts``), DVID's JSON shapes (``render``), blobs and versioned views.

Errors are ``BadRequest`` with DVID's message texts (core.md); the server appends `` (<path>).``.
``types`` maps type name -> datatype object (duck-typed ``DataType``: ``url``, ``version``,
``init_props(settings)``, ``info(instance, view)``); it is injected so this layer never imports
datatypes. ``store_for`` picks the engine holding one instance's data (default: ``store`` for all),
the hook for per-instance stores.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from dvid.datastore import conflicts, dag, instances, keys, render, repos
from dvid.datastore.blobs import blob_ref, fnv1_128, ref_hash
from dvid.datastore.instance import Instance
from dvid.datastore.instances import RESERVED_NAMES
from dvid.datastore.metadata import Metadata
from dvid.datastore.model import INITIAL_MUTATION_ID, Node, NodeRef, Repo
from dvid.datastore.view import Ancestry, VersionedView
from dvid.datastore.views import drop_instance_data, drop_version_data, layout_of, view_for
from dvid.errors import BadRequest
from dvid.storage.base import Engine

__all__ = ["Datastore", "Node", "NodeRef", "Repo", "RESERVED_NAMES", "INITIAL_MUTATION_ID"]
_MISSING = object()
_MEMO_LIMIT = 4096  # resolved specs (and parent maps) remembered per generation
_ANCESTRY_LIMIT = 64  # ancestries kept per process (each holds a dict as long as the version's depth)


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
        store_for: Callable[[Instance], Engine] | None = None,
    ) -> None:
        """``startup=True`` (the serving main process, once) advances the saved mutation-id stride
        as DVID does on open (core.md §3.7)."""
        self.store = store
        self.meta = metadata_store or store
        self.types = types
        self.store_for: Callable[[Instance], Engine] = store_for or (lambda _inst: store)
        self.instance_id_gen = instance_id_gen
        self.instance_id_start = instance_id_start
        self.min_mutation_id_start = min_mutation_id_start
        self._md = Metadata(self.meta)
        self._ancestries: OrderedDict[tuple[int, int], Ancestry] = OrderedDict()
        self._ancestries_lock = threading.Lock()
        if startup and self._repos():
            self._md.mutate(repos.advance_mutation_ids)

    def refresh(self) -> None:
        """Adopt metadata changes made by other processes (called at the start of every request)."""
        self._md.refresh()

    def close(self) -> None:
        if self.meta is not self.store:
            self.meta.close()
        self.store.close()

    def _repos(self) -> Mapping[str, Repo]:
        return self._md.current.repos_by_root

    # ----------------------------------------------------------------------------- reading
    def repos(self) -> list[Repo]:
        return list(self._repos().values())

    def resolve(self, spec: str) -> NodeRef:
        """The node a UUID specification names (``dag.resolve``), remembered for the generation: a
        request for a known spec resolves with one dict lookup, whatever the DAG's size."""
        memo = self._md.current.memo
        key = ("resolve", spec)
        got = memo.get(key)
        if got is None:
            try:
                got = dag.resolve(self._md.current.repos_by_root, spec)
            except BadRequest as e:
                got = (type(e), str(e))
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = got
        if isinstance(got, tuple):
            raise got[0](got[1])
        return got

    def branch_versions(self, ref: NodeRef, branch: str) -> list[str]:
        repo = self._repos().get(ref.repo.root)
        if repo is None:
            raise BadRequest(f"repo with root {ref.repo.root} no longer exists")
        return [n.uuid for n in dag.ancestry_by_branch(repo, branch)]

    def master_leaf(self, repo: Repo) -> Node | None:
        return dag.master_leaf(repo)

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        return render.repo_json(repo, self.types, self._view_at)

    def repos_json(self) -> dict[str, Any]:
        return {root: self.repo_json(r) for root, r in self._repos().items()}

    def instance(self, ref: NodeRef, name: str) -> Instance:
        repo = self._repos().get(ref.repo.root)
        inst = repo.instances.get(name) if repo else None
        if inst is None or inst.deleted:
            raise BadRequest("invalid data instance name")
        return inst

    def types_in_use(self) -> set[str]:
        return {i.typename for r in self._repos().values() for i in r.instances.values() if not i.deleted}

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value derived from this generation's metadata, made once per generation and process
        (the memo is dropped with the generation, so it never outlives what it was made from)."""
        memo = self._md.current.memo
        got = memo.get(key, _MISSING)
        if got is _MISSING:
            got = make()
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = got
        return got

    def view(self, ref: NodeRef, instance: Instance) -> VersionedView:
        """The view of ``instance`` at ``ref``'s version. Views of ordered key-value stores hold
        nothing but the store and the ancestry, so one per generation serves every request."""
        repo = self._repos().get(ref.repo.root, ref.repo)
        node = repo.nodes.get(ref.node.uuid, ref.node)
        key = ("view", repo.root, node.version_id, instance.instance_id, id(instance))
        got = self._md.current.memo.get(key)
        if got is not None:
            return got
        view = self._view_at(repo, node, instance)
        if type(view) is VersionedView:  # an index view keeps per-request state: never shared
            self.cached(key, lambda: view)
        return view

    def _view_at(self, repo: Repo, node: Node, instance: Instance) -> VersionedView:
        store = self.store_for(instance)
        if not instance.versioned:  # written at the root version, locked or not
            return view_for(store, instance.instance_id, self._ancestry(repo, repo.nodes[repo.root]))
        frozen = self._locked_versions(repo) if layout_of(store) is not None else ()  # only indexes use it
        return view_for(store, instance.instance_id, self._ancestry(repo, node), frozen)

    def _locked_versions(self, repo: Repo) -> frozenset[int]:
        """Versions whose data never changes again (object-store indexes cache them for good),
        once per repo per generation."""
        memo = self._md.current.memo
        got = memo.get(("locked", repo.root))
        if got is None:
            got = memo[("locked", repo.root)] = frozenset(n.version_id for n in repo.nodes.values() if n.locked)
        return got

    def _ancestry(self, repo: Repo, node: Node) -> Ancestry:
        """The ancestry of ``node``. A version's ancestors never change (and repo ids are never
        reused), so it is built once per process, not per request or generation (LRU)."""
        key = (repo.repo_id, node.version_id)
        with self._ancestries_lock:
            got = self._ancestries.get(key)
            if got is not None:
                self._ancestries.move_to_end(key)
                return got
        got = Ancestry(node.version_id, self._parents_map(repo))
        with self._ancestries_lock:
            self._ancestries[key] = got
            if len(self._ancestries) > _ANCESTRY_LIMIT:
                self._ancestries.popitem(last=False)
        return got

    def _parents_map(self, repo: Repo) -> dict[int, list[int]]:
        """``dag.parents_map``, built once per repo per generation."""
        memo = self._md.current.memo
        pm = memo.get(("parents", repo.root))
        if pm is None:
            pm = memo[("parents", repo.root)] = dag.parents_map(repo)
        return pm

    # ------------------------------------------------------------------------- repos, nodes
    def new_repo(self, alias: str = "", description: str = "", root: str | None = None, passcode: str = "") -> Repo:
        return self._md.mutate(lambda t: repos.new_repo(t, alias, description, root, passcode,
                                                        self.min_mutation_id_start))

    def set_repo_info(self, ref: NodeRef, alias: str | None, description: str | None) -> None:
        self._md.mutate(lambda t: repos.set_repo_info(t, ref, alias, description))

    def append_repo_log(self, ref: NodeRef, lines: list[str]) -> None:
        self._md.mutate(lambda t: repos.append_repo_log(t, ref, lines))

    def delete_repo(self, root: str, passcode: str = "") -> None:
        repo = self._repos().get(root)
        if repo is None:
            raise BadRequest("UUID for repo deletion must match UUID of repo's root")
        if repo.passcode and passcode != repo.passcode:
            raise BadRequest(f"Passcode does not match for repo with root {root}")
        stores = {i.instance_id: self.store_for(i) for i in repo.instances.values()}
        for iid in self._md.mutate(lambda t: repos.delete_repo(t, root)):
            drop_instance_data(stores.get(iid, self.store), iid)

    def set_node_note(self, ref: NodeRef, note: str) -> None:
        self._md.mutate(lambda t: repos.set_node_note(t, ref, note))

    def append_node_log(self, ref: NodeRef, lines: list[str]) -> None:
        self._md.mutate(lambda t: repos.append_node_log(t, ref, lines))

    def commit(self, ref: NodeRef, note: str = "", log: list[str] | None = None) -> None:
        self._md.mutate(lambda t: repos.commit(t, ref, note, log or []))

    def new_version(self, ref: NodeRef, note: str = "", uuid: str | None = None) -> str:
        if uuid:
            dag.check_assigned_uuid(uuid)
        return self._md.mutate(lambda t: repos.new_version(t, ref, note, uuid))

    def branch(self, ref: NodeRef, name: str, note: str = "", uuid: str | None = None) -> str:
        if name in ("", "master"):
            raise BadRequest("Cannot create a master branch")
        if uuid:
            dag.check_assigned_uuid(uuid)
        return self._md.mutate(lambda t: repos.branch(t, ref, name, note, uuid))

    def tag(self, ref: NodeRef, tag: str, note: str = "") -> str:
        if not tag:
            raise BadRequest("tag requires a non-empty 'tag' value")
        return self._md.mutate(lambda t: repos.tag(t, ref, tag, note))

    def _merge_parents(self, ref: NodeRef, parents: list[str]) -> list[NodeRef]:
        """Resolve merge parents: each must be locked and in ``ref``'s repo."""
        if len(parents) < 2:
            raise BadRequest("Must specify at least two parent UUIDs using 'parents' field")
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
        return resolved

    def merge(self, ref: NodeRef, parents: list[str], note: str = "", merge_type: str = "conflict-free") -> str:
        if len(parents) >= 2 and merge_type != "conflict-free":
            raise BadRequest("'mergeType' must be 'conflict-free' at this time")
        resolved = self._merge_parents(ref, parents)
        return self._md.mutate(lambda t: repos.merge(t, ref, resolved, note))

    def resolve_conflicts(self, ref: NodeRef, data: list[str], parents: list[str], note: str = "") -> str:
        """Merge ``parents`` with the first one winning every conflict (``conflicts``): one atomic
        DAG mutation, after the tombstones were written at reserved versions."""
        if not data:
            raise BadRequest("Must specify at least one data instance using 'data' field")
        top, *lows = self._merge_parents(ref, parents)
        insts = [self.instance(ref, name) for name in data]
        repo = self._repos()[ref.repo.root]
        pm = dict(self._parents_map(repo))
        virtual = max(pm) + 1
        found: dict[str, dict[int, list[bytes]]] = {}  # low uuid -> instance id -> keys
        for low in lows:
            pm[virtual] = [top.version, low.version]
            for inst in insts:
                if not inst.versioned:
                    continue
                merged = view_for(self.store_for(inst), inst.instance_id, Ancestry(virtual, pm))
                ks = conflicts.conflicting_keys(self.view(top, inst), self.view(low, inst), merged)
                if ks:
                    found.setdefault(low.uuid, {})[inst.instance_id] = ks
        if not found:
            return self._md.mutate(lambda t: repos.merge(t, ref, [top, *lows], note))
        first = self._md.mutate(lambda t: conflicts.reserve_versions(t, len(found)))
        children = {u: (repos.new_uuid(), first + i) for i, u in enumerate(found)}
        by_id = {i.instance_id: i for i in insts}
        written: list[tuple[Engine, int, int, list[bytes]]] = []
        for low_uuid, per_inst in found.items():
            version = children[low_uuid][1]
            for iid, ks in per_inst.items():
                store = self.store_for(by_id[iid])
                view_for(store, iid, Ancestry(version, {version: []})).write(deletes=ks)
                written.append((store, iid, version, ks))
        try:
            return self._md.mutate(lambda t: conflicts.merge_with_children(t, ref, top, lows, children, note))
        except BaseException:
            for store, iid, version, ks in written:  # nothing refers to the reserved versions
                drop_version_data(store, iid, version, ks)
            raise

    # --------------------------------------------------------------------------------- instances
    def new_instance(self, ref: NodeRef, typename: str, name: str, settings: dict[str, Any], *,
                     check_lock: bool = True, admin: bool = False) -> Instance:
        if check_lock and not admin and ref.node.locked:
            raise BadRequest(f"New data instance cannot be created on locked node {ref.uuid}")
        dt = self.types.get(typename)
        if dt is None:
            raise BadRequest(f'Data type "{typename}" is not supported by current DVID server')
        repo = self._repos().get(ref.repo.root)
        if repo is None:
            raise BadRequest(f"repo with root {ref.repo.root} no longer exists")
        op = instances.new_instance(NodeRef(repo, ref.node), dt, typename, name, settings,
                                    id_gen=self.instance_id_gen, id_start=self.instance_id_start,
                                    kvstore=lambda inst: self.store_for(inst).description)
        return self._md.mutate(op)

    def update_instance(self, ref: NodeRef, instance: Instance) -> None:
        self._md.mutate(lambda t: instances.update_instance(t, ref, instance))

    def set_instance_fields(self, ref: NodeRef, name: str, **changes: Any) -> None:
        """One atomic change of instance fields (e.g. ``store``, ``migrating``), on the newest state."""
        self._md.mutate(lambda t: instances.set_instance_fields(t, ref, name, changes))

    def rename_instance(self, ref: NodeRef, old: str, new: str, passcode: str = "") -> None:
        self._md.mutate(lambda t: instances.rename_instance(t, ref, old, new, passcode))

    def delete_instance(self, ref: NodeRef, name: str, passcode: str = "") -> None:
        inst = self._md.mutate(lambda t: instances.delete_instance(t, ref, name, passcode))
        drop_instance_data(self.store_for(inst), inst.instance_id)

    # ------------------------------------------------------------------------------ blobs, settings
    def put_blob(self, data: bytes) -> str:
        h = fnv1_128(data)
        self.store.put(keys.blob_key(h), bytes(data))
        return blob_ref(h)

    def get_blob(self, ref: str) -> bytes | None:
        h = ref_hash(ref)
        return None if h is None else self.store.get(keys.blob_key(h))

    def get_setting(self, key: str, default: Any = None) -> Any:
        return self._md.current.settings.get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        def op(t: Any) -> None:
            t.settings = {**t.settings, key: value}

        self._md.mutate(op)
