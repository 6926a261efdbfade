"""``resolve`` of a repo (core.md §3.5): merge parents with the first one winning every conflict.

For each lower-priority parent, the keys that would conflict at the merge (changed on both sides)
are tombstoned in a new locked child of that parent on branch ``conflict-<uuid>``; one-sided changes
are kept. (DVID tombstones every differing key, which also deletes changes made on only one side.)

The DAG changes in ONE metadata mutation (every conflict child and the merge node together). The
tombstones are written before it, at version ids reserved for the children: until the mutation
commits no node has those versions, so no reader sees them, and a failed mutation deletes them.
"""

from __future__ import annotations

from collections.abc import Mapping

from dvid.datastore import keys, repos
from dvid.datastore.model import NodeRef
from dvid.datastore.txn import Txn
from dvid.datastore.view import MergeConflict, VersionedView

CHILD_NOTE = "Version for deleting conflicts before merge"


def conflicting_keys(top: VersionedView, low: VersionedView, merged: VersionedView) -> list[bytes]:
    """Type-keys visible at ``top`` or ``low`` whose value at their merge (``merged``) conflicts."""
    candidates = {k for k, _ in top.scan(*keys.ALL_TKEYS)}
    candidates |= {k for k, _ in low.scan(*keys.ALL_TKEYS)}
    conflicts = []
    for tk in sorted(candidates):
        try:
            merged.get(tk)
        except MergeConflict:
            conflicts.append(tk)
    return conflicts


def reserve_versions(txn: Txn, n: int) -> int:
    """Take ``n`` version ids no node will ever get otherwise; returns the first."""
    first = txn.next_version
    txn.next_version += n
    return first


def merge_with_children(txn: Txn, ref: NodeRef, top: NodeRef, lows: list[NodeRef],
                        children: Mapping[str, tuple[str, int]], note: str) -> str:
    """The mutation: under each low parent that had conflicts a locked ``conflict-<uuid>`` child
    (its UUID and reserved version id in ``children``, by the low parent's UUID), then the merge of
    ``top``, those children and the other lows."""
    parents = [top]
    for low in lows:
        if low.uuid not in children:
            parents.append(low)
            continue
        uuid, version = children[low.uuid]
        child = repos.add_child(txn, low, f"conflict-{low.uuid}", CHILD_NOTE, uuid, True,
                                locked=True, version_id=version)
        parents.append(NodeRef(txn.repo(ref.repo.root), child))
    return repos.merge(txn, ref, parents, note)
