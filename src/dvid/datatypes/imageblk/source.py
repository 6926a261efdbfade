"""One voxel source per instance: stored blocks or a GridStore volume behind one interface.

Handlers read voxels, block rows and block streams through a ``VoxelSource`` and never ask which
kind it is. ``StoredBlocks`` reads the versioned key-value view through ``voxels.py`` (the hot
paths); ``VolumeBlocks`` reads a read-only precomputed volume (``storage/precomputed.py``), passing
stored JPEG chunks through as DVID does. Both produce block streams under the same byte limit.
"""

from __future__ import annotations

import abc
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dvid import budget
from dvid.codecs import block as blockcodec
from dvid.datastore.view import VersionedView
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.voxels import (
    OutsideROI,
    block_tkey,
    gather,
    gather_layers,
    next_stored_row,
    scan_row,
    walk_rows,
)
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import Limits, refuse

_HDR = struct.Struct("<iiii")
NOT_JPEG = "compression=jpeg requested but the blocks are not stored as JPEG"


class Records:
    """A block stream (``specificblocks``, ``subvolblocks``): ``x, y, z, nbytes`` (int32 LE) then
    the payload, for each block sent; refuses an answer past the byte limit as it grows."""

    def __init__(self, limits: Limits) -> None:
        self.parts: list[bytes | memoryview] = []
        self.nbytes = 0
        self.limit = limits.max_request_bytes

    def add(self, x: int, y: int, z: int, payload: bytes | memoryview) -> None:
        n = len(payload)
        self.nbytes += n + 16
        if self.nbytes > self.limit:
            raise refuse("block stream answer", self.nbytes, "max_request_bytes", self.limit, " bytes")
        self.parts.append(_HDR.pack(x, y, z, n))
        self.parts.append(payload)

    def body(self) -> bytes:
        return b"".join(self.parts)


class VoxelSource(abc.ABC):
    """The voxels of one instance at one version."""

    layout: Layout
    #: False for read-only sources (GridStore volumes): every write is refused
    writable: bool
    #: a read of a few stored blocks costs microseconds (a local store: ``Engine.local``), so such
    #: requests may be answered on the server's event loop
    local: bool = False

    @abc.abstractmethod
    def read(self, box: Box, *, outside: OutsideROI | None = None, missing: int = 0) -> np.ndarray:
        """The voxels of ``box`` as [z, y, x(, c)]; ``missing`` fills bytes of absent blocks and
        ``outside(bx, by, bz)`` True makes a block read as the layout's outside fill."""

    def stream(self, box: Box, *, outside: OutsideROI | None = None) -> Iterator[memoryview] | None:
        """``read(box)``'s bytes as consecutive chunks, produced as they are sent; None when the
        source cannot stream (the caller reads the whole box instead)."""
        return None

    @abc.abstractmethod
    def block_row(self, bx: int, by: int, bz: int, span: int) -> np.ndarray:
        """``span`` blocks from (bx, by, bz) along x as ``[span, block bytes]``, absent blocks filled
        with the Background (DVID's ``blocks`` GET)."""

    @abc.abstractmethod
    def specific_blocks(self, coords: Sequence[tuple[int, int, int]], compression: str, limits: Limits) -> bytes:
        """The block stream of the listed blocks that exist, in request order."""

    @abc.abstractmethod
    def box_blocks(self, lo: tuple[int, int, int], hi: tuple[int, int, int], compression: str,
                   limits: Limits) -> bytes:
        """The block stream of every existing block of the inclusive block range, in key order."""


def stored_payload(val: Any, compression: str) -> bytes | memoryview | None:
    """The record payload for one stored block; None means "omit" (jpeg requested, not stored)."""
    if compression == "":
        return blockcodec.stored_payload(val)
    if compression == "uncompressed":
        return blockcodec.deserialize(val)
    if blockcodec.stored_format(val) != "jpeg":
        return None
    return blockcodec.stored_payload(val)


def gather_layout(view: VersionedView, box: Box, layout: Layout, *, outside: OutsideROI | None = None,
                  missing: int = 0) -> np.ndarray:
    """``voxels.gather`` of ``box`` with the instance's layout: its block size, element type and
    channels, and its outside fill for blocks ``outside(bx, by, bz)`` marks. For callers holding a
    view rather than a source (export, pyramid builds); the hot path underneath is unchanged."""
    return gather(view, box, layout.block_size, layout.dtype, layout.channels, missing=missing,
                  outside_roi=outside, background=layout.outside_fill)


