"""imageblk writes: block-aligned 3-d subvolumes (``POST raw``, encoded as the body arrives) and
runs of whole blocks (``POST blocks``). The whole request is validated before anything is stored."""

from __future__ import annotations

import numpy as np

from dvid.codecs import block as blockcodec
from dvid.datatypes.base import Response
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk import pyramid_auto
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.masking import roi_mask
from dvid.datatypes.imageblk.voxels import block_tkey, encode_blocks, write_batches
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import INT32_MAX


def go_point(p) -> str:
    """Go's Point3d formatting: ``(x,y,z)``."""
    return "(" + ",".join(str(v) for v in p) + ")"


def post_subvolume(c: Call, shape: tuple[int, ...], box: Box, format: str) -> Response:
    """``POST raw/0_1_2/<size>/<offset>``: a block-aligned subvolume, stored as whole blocks in
    atomic batches; a large body is encoded layer by layer as it arrives and nothing is written
    unless all of it came."""
    c.check_writable()
    lay = c.layout
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    expected = box.voxels * lay.bytes_per_voxel
    arriving = c.req.arriving
    got = arriving.size if arriving is not None else len(c.req.body)
    if got != expected:
        raise BadRequest(f"voxels data was {got} bytes, expected {expected} bytes for "
                         f"{go_point(box.size)} subvolume")
    outside = roi_mask(c.ctx, c.req)
    if not box.aligned(lay.block_size):
        raise BadRequest(f"cannot store voxels in non-block aligned geometry {go_point(box.offset)} -> "
                         f"{go_point(e - 1 for e in box.end)}")
    body = arriving.buffer if arriving is not None else c.req.body
    data = np.frombuffer(body, lay.dtype).reshape(lay.array_shape(box.size))
    new_ext = ext.grown(c.ctx.view, c.ctx.instance, list(box.offset), [e - 1 for e in box.end])
    items = encode_blocks(data, box, lay.block_size, lay.compression, lay.checksum, skip=outside,
                          ready=arriving.wait if arriving is not None else None)
    if arriving is not None:  # encode each layer as it arrives, but write nothing unless all came
        items = list(items)
        arriving.wait(expected)
    write_batches(c.ctx.view, items, [(ext.EXTENTS_TKEY, new_ext)] if new_ext else None)
    pyramid_auto.after_write(c.dt, c.ctx)  # O(1): an automatic pyramid updates in the background
    return Response(b"")


def post_blocks(c: Call, block: tuple[int, int, int], span: int) -> Response:
    """``POST blocks/<x>_<y>_<z>/<span>``: ``span`` whole blocks along x, uncompressed voxels."""
    c.check_writable()
    nbytes = c.layout.block_bytes
    if span <= 0 or len(c.req.body) < span * nbytes:
        raise BadRequest("block data ceased before all block data read")
    if block[0] + span - 1 > INT32_MAX:
        raise BadRequest("block span runs past the largest block coordinate")
    lay = c.layout
    body = memoryview(c.req.body)
    items = ((block_tkey(block[0] + i, block[1], block[2]),
              blockcodec.serialize(body[i * nbytes : (i + 1) * nbytes], lay.compression, lay.checksum,
                                   block_width=lay.block_size[0])) for i in range(span))
    write_batches(c.ctx.view, items)
    pyramid_auto.after_write(c.dt, c.ctx)
    return Response(b"")
