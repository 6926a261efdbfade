"""Data-instance registry mutations (core.md §1.3, §3.6): create, update, rename, delete.

``new_instance`` parses the generic settings once, outside the retried mutation; the returned
function is the mutation itself (see ``txn.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.model import NodeRef
from dvid.datastore.render import go_repr
from dvid.datastore.repos import new_uuid
from dvid.datastore.settings import (
    parse_checksum,
    parse_compression,
    parse_tags,
    parse_versioned,
    string_setting,
)
from dvid.datastore.timefmt import log_line, rfc3339_nano
from dvid.datastore.txn import Txn
from dvid.errors import BadRequest

RESERVED_NAMES = ("log", "branch", "note", "commit", "newversion")


def _exists_error(name: str, root: str) -> BadRequest:
    return BadRequest(f'Data named "{name}" already exists in repo (root {root})')


def _check_passcode(repo_passcode: str, passcode: str, root: str) -> None:
    if repo_passcode and passcode != repo_passcode:
        raise BadRequest(f"Passcode does not match for repo with root {root}")


def new_instance(ref: NodeRef, dt: Any, typename: str, name: str, settings: Mapping[str, Any], *,
                 id_gen: str, id_start: int, kvstore: Callable[[Instance], str]) -> Callable[[Txn], Instance]:
    """Validate the request against ``ref``'s repo as the caller sees it and parse the settings;
    return the mutation that registers the instance (re-checking the name against the newest state).
    ``kvstore(instance)`` describes the store its data will live on."""
    existing = ref.repo.instances.get(name)
    if existing is not None and not existing.deleted:
        raise _exists_error(name, ref.repo.root)
    if name in RESERVED_NAMES:
        raise BadRequest(f'cannot use reserved name "{name}"')
    # DVID's config keys are case-insensitive; the HTTP path already lower-cases them.
    cfg = {str(k).lower(): v for k, v in settings.items()}
    compression = parse_compression(cfg)
    checksum = parse_checksum(cfg)
    versioned = parse_versioned(cfg)
    tags = parse_tags(string_setting(cfg, "tags", "Tags"))
    props = dt.init_props(cfg)
    config_dump = go_repr(cfg)

    def op(txn: Txn) -> Instance:
        repo = txn.repo(ref.repo.root)
        old = repo.instances.get(name)
        if old is not None and not old.deleted:
            raise _exists_error(name, repo.root)
        if id_gen == "random":
            used = {i.instance_id for r in txn.repos() for i in r.instances.values()}
            iid = random.randint(1, 2**32 - 2)
            while iid in used:
                iid = random.randint(1, 2**32 - 2)
        else:
            iid = max(txn.next_instance, id_start)
            txn.next_instance = iid + 1
        inst = Instance(name=name, typename=typename, data_uuid=new_uuid(), instance_id=iid,
                        repo_uuid=ref.uuid, compression=compression, checksum=checksum,
                        versioned=versioned, tags=tags, props=props)
        inst.kvstore = kvstore(inst)
        txn.put_instance(repo, inst)
        repo.log.append(log_line(f'New data instance "{name}" of type "{typename}" with config {config_dump}'))
        repo.updated = rfc3339_nano()
        return inst

    return op


def update_instance(txn: Txn, ref: NodeRef, instance: Instance) -> None:
    repo = txn.repo(ref.repo.root)
    if instance.name not in repo.instances:
        raise BadRequest("invalid data instance name")
    txn.put_instance(repo, Instance.from_record(instance.to_record()))


def set_instance_fields(txn: Txn, ref: NodeRef, name: str, changes: Mapping[str, Any]) -> None:
    """Change fields of the instance as it is now (not as the caller last saw it)."""
    repo = txn.repo(ref.repo.root)
    inst = repo.instances.get(name)
    if inst is None or inst.deleted:
        raise BadRequest(f'Data instance "{name}" not found')
    txn.put_instance(repo, Instance.from_record({**inst.to_record(), **changes}))


def rename_instance(txn: Txn, ref: NodeRef, old: str, new: str, passcode: str) -> None:
    repo = txn.repo(ref.repo.root)
    _check_passcode(repo.passcode, passcode, repo.root)
    inst = repo.instances.get(old)
    if inst is None or inst.deleted:
        raise BadRequest(f'Data instance "{old}" not found')
    if new in repo.instances or new in RESERVED_NAMES:
        raise _exists_error(new, repo.root)
    renamed = Instance.from_record({**inst.to_record(), "name": new})
    txn.drop_instance(repo, old)
    txn.put_instance(repo, renamed)
    repo.log.append(log_line(f'Renamed data instance "{old}" to "{new}"'))


def delete_instance(txn: Txn, ref: NodeRef, name: str, passcode: str) -> Instance:
    """Unregister the instance (by data UUID first, then by name, as DVID); the caller deletes its
    data once this is committed."""
    repo = txn.repo(ref.repo.root)
    _check_passcode(repo.passcode, passcode, repo.root)
    inst = next((i for i in repo.instances.values() if i.data_uuid == name), None)
    if inst is None:
        inst = repo.instances.get(name)
    if inst is None or inst.deleted:
        raise BadRequest(f'Data instance "{name}" not found')
    txn.drop_instance(repo, inst.name)
    repo.log.append(log_line(f"Delete data instance '{inst.name}' of type '{inst.typename}'"))
    return inst
