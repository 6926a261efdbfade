"""Every version of one instance's data, read from and written to any store: for ``migrate``.

An instance's data is a set of *entries* ``(version, tkey, is_tombstone, value)``: exactly what
each version wrote, unresolved, on an ordered engine (data keys) or in the indexed layout (each
version's index). Copying the entries reproduces every version as it was, tombstones included, on
any other engine, and ``digests`` (one SHA-256 per version, over its entries in type-key order)
proves afterwards that two stores hold the same instance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from dvid.datastore import keys
from dvid.datastore.indexed_view import IndexedView
from dvid.datastore.view import Ancestry
from dvid.datastore.views import layout_of
from dvid.storage.base import Engine
from dvid.storage.indexed import PACK, TOMBSTONE, Ref

Entry = tuple[int, bytes, bool, "bytes | memoryview"]

#: encoded values buffered per version before they are written as one commit / batch
FLUSH_BYTES = 64 << 20
_KV_BATCH = 1000


def entries(store: Engine, instance_id: int) -> Iterator[Entry]:
    """Every entry of the instance, each version's in type-key order (versions interleaved on an
    ordered engine, one version after another in the indexed layout)."""
    layout = layout_of(store)
    if layout is None:
        lo, hi = keys.instance_range(instance_id)
        for k, v in store.scan(lo, hi):
            tk, version, tomb = keys.split_data_key(k)
            yield version, tk, tomb, v
        return
    for space in sorted(layout.spaces(f"{instance_id:08x}")):
        version = int(space.rsplit("/", 1)[1], 16)
        root = layout.roots([space])[space]
        groups = layout.groups([(space, gid) for gid in root.groups.values()])
        found = sorted((g.keys[i], g, i) for g in groups.values() for i in range(len(g)))
        refs = [Ref(space, g.packs[i], g.offsets[i], g.lengths[i]) for _, g, i in found if g.kinds[i] == PACK]
        fetch = layout.fetch(refs) if refs else None
        n = 0
        for tk, g, i in found:
            kind = g.kinds[i]
            if kind == PACK:
                assert fetch is not None
                yield version, tk, False, fetch.value(n)
                n += 1
            else:
                yield version, tk, kind == TOMBSTONE, g.inline[i] or b""


def count(store: Engine, instance_id: int) -> int:
    layout = layout_of(store)
    if layout is None:
        return sum(1 for _ in store.scan(*keys.instance_range(instance_id), keys_only=True))
    total = 0
    for space in layout.spaces(f"{instance_id:08x}"):
        root = layout.roots([space])[space]
        total += sum(len(g) for g in layout.groups([(space, gid) for gid in root.groups.values()]).values())
    return total


class _Digests:
    def __init__(self) -> None:
        self._h: dict[int, hashlib._Hash] = {}

    def add(self, version: int, tk: bytes, tomb: bool, value: bytes | memoryview) -> None:
        h = self._h.get(version)
        if h is None:
            h = self._h[version] = hashlib.sha256()
        h.update(len(tk).to_bytes(2, "big") + tk + (b"\x01" if tomb else b"\x00") + len(value).to_bytes(8, "big"))
        h.update(value)

    def result(self) -> dict[int, str]:
        return {v: h.hexdigest() for v, h in sorted(self._h.items())}


def digests(store: Engine, instance_id: int) -> dict[int, str]:
    """One SHA-256 per version over that version's entries: equal on two stores iff they hold the
    same data for the instance."""
    d = _Digests()
    for version, tk, tomb, value in entries(store, instance_id):
        d.add(version, tk, tomb, value)
    return d.result()


class _Writer:
    """Entries into ``store``: raw data keys in atomic batches on an ordered engine; one commit per
    version per ``FLUSH_BYTES`` in the indexed layout (bricks packed as on any write)."""

    def __init__(self, store: Engine, instance_id: int) -> None:
        self.store, self.iid = store, instance_id
        self.layout = layout_of(store)
        self._kv: list[tuple[bytes, bytes]] = []
        self._per_version: dict[int, tuple[list[tuple[bytes, bytes | memoryview]], list[bytes]]] = {}
        self._bytes: dict[int, int] = {}

    def add(self, version: int, tk: bytes, tomb: bool, value: bytes | memoryview) -> None:
        if self.layout is None:
            self._kv.append((keys.data_key(self.iid, tk, version, tombstone=tomb), b"" if tomb else bytes(value)))
            if len(self._kv) >= _KV_BATCH:
                self.store.write(puts=self._kv)
                self._kv = []
            return
        puts, tombs = self._per_version.setdefault(version, ([], []))
        if tomb:
            tombs.append(tk)
        else:
            puts.append((tk, value))
        self._bytes[version] = self._bytes.get(version, 0) + len(value)
        if self._bytes[version] >= FLUSH_BYTES:
            self._flush(version)

    def _flush(self, version: int) -> None:
        assert self.layout is not None
        puts, tombs = self._per_version.pop(version)
        self._bytes.pop(version, None)
        view = IndexedView(self.store, self.layout, self.iid, Ancestry(version, {version: []}))
        view.write_batches([puts], deletes=tombs)

    def close(self) -> None:
        if self._kv:
            self.store.write(puts=self._kv)
            self._kv = []
        for version in list(self._per_version):
            self._flush(version)


def copy(src: Engine, dst: Engine, instance_id: int, progress: Callable[[int], None] = lambda n: None
         ) -> dict[int, str]:
    """Copy every entry of the instance from ``src`` to ``dst``; returns the source's digests as
    read during the copy. ``progress(n)`` is told about every 1,000 entries copied."""
    w = _Writer(dst, instance_id)
    d = _Digests()
    n = 0
    for version, tk, tomb, value in entries(src, instance_id):
        d.add(version, tk, tomb, value)
        w.add(version, tk, tomb, value)
        n += 1
        if n % 1000 == 0:
            progress(1000)
    w.close()
    progress(n % 1000)
    return d.result()
