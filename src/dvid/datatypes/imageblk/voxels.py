"""The hot paths: gather blocks into a voxel array, and split an aligned array into blocks.

Reads do one ordered scan per (z, y) row of blocks, decode each stored block straight into a
block-layout staging array, then make one transpose copy into the output (perf.md §1); missing
blocks cost nothing. Writes split with one reshape/transpose copy and store every block of the
request in atomic batches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dvid.codecs import block as blockcodec
from dvid.datastore import keys
from dvid.datastore.view import VersionedView
from dvid.geometry import Box

BLOCK_CLASS = 23
WRITE_BATCH = 1000  # blocks per atomic storage batch for very large writes

InsideROI = Callable[[int, int, int], bool]


def block_tkey(x: int, y: int, z: int) -> bytes:
    return keys.tkey(BLOCK_CLASS, keys.zyx_bytes(x, y, z))


def block_coord(tk: bytes) -> tuple[int, int, int]:
    return keys.zyx_from_bytes(tk, 2)


def scan_row(view: VersionedView, bx0: int, bx1: int, by: int, bz: int):
    """``(bx, stored value)`` of existing blocks in one row ``bx0..bx1`` (inclusive)."""
    for tk, val in view.scan(block_tkey(bx0, by, bz), block_tkey(bx1 + 1, by, bz) if bx1 < 2**31 - 1
                             else block_tkey(bx1, by, bz) + b"\xff"):
        yield block_coord(tk)[0], val


def gather(view: VersionedView, box: Box, bs: tuple[int, int, int], dtype: np.dtype, channels: int,
           *, missing: int = 0, outside_roi: InsideROI | None = None, background: int = 0) -> np.ndarray:
    """The voxels of ``box`` as a C-contiguous [z, y, x(, c)] array.

    ``missing`` fills bytes of blocks that do not exist (raw reads use 0, ``arb``/``blocks`` use the
    Background byte). ``outside_roi(bx, by, bz)`` True replaces a stored block by ``background``.

    One row of blocks at a time is decoded into a small reusable staging buffer and copied into the
    output with one strided copy, so memory stays at the output size plus one row, and thin boxes
    (2-d slices) copy only the planes they need.
    """
    bx, by, bz = bs
    (x0, y0, z0), (x1, y1, z1) = box.block_range(bs)
    nbx = x1 - x0 + 1
    extra = (channels,) if channels > 1 else ()
    sx, sy, sz = box.size
    ox, oy, oz = box.offset
    out = np.empty((sz, sy, sx) + extra, dtype)
    stage = np.empty((nbx, bz, by, bx) + extra, dtype)
    stage_u8 = stage.view(np.uint8).reshape(nbx, -1)
    x_aligned = ox == x0 * bx and sx == nbx * bx
    for cz in range(z0, z1 + 1):
        za, zb = max(oz, cz * bz), min(oz + sz, (cz + 1) * bz)  # voxel z range of this block layer
        zs = slice(za - cz * bz, zb - cz * bz)
        for cy in range(y0, y1 + 1):
            ya, yb = max(oy, cy * by), min(oy + sy, (cy + 1) * by)
            ys = slice(ya - cy * by, yb - cy * by)
            dst_rows = out[za - oz : zb - oz, ya - oy : yb - oy]
            filled = False
            for cx, val in scan_row(view, x0, x1, cy, cz):
                if not filled:
                    stage_u8.fill(missing)
                    filled = True
                dst = stage_u8[cx - x0]
                if outside_roi is not None and outside_roi(cx, cy, cz):
                    dst.fill(background)
                    continue
                try:
                    blockcodec.deserialize_into(val, dst)
                except blockcodec.CodecError:
                    dst.fill(missing)  # a corrupt block reads as missing, like DVID's logged skip
            if not filled:
                dst_rows.view(np.uint8).fill(missing)
                continue
            if x_aligned:  # one strided copy for the whole row of blocks
                dz, dy = zb - za, yb - ya
                dst_rows.reshape((dz, dy, nbx, bx) + extra)[...] = \
                    stage[:, zs, ys].transpose((1, 2, 0, 3) + tuple(range(4, 4 + len(extra))))
                continue
            for ix in range(nbx):
                cx = x0 + ix
                xa, xb = max(ox, cx * bx), min(ox + sx, (cx + 1) * bx)
                dst_rows[:, :, xa - ox : xb - ox] = stage[ix, zs, ys, xa - cx * bx : xb - cx * bx]
    return out


def split_blocks(data: np.ndarray, box: Box, bs: tuple[int, int, int]) -> tuple[np.ndarray, tuple[int, int, int]]:
    """An aligned [z, y, x(, c)] array as [nbz, nby, nbx, bz, by, bx(, c)] contiguous blocks."""
    bx, by, bz = bs
    sx, sy, sz = box.size
    extra = data.shape[3:]
    v = data.reshape((sz // bz, bz, sy // by, by, sx // bx, bx) + extra)
    blocks = np.ascontiguousarray(v.transpose((0, 2, 4, 1, 3, 5) + tuple(range(6, 6 + len(extra)))))
    first = (box.offset[0] // bx, box.offset[1] // by, box.offset[2] // bz)
    return blocks, first


def encode_blocks(blocks: np.ndarray, first: tuple[int, int, int], compression: str, checksum: str,
                  block_width: int, skip: InsideROI | None = None):
    """``(tkey, stored value)`` for each block in key order; ``skip(bx, by, bz)`` True omits it."""
    nbz, nby, nbx = blocks.shape[:3]
    flat = blocks.view(np.uint8).reshape(nbz, nby, nbx, -1)
    for iz in range(nbz):
        for iy in range(nby):
            for ix in range(nbx):
                x, y, z = first[0] + ix, first[1] + iy, first[2] + iz
                if skip is not None and skip(x, y, z):
                    continue
                yield block_tkey(x, y, z), blockcodec.serialize(flat[iz, iy, ix], compression, checksum,
                                                                block_width=block_width)


def write_batches(view: VersionedView, items, extra_puts: list[tuple[bytes, bytes]] | None = None) -> int:
    """Store ``items`` in atomic batches of WRITE_BATCH blocks; ``extra_puts`` ride in the last batch."""
    n = 0
    batch: list[tuple[bytes, bytes]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= WRITE_BATCH:
            view.write(puts=batch)
            n += len(batch)
            batch = []
    batch.extend(extra_puts or [])
    if batch:
        view.write(puts=batch)
        n += len(batch)
    return n
