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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView
from dvid.datatypes.imageblk.downsample import Triple, downsample
from dvid.datatypes.imageblk.voxels import BLOCK_CLASS, block_tkey, block_x, encode_blocks, gather, row_range
from dvid.geometry import Box

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


@dataclass(frozen=True)
class VoxelFormat:
    dtype: np.dtype
    channels: int
    block_size: Triple
    compression: str
    checksum: str


def _layer_range(z: int) -> tuple[bytes, bytes]:
    lo = -(2**31)
    return block_tkey(lo, lo, z), (block_tkey(lo, lo, z + 1) if z < 2**31 - 1 else block_tkey(lo, lo, z) + b"\xff")


def _layer_keys(view: VersionedView, z: int) -> Iterator[tuple[int, int]]:
    """(x, y) of the blocks visible in block layer z."""
    for tk, _ in view.scan(*_layer_range(z)):
        if tk[0] == BLOCK_CLASS:
            yield block_x(tk), int.from_bytes(tk[6:10], "big") - 0x80000000


def _block_range(lo: int, hi: int, b: int) -> range:
    return range(lo // b, hi // b + 1)


class LevelBuilder:
    """Builds level ``dst`` from level ``src`` with one method and voxel format."""

    def __init__(self, src: Level, dst: Level, fmt: VoxelFormat, method: str,
                 progress: Callable[[int], None] = lambda n: None, keep_changed: bool = False,
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        self.src, self.dst, self.fmt, self.method = src, dst, fmt, method
        self.f = dst.factors
        self.progress, self.keep_changed, self.heartbeat = progress, keep_changed, heartbeat
        bx, by, bz = fmt.block_size
        per_block = bx * by * bz * fmt.dtype.itemsize * fmt.channels * self.f[0] * self.f[1] * self.f[2]
        self.tile_blocks = max(1, TILE_BYTES // per_block)
        self._puts: list[tuple[bytes, bytes]] = []
        self._dels: list[bytes] = []
        self._bytes = 0

    # ------------------------------------------------------------------------------ what to do
    def full(self, stats: LevelStats) -> None:
        """Every output block with a source block in the extents, and every stored one (it may
        have lost its sources), layer by layer."""
        stats.mode = "full"
        fx, fy, fz = self.f
        bz = self.fmt.block_size[2]
        for cz in _block_range(self.dst.lo[2], self.dst.hi[2], bz):
            todo: set[tuple[int, int]] = set()
            with self.src.view.snapshot() as sv:
                for z in range(cz * fz, cz * fz + fz):
                    todo.update((x // fx, y // fy) for x, y in _layer_keys(sv, z))
            with self.dst.view.snapshot() as dv:
                todo.update(_layer_keys(dv, cz))
            self._layer(cz, sorted((y, x) for x, y in todo), stats)

    def incremental(self, dirty: np.ndarray, stats: LevelStats) -> None:
        """The output blocks ``dirty`` ([n, 3] x, y, z, any order, duplicates allowed)."""
        if not len(dirty):
            return
        dirty = np.unique(dirty[:, ::-1], axis=0)  # sorted by z, y, x
        for cz in np.unique(dirty[:, 0]):
            rows = dirty[dirty[:, 0] == cz][:, 1:]
            self._layer(int(cz), [(int(y), int(x)) for y, x in rows], stats)

    # --------------------------------------------------------------------------------- the work
    def _layer(self, cz: int, yx: list[tuple[int, int]], stats: LevelStats) -> None:
        """Process the output blocks ``yx`` (sorted by y, x) of block layer ``cz``."""
        stats.dirty += len(yx)
        i = 0
        while i < len(yx):
            cy, x0 = yx[i]
            j = i + 1
            while j < len(yx) and yx[j][0] == cy and yx[j][1] == yx[j - 1][1] + 1 and j - i < self.tile_blocks:
                j += 1
            self._tile(cz, cy, x0, yx[j - 1][1], stats)
            self.heartbeat()
            i = j

    def _tile(self, cz: int, cy: int, x0: int, x1: int, stats: LevelStats) -> None:
        bs = self.fmt.block_size
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
        with self.src.view.snapshot() as sv:
            if all(a <= b for a, b in zip(val_lo, val_hi, strict=True)):
                for z in _block_range(val_lo[2], val_hi[2], bs[2]):
                    for y in _block_range(val_lo[1], val_hi[1], bs[1]):
                        sx0, sx1 = val_lo[0] // bs[0], val_hi[0] // bs[0]
                        for tk, _ in sv.scan(*row_range(sx0, sx1, y, z)):
                            present[block_x(tk) // f[0] - x0] = True
                if present.any():
                    box = Box(tuple(val_lo), tuple(b - a + 1 for a, b in zip(val_lo, val_hi, strict=True)))
                    data = gather(sv, box, bs, self.fmt.dtype, self.fmt.channels)
        puts: list[tuple[bytes, bytes | memoryview]] = []
        deletes: list[bytes] = []
        changed: list[int] = []
        with self.dst.view.snapshot() as dv:
            stored = {block_x(tk): bytes(v) for tk, v in dv.scan(*row_range(x0, x1, cy, cz))}
        if data is not None:
            out = self._downsample(data, win_lo, win_hi, val_lo, val_hi)
            out_box = Box(tuple(out_lo), (nb * bs[0], bs[1], bs[2]))
            for tk, val in encode_blocks(out, out_box, bs, self.fmt.compression, self.fmt.checksum,
                                         skip=lambda x, y, z: not present[x - x0]):
                x = block_x(tk)
                stats.computed += 1
                if stored.get(x) != val:
                    puts.append((tk, bytes(val)))
                    changed.append(x)
        for x in stored:
            if not present[x - x0]:
                deletes.append(block_tkey(x, cy, cz))
                changed.append(x)
        self._puts += puts
        self._dels += deletes
        self._bytes += sum(len(v) for _, v in puts)
        if self._bytes >= BATCH_BYTES or len(self._puts) + len(self._dels) >= BATCH_BLOCKS:
            self.flush()
        stats.written += len(puts)
        stats.deleted += len(deletes)
        if self.keep_changed and changed:
            c = np.empty((len(changed), 3), np.int64)
            c[:, 0], c[:, 1], c[:, 2] = changed, cy, cz
            stats.changed.append(c)
        self.progress(nb)

    def flush(self, extra_puts: list[tuple[bytes, bytes]] | None = None) -> None:
        """Write what the tiles so far produced (with ``extra_puts`` of the level instance) in one
        atomic batch. No change record: the levels are derived data."""
        puts = self._puts + (extra_puts or [])
        if puts or self._dels:
            self.dst.view.write(puts=puts, deletes=self._dels)
        self._puts, self._dels, self._bytes = [], [], 0

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
