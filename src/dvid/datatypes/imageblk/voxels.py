"""The hot paths: gather blocks into a voxel array, and split an aligned array into blocks.

Reads go through ``view.scan_ranges`` over every (z, y) row of blocks of the box: on LMDB one
ordered scan per visited row inside one read snapshot (zero-copy values), on an object store one
round of parallel GETs for the whole box; decode each stored block straight into a small block-layout staging array, then make one
strided copy into the output (perf.md §1); missing blocks cost nothing. Large reads can be produced
one layer of blocks at a time (``gather_layers``) so the server sends layer k while decoding layer
k+1. Writes stage one row of blocks at a time (cache-sized, no whole-request transpose copy) and
store every block of the request in atomic batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

import numpy as np

from dvid import budget
from dvid.codecs import block as blockcodec
from dvid.datastore import keys
from dvid.datastore.view import VersionedView
from dvid.datatypes.imageblk import changes
from dvid.geometry import Box
from dvid.limits import INT32_MAX

BLOCK_CLASS = 23
WRITE_BATCH = 1000  # blocks per atomic storage batch for very large writes

#: ``outside(bx, by, bz)``: True for a block outside the request's ROI (its voxels read as background)
OutsideROI = Callable[[int, int, int], bool]


def block_tkey(x: int, y: int, z: int) -> bytes:
    return keys.tkey(BLOCK_CLASS, keys.zyx_bytes(x, y, z))


def block_coord(tk: bytes) -> tuple[int, int, int]:
    return keys.zyx_from_bytes(tk, keys.TKEY_HEADER_LEN)


def row_range(bx0: int, bx1: int, by: int, bz: int) -> tuple[bytes, bytes]:
    """Half-open type-key range of the blocks ``bx0..bx1`` (inclusive) of row (by, bz)."""
    end = block_tkey(bx1 + 1, by, bz) if bx1 < INT32_MAX else block_tkey(bx1, by, bz) + b"\xff"
    return block_tkey(bx0, by, bz), end


block_x = keys.zyx_tkey_x  # the x of a block type-key, read straight from its bytes


def scan_row(view: VersionedView, bx0: int, bx1: int, by: int, bz: int):
    """``(bx, stored value)`` of existing blocks in one row ``bx0..bx1`` (inclusive)."""
    for tk, val in view.scan(*row_range(bx0, bx1, by, bz)):
        yield block_x(tk), val


def next_stored_row(view: VersionedView, x0: int, x1: int, y0: int, y1: int, z1: int,
                    y: int, z: int) -> tuple[int, int] | None:
    """The first row ``(y', z')`` at or after ``(y, z)`` in key order, with ``y0 <= y' <= y1`` and
    ``z' <= z1``, that holds a stored block with ``x0 <= x <= x1``; None if there is none.

    Each step reads one key (one short scan of the view) and moves past it, so a stretch of rows,
    or of whole layers, with nothing stored costs what is stored around it, not its size: a huge
    box over an empty volume is answered at once.
    """
    end = row_range(x0, x1, y1, z1)[1]
    while True:
        budget.check()
        tk = next(view.keys(block_tkey(x0, y, z), end), None)
        if tk is None:
            return None
        fx, fy, fz = block_coord(tk)
        if fy < y0:  # a row before the box's first row, in a later layer
            y, z = y0, fz
        elif fy > y1:  # past the box's last row of layer fz
            if fz >= z1:
                return None
            y, z = y0, fz + 1
        elif fx < x0:  # a later row, left of the box: look again from x0 in that row
            y, z = fy, fz
        elif fx <= x1:
            return fy, fz
        elif fy < y1:  # right of the box: the next row
            y, z = fy + 1, fz
        elif fz < z1:
            y, z = y0, fz + 1
        else:
            return None


def walk_rows(view: VersionedView, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int,
              visit: Callable[[int, int], int],
              gap: Callable[[int, int, tuple[int, int] | None], None] | None = None) -> None:
    """Call ``visit(y, z)`` for the rows of blocks of a block range that may hold stored blocks,
    in key order; ``visit`` returns how many blocks it found in the row.

    Rows follow one another while they hold blocks (dense data pays nothing extra); after a row
    with none, ``next_stored_row`` jumps to the next row holding any, and ``gap(y, z, found)`` is
    told that the rows from ``(y, z)`` up to ``found`` (exclusive; None: to the end) were skipped.
    The request's budget is checked at every row.
    """
    y, z = y0, z0
    while True:
        budget.check()
        got = visit(y, z)
        if y < y1:
            ny, nz = y + 1, z
        elif z < z1:
            ny, nz = y0, z + 1
        else:
            return
        if got:
            y, z = ny, nz
            continue
        found = next_stored_row(view, x0, x1, y0, y1, z1, ny, nz)
        if gap is not None:
            gap(ny, nz, found)
        if found is None:
            return
        y, z = found


class BoxRows(Sequence[tuple[bytes, bytes]]):
    """The type-key ranges of every (z, y) row of blocks ``x0..x1`` of a block range, in key
    order, computed on demand (a huge, mostly empty box costs nothing for the rows it skips)."""

    def __init__(self, x0: int, x1: int, y0: int, y1: int, z0: int, z1: int) -> None:
        self.x0, self.x1, self.y0, self.z0 = x0, x1, y0, z0
        self.nby = y1 - y0 + 1
        self.n = self.nby * (z1 - z0 + 1)

    def index(self, y: int, z: int) -> int:
        return (z - self.z0) * self.nby + (y - self.y0)

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> tuple[bytes, bytes]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[bytes, bytes]]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not 0 <= i < self.n:
            raise IndexError(i)
        z, y = divmod(i, self.nby)
        return row_range(self.x0, self.x1, self.y0 + y, self.z0 + z)


class _BoxReader:
    """Fills the voxels of a box, one run of block layers at a time, into destination arrays.

    Holds the reusable row staging buffer; ``fill(cz_a, cz_b, dst)`` writes the planes of block
    layers ``cz_a..cz_b`` that fall inside the box into ``dst`` (shape ``[planes, sy, sx(, c)]``),
    skipping stretches of rows with nothing stored (``walk_rows``).
    """

    def __init__(self, view: VersionedView, box: Box, bs: tuple[int, int, int], dtype: np.dtype, channels: int,
                 missing: int, outside_roi: OutsideROI | None, background: int) -> None:
        self.view, self.box, self.bs = view, box, bs
        self.missing, self.outside_roi, self.background = missing, outside_roi, background
        (self.x0, self.y0, self.z0), (self.x1, self.y1, self.z1) = box.block_range(bs)
        self.box_rows = BoxRows(self.x0, self.x1, self.y0, self.y1, self.z0, self.z1)
        self.scans = view.scan_ranges(self.box_rows)  # on an object store: every row requested now
        self.nbx = self.x1 - self.x0 + 1
        self.extra = (channels,) if channels > 1 else ()
        bx, by, bz = bs
        self.stage = np.empty((self.nbx, bz, by, bx) + self.extra, dtype)
        self.stage_u8 = self.stage.view(np.uint8).reshape(self.nbx, -1)
        ox, sx = box.offset[0], box.size[0]
        self.x_aligned = ox == self.x0 * bx and sx == self.nbx * bx
        # Copy whole x-runs of a block as single opaque items: ~1.6x faster than per-voxel strides.
        self.run = self.stage_u8.shape[1] // (bz * by)
        self.run_dtype = np.dtype((np.void, self.run))
        self.stage_runs = self.stage_u8.reshape(self.nbx, bz, by, self.run).view(self.run_dtype)[..., 0]
        if not self.x_aligned:
            self.strip = np.empty((bz, by, self.nbx * bx) + self.extra, dtype)
            self.strip_runs = self.strip.view(np.uint8).reshape(bz, by, self.nbx, self.run) \
                .view(self.run_dtype)[..., 0]

    def planes(self, cz: int) -> tuple[int, int]:
        """Voxel z range ``[za, zb)`` of block layer ``cz`` inside the box."""
        oz, sz, bz = self.box.offset[2], self.box.size[2], self.bs[2]
        return max(oz, cz * bz), min(oz + sz, (cz + 1) * bz)

    def rows(self, cy: int) -> tuple[int, int]:
        """Voxel y range ``[ya, yb)`` of block row ``cy`` inside the box."""
        oy, sy, by = self.box.offset[1], self.box.size[1], self.bs[1]
        return max(oy, cy * by), min(oy + sy, (cy + 1) * by)

    def fill(self, cz_a: int, cz_b: int, dst: np.ndarray) -> None:
        bx, by, bz = self.bs
        ox, oy, _ = self.box.offset
        sx, sy, _ = self.box.size
        z_first = self.planes(cz_a)[0]
        stage_u8, missing = self.stage_u8, self.missing
        x0, nbx = self.x0, self.nbx
        dst_u8 = dst.view(np.uint8)
        if self.x_aligned:  # dst is C-contiguous: address it as [z, y, block x] runs
            dst_runs = dst_u8.reshape(dst.shape[0], sy, nbx, self.run).view(self.run_dtype)[..., 0]

        def visit(cy: int, cz: int) -> int:
            za, zb = self.planes(cz)
            ya, yb = self.rows(cy)
            got = self._decode_row(cy, cz)
            if not got:
                dst_u8[za - z_first : zb - z_first, ya - oy : yb - oy].fill(missing)
                return 0
            if got < nbx:
                for ix in self._absent:
                    stage_u8[ix].fill(missing)
            zs = slice(za - cz * bz, zb - cz * bz)
            ys = slice(ya - cy * by, yb - cy * by)
            if self.x_aligned:  # one strided copy for the whole row of blocks
                dst_runs[za - z_first : zb - z_first, ya - oy : yb - oy] = self.stage_runs[:, zs, ys].transpose(1, 2, 0)
                return got
            # unaligned in x: lay the row out as voxels in a strip, then copy the box's x-range
            self.strip_runs[zs, ys] = self.stage_runs[:, zs, ys].transpose(1, 2, 0)
            dst[za - z_first : zb - z_first, ya - oy : yb - oy] = self.strip[zs, ys, ox - x0 * bx : ox - x0 * bx + sx]
            return got

        def gap(cy: int, cz: int, found: tuple[int, int] | None) -> None:
            """Fill rows from (cy, cz) up to ``found`` (exclusive) with the missing byte."""
            fy, fz = found if found is not None else (self.y1 + 1, cz_b)
            if fz > cz:  # rest of layer cz, whole layers between, start of layer fz
                za, zb = self.planes(cz)
                dst_u8[za - z_first : zb - z_first, self.rows(cy)[0] - oy :].fill(missing)
                za, zb = self.planes(cz + 1)[0], self.planes(fz - 1)[1] if fz - 1 > cz else None
                if zb is not None:
                    dst_u8[za - z_first : zb - z_first].fill(missing)
                cy, cz = self.y0, fz
            za, zb = self.planes(cz)
            ya = self.rows(cy)[0]
            yb = self.rows(fy)[0] if fy <= self.y1 else oy + sy
            dst_u8[za - z_first : zb - z_first, ya - oy : yb - oy].fill(missing)

        walk_rows(self.view, self.x0, self.x1, self.y0, self.y1, cz_a, cz_b, visit, gap)

    def _decode_row(self, cy: int, cz: int) -> int:
        """Decode the stored blocks of row (cy, cz) into the staging buffer; returns how many exist
        and leaves the indices of absent ones in ``self._absent``."""
        x0 = self.x0
        stage_u8, outside = self.stage_u8, self.outside_roi
        decode, codec_error = blockcodec.deserialize_into, blockcodec.CodecError
        present = bytearray(self.nbx)
        n = 0
        for tk, val in self.scans[self.box_rows.index(cy, cz)]:  # scan_row, inlined: hot path
            cx = block_x(tk)
            ix = cx - x0
            present[ix] = 1
            n += 1
            out = stage_u8[ix]
            if outside is not None and outside(cx, cy, cz):
                out.fill(self.background)
                continue
            try:
                decode(val, out)
            except codec_error:
                out.fill(self.missing)  # a corrupt block reads as missing, like DVID's logged skip
        if n < self.nbx:
            self._absent = [i for i in range(self.nbx) if not present[i]]
        return n


def gather(view: VersionedView, box: Box, bs: tuple[int, int, int], dtype: np.dtype, channels: int,
           *, missing: int = 0, outside_roi: OutsideROI | None = None, background: int = 0) -> np.ndarray:
    """The voxels of ``box`` as a C-contiguous [z, y, x(, c)] array.

    ``missing`` fills bytes of blocks that do not exist (raw reads use 0, ``arb``/``blocks`` use the
    Background byte). ``outside_roi(bx, by, bz)`` True replaces a stored block by ``background``.
    Memory stays at the output size plus one row of blocks, thin boxes (2-d slices) copy only
    the planes they need, and stretches with nothing stored cost one fill each.
    """
    sx, sy, sz = box.size
    extra = (channels,) if channels > 1 else ()
    out = np.empty((sz, sy, sx) + extra, dtype)
    with view.snapshot() as snap:
        reader = _BoxReader(snap, box, bs, dtype, channels, missing, outside_roi, background)
        reader.fill(reader.z0, reader.z1, out)
    return out


#: a streamed answer's chunks hold at least this many bytes (whole block layers each), so thin
#: boxes with thousands of small layers are not sent as thousands of tiny chunks
STREAM_CHUNK_BYTES = 2 << 20


def gather_layers(view: VersionedView, box: Box, bs: tuple[int, int, int], dtype: np.dtype, channels: int,
                  *, missing: int = 0, outside_roi: OutsideROI | None = None,
                  background: int = 0) -> Iterator[memoryview]:
    """The bytes of ``gather(...)`` as consecutive chunks of whole z-layers of blocks.

    The server asks for chunk k+1 while it sends chunk k, so decoding and socket writes overlap;
    memory stays at a couple of chunks instead of the whole answer. (Decoding two layers at once
    on two threads was measured slower: more CPU per request and no shorter wall time.) The read
    snapshot stays open until the iterator is exhausted or closed. The request's budget is taken
    now, as the chunks are made on another thread.
    """
    return _chunks(view, box, bs, dtype, channels, missing, outside_roi, background, budget.current())


def _chunks(view: VersionedView, box: Box, bs: tuple[int, int, int], dtype: np.dtype, channels: int,
            missing: int, outside_roi: OutsideROI | None, background: int,
            limit: budget.Budget | None) -> Iterator[memoryview]:
    sx, sy, _ = box.size
    extra = (channels,) if channels > 1 else ()
    plane_bytes = sx * sy * np.dtype(dtype).itemsize * max(channels, 1)
    per_chunk = max(1, STREAM_CHUNK_BYTES // max(1, plane_bytes * bs[2]))
    with view.snapshot() as snap, budget.bounded(limit):
        reader = _BoxReader(snap, box, bs, dtype, channels, missing, outside_roi, background)
        for cz in range(reader.z0, reader.z1 + 1, per_chunk):
            cz_b = min(reader.z1, cz + per_chunk - 1)
            za, zb = reader.planes(cz)[0], reader.planes(cz_b)[1]
            chunk = np.empty((zb - za, sy, sx) + extra, dtype)
            reader.fill(cz, cz_b, chunk)
            yield memoryview(chunk).cast("B")


def encode_blocks(data: np.ndarray, box: Box, bs: tuple[int, int, int], compression: str, checksum: str,
                  skip: OutsideROI | None = None,
                  ready: Callable[[int], object] | None = None) -> Iterator[tuple[bytes, bytes | memoryview]]:
    """``(tkey, stored value)`` for each block of a block-aligned [z, y, x(, c)] array, in key order.

    One row of blocks at a time is copied into a reusable staging buffer (a strided copy that stays
    in cache) and each block is serialized from it; ``skip(bx, by, bz)`` True omits a block.
    ``ready(n)``, when given, is called before a layer of blocks is read and returns once the first
    ``n`` bytes of ``data`` are valid (an upload still arriving).
    """
    bx, by, bz = bs
    sx, sy, sz = box.size
    extra = data.shape[3:]
    nbx, nby, nbz = sx // bx, sy // by, sz // bz
    fx, fy, fz = box.offset[0] // bx, box.offset[1] // by, box.offset[2] // bz
    stage = np.empty((nbx, bz, by, bx) + extra, data.dtype)
    flat = stage.view(np.uint8).reshape(nbx, -1)
    run = flat.shape[1] // (bz * by)  # bytes of one x-run of a block, copied as one opaque item
    run_dtype = np.dtype((np.void, run))
    stage_runs = flat.reshape(nbx, bz, by, run).view(run_dtype)[..., 0]
    data_runs = np.ascontiguousarray(data).view(np.uint8).reshape(sz, sy, nbx, run).view(run_dtype)[..., 0]
    slot = blockcodec.lz4_value_bound(flat.shape[1]) if compression.split(":", 1)[0] == "lz4" else 0
    layer_bytes = data[:bz].nbytes
    for iz in range(nbz):
        if ready is not None:
            ready((iz + 1) * layer_bytes)
        for iy in range(nby):
            z, y = fz + iz, fy + iy
            todo = [ix for ix in range(nbx) if skip is None or not skip(fx + ix, y, z)]
            if not todo:
                continue
            rows = data_runs[iz * bz : (iz + 1) * bz, iy * by : (iy + 1) * by]
            stage_runs[...] = rows.transpose(2, 0, 1)
            if slot:  # lz4: compress each block straight into this row's arena; values are views of it
                arena = memoryview(np.empty(len(todo) * slot, np.uint8))
                for j, ix in enumerate(todo):
                    n = blockcodec.serialize_lz4_into(flat[ix], checksum, arena[j * slot : (j + 1) * slot])
                    yield block_tkey(fx + ix, y, z), arena[j * slot : j * slot + n]
                continue
            for ix in todo:
                yield block_tkey(fx + ix, y, z), blockcodec.serialize(flat[ix], compression, checksum,
                                                                      block_width=bx)


def write_batches(view: VersionedView, items, extra_puts: list[tuple[bytes, bytes]] | None = None) -> int:
    """Store ``items`` (block tkey, value) in batches of WRITE_BATCH blocks; ``extra_puts`` ride in
    the last batch. Each batch carries the change record of its blocks (``changes``), so a scale
    pyramid can tell exactly what is new. Each batch is atomic; on an object store the whole
    request is (``VersionedView.write_batches``), and packs upload while later batches encode."""
    n = 0

    def batches() -> Iterator[list[tuple[bytes, bytes]]]:
        nonlocal n
        batch: list[tuple[bytes, bytes]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= WRITE_BATCH:
                n += len(batch)
                yield with_change_record(batch)
                batch = []
        n += len(batch)
        last = with_change_record(batch) + list(extra_puts or [])
        if last:
            yield last

    view.write_batches(batches())
    return n


def with_change_record(blocks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``blocks`` plus the change record naming them."""
    return blocks + [changes.record(tk for tk, _ in blocks)] if blocks else blocks
