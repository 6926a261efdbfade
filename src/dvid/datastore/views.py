"""Which view an instance's data gets, and dropping data, whatever layout its store uses.

Engines with an indexed layout for object stores (``Engine.indexed``: S3 with ``layout =
"bricks"``, or the memory engine in tests) get ``IndexedView``; ordered key-value engines (LMDB)
get ``VersionedView``. Both follow the same versioning rules.
"""

from __future__ import annotations

from collections.abc import Collection

from dvid.datastore import keys
from dvid.datastore.indexed_view import IndexedView, space_of
from dvid.datastore.view import Ancestry, VersionedView
from dvid.storage.base import Engine
from dvid.storage.indexed import IndexedStore


def layout_of(store: Engine) -> IndexedStore | None:
    """The engine's indexed layout for object stores, if it has one."""
    layout = getattr(store, "indexed", None)
    return layout if isinstance(layout, IndexedStore) else None


def view_for(store: Engine, instance_id: int, ancestry: Ancestry, frozen: Collection[int] = ()) -> VersionedView:
    """The view of one instance at one version. ``frozen`` names versions whose data never
    changes again (locked versions of a versioned instance): their indexes are cached for good."""
    layout = layout_of(store)
    if layout is not None:
        return IndexedView(store, layout, instance_id, ancestry, frozen)
    return VersionedView(store, instance_id, ancestry)


def drop_instance_data(store: Engine, instance_id: int) -> None:
    """Remove every version's data of a deleted instance."""
    layout = layout_of(store)
    if layout is not None:
        layout.drop(f"{instance_id:08x}")
    store.delete_range(*keys.instance_range(instance_id))


def drop_version_data(store: Engine, instance_id: int, version: int, tks: Collection[bytes]) -> None:
    """Undo what was written at a version nothing refers to (``tks``: the type-keys written)."""
    layout = layout_of(store)
    if layout is not None:
        layout.drop(space_of(instance_id, version))
        return
    for tk in tks:
        store.delete(keys.data_key(instance_id, tk, version, tombstone=True))
        store.delete(keys.data_key(instance_id, tk, version))
