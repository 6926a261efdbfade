"""Computing the blocks of a scale pyramid: level k from level k-1, a tile of output blocks at a time.

A tile is a run of output blocks along x in one row. Its source is the tile's box times the
factors, cut to the source level's extents; the source blocks there are listed by a key scan
first (a tile with none is skipped without reading anything), then read with ``gather``,
downsampled, encoded, compared with what the version already sees, and written in one atomic
batch: blocks whose sources are all missing are deleted (never written as background), blocks
whose new value equals the stored one are left alone and do not propagate to the next level.
Memory stays at one tile's source (``TILE_BYTES``) whatever the volume's size.

A level is either rebuilt in full (every output block that has a source block, or that exists
and may now have none) or updated for a set of dirty output blocks: the parents of the blocks
that changed one level down, plus the output blocks along an edge of the volume whose
partial windows changed because the extents moved.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView
from dvid.datatypes.imageblk.downsample import Triple, downsample
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.source import gather_layout
from dvid.datatypes.imageblk.voxels import BLOCK_CLASS, block_tkey, block_x, encode_blocks, row_range
from dvid.geometry import Box
from dvid.limits import INT32_MAX, INT32_MIN

TILE_BYTES = 48 << 20  # source bytes per tile
BATCH_BYTES = 64 << 20  # encoded bytes per write batch: an update of a few blocks is one commit per level
BATCH_BLOCKS = 2000


@dataclass
class Level:
    """One level as the builder sees it: instance, view at the version, extents (inclusive)."""

    instance: Instance
    view: VersionedView
    lo: list[int]
    hi: list[int]
    factors: Triple = (1, 1, 1)  # from the level below to this one


@dataclass
class LevelStats:
    level: int
    mode: str = "incremental"  # or "full"
    dirty: int = 0  # output blocks considered
    computed: int = 0  # output blocks with at least one source block, downsampled
    written: int = 0  # of those, stored because their value changed
    deleted: int = 0  # output blocks removed because no source block is left
    changed: list[np.ndarray] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {"level": self.level, "mode": self.mode, "dirty": self.dirty, "computed": self.computed,
                "written": self.written, "deleted": self.deleted}


def _layer_range(z: int) -> tuple[bytes, bytes]:
    lo = INT32_MIN
    return block_tkey(lo, lo, z), (block_tkey(lo, lo, z + 1) if z < INT32_MAX else block_tkey(lo, lo, z) + b"\xff")


def _layer_keys(view: VersionedView, z: int) -> Iterator[tuple[int, int]]:
    """(x, y) of the blocks visible in block layer z."""
    for tk, _ in view.scan(*_layer_range(z)):
        if tk[0] == BLOCK_CLASS:
            yield block_x(tk), int.from_bytes(tk[6:10], "big") - 0x80000000


def _block_range(lo: int, hi: int, b: int) -> range:
    return range(lo // b, hi // b + 1)


_POOL = ThreadPoolExecutor(2, thread_name_prefix="pyramid")


def _ahead(fn, items: Iterator, window: int = 3):
    """``(item, fn(item))`` in order, computed on the pool at most ``window`` items ahead, so the
    memory of finished-but-unused results stays bounded."""
    futs: deque = deque()
    for it in items:
        futs.append((it, _POOL.submit(fn, it)))
        if len(futs) >= window:
            it0, f0 = futs.popleft()
            yield it0, f0.result()
    while futs:
        it0, f0 = futs.popleft()
        yield it0, f0.result()


@dataclass
class _TileResult:
    puts: list[tuple[bytes, bytes]] = field(default_factory=list)
    deletes: list[bytes] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # x of the blocks written or deleted
    voxels: dict[int, np.ndarray | None] = field(default_factory=dict)
    computed: int = 0


class Pending:
    """The writes of one update not yet stored, across instances, and the voxels of the blocks
    they put, so the next level reads its fresh sources from memory. A small update (the usual
    kind) then reaches the store in one commit for all its levels, its state and its consumed
    change records, where the views' layout allows one (``VersionedView.shares_batches``; else one
    commit per instance); a large one is flushed whenever the batch grows past ``BATCH_BYTES``."""

    def __init__(self) -> None:
        self._by_view: dict[int, tuple[VersionedView, list, list, list]] = {}
        self.nbytes = 0
        self.count = 0
        #: (instance id, x, y, z) -> voxels of a block put (None: deleted), until flushed
        self.voxels: dict[tuple[int, int, int, int], np.ndarray | None] = {}

    def add(self, view: VersionedView, puts=(), deletes=(), forget=()) -> None:
        _, p, d, f = self._by_view.setdefault(id(view), (view, [], [], []))
        p += puts
        d += deletes
        f += forget
        self.nbytes += sum(len(v) for _, v in puts)
        self.count += len(puts) + len(deletes)

    def big(self) -> bool:
        return self.nbytes >= BATCH_BYTES or self.count >= BATCH_BLOCKS

    def shared_ops(self) -> tuple[list[tuple[bytes, bytes]], list[bytes]] | None:
        """All the pending changes as one store batch, or None if a view cannot share one."""
        if not all(v.shares_batches for v, *_ in self._by_view.values()):
            return None
        puts: list[tuple[bytes, bytes]] = []
        dels: list[bytes] = []
        for view, p, d, f in self._by_view.values():
            sp, sd = view.ops(p, d, f)
            puts += sp
            dels += sd
        return puts, dels

    def flush(self) -> None:
        ops = self.shared_ops()
        if ops is not None:
            if ops[0] or ops[1]:
                next(iter(self._by_view.values()))[0].store.write(puts=ops[0], deletes=ops[1])
        else:
            for view, p, d, f in self._by_view.values():  # levels first, level 0 (added last) last
                if f:
                    view.forget(f)
                if p or d:
                    view.write(puts=p, deletes=d)
        self.clear()

    def clear(self) -> None:
        self._by_view, self.nbytes, self.count, self.voxels = {}, 0, 0, {}


class LevelBuilder:
    """Builds level ``dst`` from level ``src`` with one method and voxel format."""

    def __init__(self, src: Level, dst: Level, layout: Layout, method: str, pending: Pending,
                 progress: Callable[[int], None] = lambda n: None, keep_changed: bool = False,
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        self.src, self.dst, self.layout, self.method, self.pending = src, dst, layout, method, pending
        self.f = dst.factors
        self.progress, self.keep_changed, self.heartbeat = progress, keep_changed, heartbeat
        bx, by, bz = layout.block_size
        per_block = bx * by * bz * layout.dtype.itemsize * layout.channels * self.f[0] * self.f[1] * self.f[2]
        self.tile_blocks = max(1, TILE_BYTES // per_block)

    # ------------------------------------------------------------------------------ what to do
    def full(self, stats: LevelStats) -> None:
        """Every output block with a source block in the extents, and every stored one (it may
        have lost its sources), layer by layer."""
        stats.mode = "full"
        self.pending.flush()  # the key scans below must see the level under it as stored
        fx, fy, fz = self.f
        bz = self.layout.block_size[2]

        def layers() -> Iterator[tuple[int, list[tuple[int, int]]]]:
            for cz in _block_range(self.dst.lo[2], self.dst.hi[2], bz):
                todo: set[tuple[int, int]] = set()
                with self.src.view.snapshot() as sv:
                    for z in range(cz * fz, cz * fz + fz):
                        todo.update((x // fx, y // fy) for x, y in _layer_keys(sv, z))
                with self.dst.view.snapshot() as dv:
                    todo.update(_layer_keys(dv, cz))
                yield cz, sorted((y, x) for x, y in todo)

        self._run(layers(), stats)

    def incremental(self, dirty: np.ndarray, stats: LevelStats) -> None:
        """The output blocks ``dirty`` ([n, 3] x, y, z, any order, duplicates allowed)."""
        if not len(dirty):
            return
        # sorted by z, y, x without duplicates (np.unique(axis=0) is several times slower)
        d = dirty[np.lexsort((dirty[:, 0], dirty[:, 1], dirty[:, 2]))]
        keep = np.ones(len(d), bool)
        keep[1:] = (d[1:] != d[:-1]).any(axis=1)
        d = d[keep]
        layers: dict[int, list[tuple[int, int]]] = {}
        for cx, cy, cz in d.tolist():
            layers.setdefault(cz, []).append((cy, cx))
        self._run(iter(layers.items()), stats)

    # --------------------------------------------------------------------------------- the work
    def _run(self, layers: Iterator[tuple[int, list[tuple[int, int]]]], stats: LevelStats) -> None:
        """Process the output blocks of each ``(layer, [(y, x)...] sorted)``: tiles are computed
        on two threads (decoding, numpy and lz4 release the GIL) a few ahead, across layers, and
        applied in order on this one."""
        fresh = self._fresh()
        tiles = self._tiles(layers, stats)
        for t, r in _ahead(lambda t: self._compute(*t, fresh), tiles):
            self._apply(t, r, stats)
            self.heartbeat()

    def _tiles(self, layers, stats: LevelStats) -> Iterator[tuple[int, int, int, int]]:
        """Runs of at most ``tile_blocks`` consecutive output blocks along x: (z, y, x0, x1)."""
        for cz, yx in layers:
            stats.dirty += len(yx)
            i = 0
            while i < len(yx):
                cy, x0 = yx[i]
                j = i + 1
                while j < len(yx) and yx[j][0] == cy and yx[j][1] == yx[j - 1][1] + 1 and j - i < self.tile_blocks:
                    j += 1
                yield cz, cy, x0, yx[j - 1][1]
                i = j

    def _compute(self, cz: int, cy: int, x0: int, x1: int, fresh) -> _TileResult:
        """Downsample one tile; the result says what to store (nothing shared is touched)."""
        bs = self.layout.block_size
        f = self.f
        out_lo = [x0 * bs[0], cy * bs[1], cz * bs[2]]
        out_hi = [(x1 + 1) * bs[0] - 1, (cy + 1) * bs[1] - 1, (cz + 1) * bs[2] - 1]
        win_lo = [a * k for a, k in zip(out_lo, f, strict=True)]
        win_hi = [(b + 1) * k - 1 for b, k in zip(out_hi, f, strict=True)]
        val_lo = [max(a, b) for a, b in zip(win_lo, self.src.lo, strict=True)]
        val_hi = [min(a, b) for a, b in zip(win_hi, self.src.hi, strict=True)]
        nb = x1 - x0 + 1
        present = np.zeros(nb, bool)
        data = None
        if all(a <= b for a, b in zip(val_lo, val_hi, strict=True)):
            sx0, sx1 = val_lo[0] // bs[0], val_hi[0] // bs[0]
            mine = {b: v for b, v in fresh.items()
                    if all(val_lo[a] // bs[a] <= b[a] <= val_hi[a] // bs[a] for a in range(3))} if fresh else {}
            with self.src.view.snapshot() as sv:
                sources: set[tuple[int, int, int]] = set()
                for z in _block_range(val_lo[2], val_hi[2], bs[2]):
                    for y in _block_range(val_lo[1], val_hi[1], bs[1]):
                        sources.update((block_x(tk), y, z) for tk, _ in sv.scan(*row_range(sx0, sx1, y, z)))
                for b, vox in mine.items():
                    if vox is None:
                        sources.discard(b)
                    else:
                        sources.add(b)
                for x, _, _ in sources:
                    present[x // f[0] - x0] = True
                if present.any():
                    box = Box(tuple(val_lo), tuple(b - a + 1 for a, b in zip(val_lo, val_hi, strict=True)))
                    data = gather_layout(sv, box, self.layout)
                    self._patch(data, val_lo, val_hi, mine)
        res = _TileResult()
        with self.dst.view.snapshot() as dv:  # stored values stay zero-copy while compared
            stored = {block_x(tk): v for tk, v in dv.scan(*row_range(x0, x1, cy, cz))}
            if data is not None:
                out = self._downsample(data, win_lo, win_hi, val_lo, val_hi)
                out_box = Box(tuple(out_lo), (nb * bs[0], bs[1], bs[2]))
                for tk, val in encode_blocks(out, out_box, bs, self.layout.compression, self.layout.checksum,
                                             skip=lambda x, y, z: not present[x - x0]):
                    x = block_x(tk)
                    res.computed += 1
                    old = stored.get(x)
                    if old is None or old != val:
                        res.puts.append((tk, bytes(val)))
                        res.changed.append(x)
                        if self.keep_changed:  # the next level reads it from memory until it is stored
                            i = (x - x0) * bs[0]
                            res.voxels[x] = out[:, :, i : i + bs[0]].copy()
            stored = dict.fromkeys(stored)
        for x in stored:
            if not present[x - x0]:
                res.deletes.append(block_tkey(x, cy, cz))
                res.changed.append(x)
                res.voxels[x] = None
        return res

    def _apply(self, tile: tuple[int, int, int, int], res: _TileResult, stats: LevelStats) -> None:
        cz, cy, x0, x1 = tile
        iid = self.dst.instance.instance_id
        for x, vox in res.voxels.items():
            self.pending.voxels[(iid, x, cy, cz)] = vox
        self.pending.add(self.dst.view, res.puts, res.deletes)  # no change record: levels are derived
        if self.pending.big():
            self.pending.flush()
        stats.computed += res.computed
        stats.written += len(res.puts)
        stats.deleted += len(res.deletes)
        if self.keep_changed and res.changed:
            c = np.empty((len(res.changed), 3), np.int64)
            c[:, 0], c[:, 1], c[:, 2] = res.changed, cy, cz
            stats.changed.append(c)
        self.progress(x1 - x0 + 1)

    def _fresh(self) -> dict[tuple[int, int, int], np.ndarray | None]:
        """The source level's blocks this update changed and has not stored yet (a copy: the
        tiles read it on other threads while results are applied)."""
        iid = self.src.instance.instance_id
        return {(x, y, z): v for (i, x, y, z), v in self.pending.voxels.items() if i == iid}

    def _patch(self, data: np.ndarray, lo: list[int], hi: list[int], fresh) -> None:
        """Overwrite the stale stored voxels of ``data`` (box lo..hi) with the fresh blocks."""
        bs = self.layout.block_size
        for (x, y, z), vox in fresh.items():
            b0 = (x * bs[0], y * bs[1], z * bs[2])
            a = [max(lo[i], b0[i]) for i in range(3)]
            e = [min(hi[i], b0[i] + bs[i] - 1) + 1 for i in range(3)]
            dst = data[a[2] - lo[2] : e[2] - lo[2], a[1] - lo[1] : e[1] - lo[1], a[0] - lo[0] : e[0] - lo[0]]
            if vox is None:
                dst[...] = 0
            else:
                dst[...] = vox[a[2] - b0[2] : e[2] - b0[2], a[1] - b0[1] : e[1] - b0[1], a[0] - b0[0] : e[0] - b0[0]]

    def _downsample(self, data: np.ndarray, win_lo, win_hi, val_lo, val_hi) -> np.ndarray:
        """Downsample the valid voxels ``data``, zero-padded out to whole windows if needed."""
        if val_lo != win_lo or val_hi != win_hi:
            shape = (win_hi[2] - win_lo[2] + 1, win_hi[1] - win_lo[1] + 1, win_hi[0] - win_lo[0] + 1)
            buf = np.zeros(shape + data.shape[3:], data.dtype)
            o = [a - b for a, b in zip(val_lo, win_lo, strict=True)]
            buf[o[2] : o[2] + data.shape[0], o[1] : o[1] + data.shape[1], o[0] : o[0] + data.shape[2]] = data
            data = buf
        return downsample(data, win_lo, val_lo, val_hi, self.f, self.method)


def parents(changed: Iterable[np.ndarray], f: Triple) -> np.ndarray:
    """The next level's blocks above the blocks ``changed`` ([n, 3] arrays)."""
    parts = [c for c in changed if len(c)]
    if not parts:
        return np.empty((0, 3), np.int64)
    return np.concatenate(parts) // np.array(f, np.int64)


def edge_blocks(old: tuple[list[int], list[int]] | None, new: tuple[list[int], list[int]],
                f: Triple, dst_lo: list[int], dst_hi: list[int], bs: Triple) -> np.ndarray:
    """Output blocks whose windows straddle an edge of the source extents that moved from ``old``
    to ``new``: their partial windows now count a different number of voxels."""
    if old is None:
        return np.empty((0, 3), np.int64)
    planes: list[tuple[int, int]] = []  # (axis, output voxel)
    for a in range(3):
        if old[0][a] != new[0][a]:
            planes += [(a, lo // f[a]) for lo in (old[0][a], new[0][a]) if lo % f[a]]
        if old[1][a] != new[1][a]:
            planes += [(a, hi // f[a]) for hi in (old[1][a], new[1][a]) if (hi + 1) % f[a]]
    out = []
    for a, v in planes:
        if not dst_lo[a] <= v <= dst_hi[a]:
            continue
        ranges = [np.arange(dst_lo[i] // bs[i], dst_hi[i] // bs[i] + 1) for i in range(3)]
        ranges[a] = np.array([v // bs[a]])
        grid = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3)
        out.append(grid)
    return np.concatenate(out) if out else np.empty((0, 3), np.int64)