class StoredBlocks(VoxelSource):
    """Blocks in the key-value store, read through the versioned view."""

    writable = True

    def __init__(self, view: VersionedView, layout: Layout) -> None:
        self.view = view
        self.layout = layout
        self.local = view.store.local

    def read(self, box: Box, *, outside: OutsideROI | None = None, missing: int = 0) -> np.ndarray:
        return gather_layout(self.view, box, self.layout, outside=outside, missing=missing)

    def stream(self, box: Box, *, outside: OutsideROI | None = None) -> Iterator[memoryview] | None:
        lay = self.layout
        return gather_layers(self.view, box, lay.block_size, lay.dtype, lay.channels,
                             outside_roi=outside, background=lay.outside_fill)

    def block_row(self, bx: int, by: int, bz: int, span: int) -> np.ndarray:
        out = np.empty((span, self.layout.block_bytes), np.uint8)
        out.fill(self.layout.background)
        with self.view.snapshot() as view:
            for cx, val in scan_row(view, bx, bx + span - 1, by, bz):
                try:
                    blockcodec.deserialize_into(val, out[cx - bx])
                except blockcodec.CodecError:
                    out[cx - bx].fill(self.layout.background)
        return out

    def specific_blocks(self, coords: Sequence[tuple[int, int, int]], compression: str, limits: Limits) -> bytes:
        out = Records(limits)
        with self.view.snapshot() as view:  # stored payloads are zero-copy buffers until the one join
            for (x, y, z), val in zip(coords, view.get_many([block_tkey(*c) for c in coords]), strict=True):
                if not val:
                    continue
                try:
                    payload = stored_payload(val, compression)
                except blockcodec.CodecError:
                    continue
                if payload is not None:
                    out.add(x, y, z, payload)
            return out.body()

    def box_blocks(self, lo: tuple[int, int, int], hi: tuple[int, int, int], compression: str,
                   limits: Limits) -> bytes:
        """Walks only rows that hold blocks (``voxels.walk_rows``), so the work is bounded by what
        is stored however large the box. One snapshot: payloads stay zero-copy views of the store
        until the one join. (Streaming the layers with chunked encoding was measured slower:
        Python clients decode chunked bodies slowly.)"""
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        out = Records(limits)
        with self.view.snapshot() as view:
            if compression == "jpeg" and self.layout.compression != "jpeg":
                if next_stored_row(view, x0, x1, y0, y1, z1, y0, z0) is not None:
                    raise BadRequest(NOT_JPEG)
                return b""

            def visit(y: int, z: int) -> int:
                n = 0
                for x, val in scan_row(view, x0, x1, y, z):
                    try:
                        payload = stored_payload(val, compression)
                    except blockcodec.CodecError as e:
                        raise BadRequest(f"block ({x},{y},{z}) cannot be decoded: {e}") from None
                    if payload is None:
                        raise BadRequest(NOT_JPEG)
                    out.add(x, y, z, payload)
                    n += 1
                return n

            walk_rows(view, x0, x1, y0, y1, z0, z1, visit)
            return out.body()


class VolumeBlocks(VoxelSource):
    """A GridStore instance: one scale of a read-only precomputed volume (``storage/precomputed``).
    Blocks are the volume's chunks; voxels outside the volume read as zero."""

    writable = False

    def __init__(self, volume: Any, layout: Layout) -> None:
        self.volume = volume
        self.layout = layout

    def read(self, box: Box, *, outside: OutsideROI | None = None, missing: int = 0) -> np.ndarray:
        vol = self.volume.read(box)
        if outside is not None:  # block-granular masking as for stored data
            self._mask(vol, box, outside)
        return vol

    def _mask(self, vol: np.ndarray, box: Box, outside: OutsideROI) -> None:
        bs = self.layout.block_size
        (x0, y0, z0), (x1, y1, z1) = box.block_range(bs)
        ox, oy, oz = box.offset
        for z in range(z0, z1 + 1):
            for y in range(y0, y1 + 1):
                budget.check()
                for x in range(x0, x1 + 1):
                    if outside(x, y, z):
                        vol[max(z * bs[2] - oz, 0) : max((z + 1) * bs[2] - oz, 0),
                            max(y * bs[1] - oy, 0) : max((y + 1) * bs[1] - oy, 0),
                            max(x * bs[0] - ox, 0) : max((x + 1) * bs[0] - ox, 0)] = 0

    def _block_box(self, b: tuple[int, int, int]) -> Box:
        bs = self.layout.block_size
        return Box((b[0] * bs[0], b[1] * bs[1], b[2] * bs[2]), bs)

    def block_row(self, bx: int, by: int, bz: int, span: int) -> np.ndarray:
        out = np.empty((span, self.layout.block_bytes), np.uint8)
        out.fill(self.layout.background)
        (gx0, _, _), (gx1, _, _) = self.volume.block_range()
        for cx in range(max(bx, gx0), min(bx + span - 1, gx1) + 1):
            if self.volume.block_exists(cx, by, bz):
                blk = self.volume.read(self._block_box((cx, by, bz)))
                out[cx - bx] = np.ascontiguousarray(blk).view(np.uint8).reshape(-1)
        return out

    def _payload(self, b: tuple[int, int, int], compression: str) -> bytes | None:
        """Stored JPEG chunks pass through; otherwise the block's voxels."""
        if compression in ("", "jpeg") and self.volume.encoding == "jpeg":
            chunk = self.volume.stored_chunk(*b)
            if chunk is not None:
                return chunk
        if compression == "jpeg":
            return None
        return np.ascontiguousarray(self.volume.read(self._block_box(b))).tobytes()

    def specific_blocks(self, coords: Sequence[tuple[int, int, int]], compression: str, limits: Limits) -> bytes:
        out = Records(limits)
        for i, b in enumerate(coords):
            if i % 1000 == 0:
                budget.check()
            payload = self._payload(b, compression) if self.volume.block_exists(*b) else None
            if payload:
                out.add(*b, payload)
        return out.body()

    def box_blocks(self, lo: tuple[int, int, int], hi: tuple[int, int, int], compression: str,
                   limits: Limits) -> bytes:
        if compression == "jpeg" and self.volume.encoding != "jpeg":
            raise BadRequest("compression=jpeg requested but the GridStore volume is not JPEG-encoded")
        out = Records(limits)
        (gx0, gy0, gz0), (gx1, gy1, gz1) = self.volume.block_range()  # only blocks the volume holds
        for z in range(max(lo[2], gz0), min(hi[2], gz1) + 1):
            for y in range(max(lo[1], gy0), min(hi[1], gy1) + 1):
                budget.check()
                for x in range(max(lo[0], gx0), min(hi[0], gx1) + 1):
                    payload = self._payload((x, y, z), compression)
                    if payload is not None:
                        out.add(x, y, z, payload)
        return out.body()
