"""Which configured store holds an instance's data, and moving an instance to another store.

Assignment follows DVID (core.md §5.4), first match wins: the store recorded by a finished
``migrate``; then ``[backend."<data uuid>"]``, ``[backend."<name>:<root uuid>"]``,
``[backend.<instance name>]``, ``[backend."<tag>=<value>"]``, ``[backend.<type name>]``; then
``[backend.default]``. Like DVID it is evaluated whenever an instance is used, so a config change
re-points instances that were never migrated.

``migrate`` (``dvid repo <uuid> migrate <instance> <src store> <dst store>``) runs as a job: it
marks the instance as migrating (every worker process refuses writes to it from its next request
on: the mark is metadata, seen through the generation check), copies every version's entries,
checks that the copy and the source have the same per-version digests and that the source did not
change meanwhile (a write already in flight when the mark was set is copied again), then records
the new store in the instance's metadata: all processes read from the new store from their next
request, with no restart. The source copy is kept unless ``delete-source=true``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

from dvid.datastore import migrate
from dvid.datastore.instance import Instance
from dvid.datastore.jobs import Job
from dvid.datastore.model import NodeRef
from dvid.datastore.views import drop_instance_data
from dvid.errors import BadRequest
from dvid.server.config import Config
from dvid.storage.base import Engine

#: seconds to let requests that started before the migrating mark finish writing
SETTLE_SECONDS = 1.0
_PASSES = 3


class StoreAssignment:
    def __init__(self, config: Config, open_store: Callable[[str], Engine]) -> None:
        self.config, self._open = config, open_store

    def alias_for(self, inst: Instance) -> str:
        if inst.store:
            if inst.store not in self.config.stores:
                raise BadRequest(f'data instance "{inst.name}" was migrated to store "{inst.store}", '
                                 "which this server's configuration does not define")
            return inst.store
        rules = self.config.backends
        if rules:
            specs = [inst.data_uuid, f"{inst.name}:{inst.repo_uuid}", inst.name]
            specs += [f"{k}={v}" for k, v in (inst.tags or {}).items()]
            specs.append(inst.typename)
            for spec in specs:
                alias = rules.get(spec.lower())
                if alias is not None:
                    return alias
        return self.config.default_store

    def engine_for(self, inst: Instance) -> Engine:
        return self._open(self.alias_for(inst))

    def check_kv(self, alias: str) -> None:
        sc = self.config.stores.get(alias)
        if sc is None:
            raise BadRequest(f'no store named "{alias}" in the configuration '
                             f"(stores: {', '.join(sorted(self.config.stores))})")
        if sc.engine == "ngprecomputed":
            raise BadRequest(f'store "{alias}" is a read-only ngprecomputed volume, not a key-value store')


def migrate_job(st, ref: NodeRef, name: str, src: str, dst: str, delete_source: bool) -> Callable[[Job], str]:
    """Validate a migration of instance ``name`` from store ``src`` to ``dst`` and return the job's
    work (see the module docstring). ``st`` is the ``ServerState``."""
    ds, stores = st.datastore, st.stores
    inst = ds.instance(ref, name)
    stores.check_kv(src)
    stores.check_kv(dst)
    current = stores.alias_for(inst)
    if src != current:
        raise BadRequest(f'data instance "{name}" is on store "{current}", not "{src}"')
    if dst == src:
        raise BadRequest(f'data instance "{name}" is already on store "{dst}"')
    if inst.migrating:
        raise BadRequest(f'data instance "{name}" is already being migrated to store "{inst.migrating}"')
    src_engine, dst_engine = stores.engine_for(inst), stores.engine_for(dataclasses.replace(inst, store=dst))
    iid = inst.instance_id

    def work(job: Job) -> str:
        _update(ds, ref, name, migrating=dst)
        try:
            time.sleep(SETTLE_SECONDS)
            job.set_totals(blocks=migrate.count(src_engine, iid))
            for attempt in range(_PASSES):
                drop_instance_data(dst_engine, iid)  # an earlier, interrupted attempt's copy
                copied = migrate.copy(src_engine, dst_engine, iid, lambda n: job.advance(blocks=n))
                if migrate.digests(dst_engine, iid) != copied:
                    raise BadRequest(f"the copy on store {dst} does not match the source: not switched")
                if migrate.digests(src_engine, iid) == copied:
                    break
                job.advance(note=f"the source changed during pass {attempt + 1}: copying again")
            else:
                raise BadRequest("the source kept changing while it was copied: not switched")
            _update(ds, ref, name, store=dst, kvstore=dst_engine.description, migrating="")
        except BaseException:
            _update(ds, ref, name, migrating="")
            raise
        if delete_source:
            drop_instance_data(src_engine, iid)
        summary = {str(v): d for v, d in copied.items()}
        return (f'data instance "{name}" now served from store "{dst}": {len(copied)} versions copied and '
                f"verified (sha256 per version {json.dumps(summary)})"
                + ("; source data deleted" if delete_source else f'; the copy on "{src}" was kept'))

    return work


def _update(ds, ref: NodeRef, name: str, **changes: str) -> None:
    ds.set_instance_fields(ref, name, **changes)
