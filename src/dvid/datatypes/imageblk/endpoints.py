"""imageblk HTTP endpoints (imageblk.md §1), one handler per keyword.

Every handler validates the whole request before touching storage, so bad input gets a 400 and
changes nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid import budget, jsonbody
from dvid.codecs import block as blockcodec
from dvid.codecs.images import box_scale, encode_image, parse_format
from dvid.datatypes.base import InstanceContext, Request, Response
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.arb import arb_image, plane_size
from dvid.datatypes.imageblk.props import block_size, extended_json, metadata_json
from dvid.datatypes.imageblk.voxels import (
    block_tkey,
    encode_blocks,
    gather,
    gather_layers,
    next_stored_row,
    scan_row,
    walk_rows,
    write_batches,
)
from dvid.datatypes.roi.spans import SpanIndex, read_spans
from dvid.errors import BadRequest
from dvid.geometry import Box, parse_floats, parse_point, parse_shape, slice_box, subvolume
from dvid.limits import INT32_MAX, INT32_MIN, Limits, refuse

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

_HDR = struct.Struct("<iiii")
STREAM_MIN_BYTES = 4 << 20  # raw reads this large are sent layer by layer while the next layer decodes

Handler = Callable[["ImageBlkType", InstanceContext, Request], Response]


def _pt(p) -> str:
    """Go's Point3d formatting: ``(x,y,z)``."""
    return "(" + ",".join(str(v) for v in p) + ")"


def _throttled(req: Request) -> bool:
    return req.query.get("throttle") in ("true", "on")


def _maybe_throttled(fn: Handler, dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    """Run a heavy handler, holding a server-wide throttle slot when ``throttle=true|on`` asks for it.

    Throttled reads are never streamed, so the slot covers all of their work."""
    if _throttled(req):
        with ctx.throttle():
            return fn(dt, ctx, req)
    return fn(dt, ctx, req)


# ---------------------------------------------------------------------------------- simple ones
def help_(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    return Response((dt.help() + "\n").encode(), content_type="text/plain")


def info(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    if req.method != "GET":
        raise BadRequest("info endpoint only supports GET HTTP verb")
    return Response(jsonbody.dumps(dt.info(ctx.instance, ctx.view)), content_type="application/json")


def metadata(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    e = extended_json(dt.vt, ctx.instance, ext.read_extents(ctx.view, ctx.instance))
    return Response(jsonbody.dumps(metadata_json(e)) + b"\n", content_type="application/vnd.dvid-nd-data+json")


def _json_body(ctx: InstanceContext, req: Request) -> Any:
    doc = jsonbody.load(req.body, limit=ctx.limits.max_json_bytes, what="cannot parse JSON body")
    if doc is None:
        raise BadRequest("cannot parse JSON body: Expecting value: line 1 column 1 (char 0)")
    return doc


def _point3(v: Any, name: str) -> list[int]:
    if v is None:
        return [0, 0, 0]
    if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise BadRequest(f"{name} must be an array of integers")
    v = (list(v) + [0, 0, 0])[:3]
    if any(not INT32_MIN <= x <= INT32_MAX for x in v):
        raise BadRequest(f"{name} values must fit in 32 bits")
    return v


def extents_post(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    if req.method != "POST":
        raise BadRequest("extents endpoint only supports POST HTTP verb")
    doc = _json_body(ctx, req)
    if not isinstance(doc, dict):
        raise BadRequest("extents must be a JSON object with MinPoint and MaxPoint")
    low = {k.lower(): v for k, v in doc.items()}
    lo, hi = _point3(low.get("minpoint"), "MinPoint"), _point3(low.get("maxpoint"), "MaxPoint")
    ctx.view.put(ext.EXTENTS_TKEY, ext.encode_extents(lo, hi))
    return Response(b"")


def resolution_post(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    if req.method != "POST":
        raise BadRequest("resolution endpoint only supports POST HTTP verb")
    doc = _json_body(ctx, req)
    if (not isinstance(doc, list) or len(doc) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in doc)):
        raise BadRequest("resolution must be a JSON array of 3 positive numbers, e.g. [4.0,4.0,40.0]")
    ctx.instance.props["VoxelSize"] = [float(v) for v in doc]
    ctx.save_instance()
    return Response(b"")


def rawkey(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    if len(req.parts) != 4:
        raise BadRequest("rawkey endpoint should be followed by query strings (x, y, and z) giving block coord")
    return Response(b"")


# ------------------------------------------------------------------------------------ ROI masks
def roi_mask(ctx: InstanceContext, req: Request) -> SpanIndex | None:
    name = req.query.get("roi", "")
    if not name:
        return None
    inst, view = ctx.other_instance(name)
    if inst.typename != "roi":
        raise BadRequest(f'Data name "{name}" was not of roi data type')
    return SpanIndex(read_spans(view))


def check_attenuation(req: Request) -> None:
    """Validated as DVID does (1..7 when roi is given); DVID never applies it (Q1)."""
    if req.query.get("roi") and "attenuation" in req.query:
        a = req.query["attenuation"]
        try:
            n = int(a)
        except ValueError:
            raise BadRequest(f'strconv.Atoi: parsing "{a}": invalid syntax') from None
        if not 1 <= n <= 7:
            raise BadRequest("Attenuation should be from 1 to 7 (divides by 2^n)")


# ------------------------------------------------------------------------------------- raw / iso
def _check_size(box: Box, bpv: int, limits: Limits) -> None:
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    if box.voxels * bpv > limits.max_request_bytes:
        raise refuse("requested payload", box.voxels * bpv, "max_request_bytes", limits.max_request_bytes, " bytes")


def _check_pixels(w: int, h: int, limits: Limits) -> None:
    """A 2-d answer's size, checked before reading: encoding costs time per pixel."""
    if w * h > limits.max_image_pixels:
        raise refuse(f"requested {w}x{h} image", w * h, "max_image_pixels", limits.max_image_pixels, " pixels")


WRITES = ("raw", "isotropic", "blocks", "extents", "resolution")


def grid_of(ctx: InstanceContext):
    """The precomputed volume behind a GridStore instance, or None."""
    alias = ctx.instance.props.get("GridStore")
    if not alias:
        return None
    from dvid.datatypes.imageblk.gridstore import open_grid

    return open_grid(alias, int(ctx.instance.props.get("ScaleLevel", 0)))


def _background(dt: ImageBlkType, ctx: InstanceContext) -> int:
    """The byte that fills voxels outside an ROI: the instance's Background for 1-byte voxels."""
    return ctx.instance.props["Background"] if dt.vt.bytes_per_voxel == 1 else 0


def read_box(dt: ImageBlkType, ctx: InstanceContext, box: Box, mask: SpanIndex | None) -> np.ndarray:
    grid = grid_of(ctx)
    if grid is not None:
        vol = grid.read(box)
        if mask is not None:  # block-granular masking as for stored data
            _mask_grid_read(vol, box, block_size(ctx.instance), mask)
        return vol
    return gather(ctx.view, box, block_size(ctx.instance), dt.vt.np_dtype, dt.vt.channels,
                  outside_roi=mask.outside if mask is not None else None, background=_background(dt, ctx))


def _mask_grid_read(vol: np.ndarray, box: Box, bs: tuple[int, int, int], mask: SpanIndex) -> None:
    (x0, y0, z0), (x1, y1, z1) = box.block_range(bs)
    ox, oy, oz = box.offset
    for z in range(z0, z1 + 1):
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                if mask.outside(x, y, z):
                    vol[max(z * bs[2] - oz, 0) : max((z + 1) * bs[2] - oz, 0),
                        max(y * bs[1] - oy, 0) : max((y + 1) * bs[1] - oy, 0),
                        max(x * bs[0] - ox, 0) : max((x + 1) * bs[0] - ox, 0)] = 0


def image_of(dt: ImageBlkType, vol2d: np.ndarray) -> np.ndarray:
    """A 2-d voxel array as an encodable image: gray uint8 or RGBA (other types per §6)."""
    if dt.vt.channels == 4 or vol2d.dtype == np.uint8:
        return vol2d
    if vol2d.dtype.itemsize == 2:
        return vol2d.astype(np.uint16)  # 16-bit gray; the PNG encoder writes it big-endian as Go does
    return np.ascontiguousarray(vol2d).view(np.uint8).reshape(vol2d.shape + (vol2d.dtype.itemsize,))[..., :4]


def raw(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    kw = p[3]
    if len(p) < 7:
        raise BadRequest(f'"{kw}" must be followed by shape/size/offset')
    axes = parse_shape(p[4])
    if len(axes) == 2:
        return _raw_2d(dt, ctx, req, axes, kw == "isotropic")
    return _maybe_throttled(_raw_3d, dt, ctx, req)


def _raw_2d(dt: ImageBlkType, ctx: InstanceContext, req: Request, axes: tuple[int, ...], iso: bool) -> Response:
    p = req.parts
    box, (w, h) = slice_box(axes, p[5], p[6])
    if req.method == "POST":
        raise BadRequest("DVID does not permit 2d mutations, only 3d block-aligned stores")
    _check_pixels(w, h, ctx.limits)
    _check_size(box, dt.vt.bytes_per_voxel, ctx.limits)
    fmt = p[7] if len(p) > 7 else ""
    parse_format(fmt)  # reject bad formats before reading
    mask = roi_mask(ctx, req)
    read_w, read_h = w, h
    if iso:
        vs = ctx.instance.props["VoxelSize"]
        rw, rh = np.float32(vs[axes[0]]), np.float32(vs[axes[1]])
        if rw < rh:
            read_h = int(np.float32(h) * rw / rh + np.float32(0.5))
        elif rw > rh:
            read_w = int(np.float32(w) * rh / rw + np.float32(0.5))
        if read_w <= 0 or read_h <= 0:
            raise BadRequest("Illegal geometry requested")
        s = list(box.size)
        s[axes[0]], s[axes[1]] = read_w, read_h
        box = Box(box.offset, (s[0], s[1], s[2]))
    vol = read_box(dt, ctx, box, mask)
    if axes == (0, 1):
        img = vol[0]
    elif axes == (0, 2):
        img = vol[:, 0]
    else:
        img = vol[:, :, 0]
    img = image_of(dt, img)
    if (read_w, read_h) != (w, h):
        img = box_scale(img, w, h)
    data, ctype = encode_image(img, fmt)
    return Response(data, content_type=ctype)


def _raw_3d(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    box = subvolume(p[5], p[6])
    if req.method == "POST":
        if p[3] == "isotropic":
            raise BadRequest("can only POST 'raw' not 'isotropic' images")
        return _post_raw(dt, ctx, req, box)
    _check_size(box, dt.vt.bytes_per_voxel, ctx.limits)
    mask = roi_mask(ctx, req)
    as_jpeg = len(p) > 7 and p[7] in ("jpg", "jpeg")
    if as_jpeg:
        _check_pixels(box.size[0], box.size[1] * box.size[2], ctx.limits)
    nbytes = box.voxels * dt.vt.bytes_per_voxel
    if not as_jpeg and nbytes >= STREAM_MIN_BYTES and grid_of(ctx) is None and not _throttled(req):
        layers = gather_layers(ctx.view, box, block_size(ctx.instance), dt.vt.np_dtype, dt.vt.channels,
                               outside_roi=mask.outside if mask is not None else None, background=_background(dt, ctx))
        return Response(stream=layers, length=nbytes, content_type="application/octet-stream")
    vol = read_box(dt, ctx, box, mask)
    if as_jpeg:
        sx, sy, sz = box.size
        img = image_of(dt, vol.reshape((sz * sy, sx) + vol.shape[3:]))
        data, ctype = encode_image(img, "jpg")
        return Response(data, content_type=ctype)
    return Response(memoryview(vol).cast("B"), content_type="application/octet-stream")


def _post_raw(dt: ImageBlkType, ctx: InstanceContext, req: Request, box: Box) -> Response:
    inst = ctx.instance
    bs = block_size(inst)
    bpv = dt.vt.bytes_per_voxel
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    expected = box.voxels * bpv
    arriving = req.arriving
    got = arriving.size if arriving is not None else len(req.body)
    if got != expected:
        raise BadRequest(f"voxels data was {got} bytes, expected {expected} bytes for "
                         f"{_pt(box.size)} subvolume")
    mask = roi_mask(ctx, req)
    if not box.aligned(bs):
        raise BadRequest(f"cannot store voxels in non-block aligned geometry {_pt(box.offset)} -> "
                         f"{_pt(e - 1 for e in box.end)}")
    sx, sy, sz = box.size
    extra = (dt.vt.channels,) if dt.vt.channels > 1 else ()
    body = arriving.buffer if arriving is not None else req.body
    data = np.frombuffer(body, dt.vt.np_dtype).reshape((sz, sy, sx) + extra)
    hi = [e - 1 for e in box.end]
    new_ext = ext.grown(ctx.view, inst, list(box.offset), hi)
    items = encode_blocks(data, box, bs, inst.compression, inst.checksum,
                          skip=mask.outside if mask is not None else None,
                          ready=arriving.wait if arriving is not None else None)
    if arriving is not None:  # encode each layer as it arrives, but write nothing unless all came
        items = list(items)
        arriving.wait(expected)
    write_batches(ctx.view, items, [(ext.EXTENTS_TKEY, new_ext)] if new_ext else None)
    return Response(b"")


# ------------------------------------------------------------------------------------------ arb
def arb(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    if len(p) < 8:
        raise BadRequest("'arb' must be followed by top left, top right, bottom left, and resolution")
    return _maybe_throttled(_arb, dt, ctx, req)


def _arb(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    tl, tr, bl = (np.array(parse_floats(s), np.float64) for s in p[4:7])
    if not (len(tl) == len(tr) == len(bl) == 3):
        raise BadRequest("arb points must be 3d, e.g. 0_0_80")
    try:
        res = float(p[7])
    except ValueError:
        raise BadRequest(f'strconv.ParseFloat: parsing "{p[7]}": invalid syntax') from None
    fmt = p[8] if len(p) > 8 else ""
    parse_format(fmt)
    nx, ny = plane_size(tl, tr, bl, res, ctx.limits)
    bgval = _background(dt, ctx)
    grid = grid_of(ctx)
    bs = block_size(ctx.instance)

    def read(box: Box) -> np.ndarray:
        if grid is not None:
            return grid.read(box)
        return gather(ctx.view, box, bs, dt.vt.np_dtype, dt.vt.channels, missing=bgval)

    img = arb_image(tl, tr, bl, nx, ny, ctx.instance.props["VoxelSize"], read)
    data, ctype = encode_image(np.ascontiguousarray(img), fmt)
    return Response(data, content_type=ctype)


# --------------------------------------------------------------------------------------- blocks
def _block_coord(s: str) -> tuple[int, int, int]:
    pt = parse_point(s)
    if len(pt) != 3:
        raise BadRequest(f"block coordinate must be 3d, got '{s}'")
    return pt[0], pt[1], pt[2]


def blocks(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    if len(p) < 6:
        raise BadRequest('"blocks" must be followed by block-coord/span-x')
    bx, by, bz = _block_coord(p[4])
    try:
        span = int(p[5])
    except ValueError:
        raise BadRequest(f'strconv.Atoi: parsing "{p[5]}": invalid syntax') from None
    bs = block_size(ctx.instance)
    nbytes = bs[0] * bs[1] * bs[2] * dt.vt.bytes_per_voxel
    if req.method == "POST":
        return _post_blocks(dt, ctx, req, (bx, by, bz), span, nbytes)
    if span < 0:
        raise BadRequest(f"span must not be negative, got {span}")
    if span == 0:
        return Response(b"", content_type="application/octet-stream")
    if bx + span - 1 > INT32_MAX:
        raise BadRequest("block span runs past the largest block coordinate")
    lim = ctx.limits
    if span > lim.max_request_blocks:
        raise refuse("block span", span, "max_request_blocks", lim.max_request_blocks, " blocks")
    if span * nbytes > lim.max_request_bytes:
        raise refuse("requested payload", span * nbytes, "max_request_bytes", lim.max_request_bytes, " bytes")
    out = np.empty((span, nbytes), np.uint8)
    out.fill(ctx.instance.props["Background"])
    grid = grid_of(ctx)
    if grid is not None:
        for i in range(span):
            if grid.block_exists(bx + i, by, bz):
                blk = grid.read(Box(((bx + i) * bs[0], by * bs[1], bz * bs[2]), bs))
                out[i] = np.ascontiguousarray(blk).view(np.uint8).reshape(-1)
        return Response(memoryview(out).cast("B"), content_type="application/octet-stream")
    with ctx.view.snapshot() as view:
        for cx, val in scan_row(view, bx, bx + span - 1, by, bz):
            try:
                blockcodec.deserialize_into(val, out[cx - bx])
            except blockcodec.CodecError:
                out[cx - bx].fill(ctx.instance.props["Background"])
    return Response(memoryview(out).cast("B"), content_type="application/octet-stream")


def _post_blocks(dt: ImageBlkType, ctx: InstanceContext, req: Request, start: tuple[int, int, int],
                 span: int, nbytes: int) -> Response:
    if span <= 0:
        raise BadRequest("block data ceased before all block data read")
    if len(req.body) < span * nbytes:
        raise BadRequest("block data ceased before all block data read")
    if start[0] + span - 1 > INT32_MAX:
        raise BadRequest("block span runs past the largest block coordinate")
    inst = ctx.instance
    bs = block_size(inst)
    body = memoryview(req.body)
    items = ((block_tkey(start[0] + i, start[1], start[2]),
              blockcodec.serialize(body[i * nbytes : (i + 1) * nbytes], inst.compression, inst.checksum,
                                   block_width=bs[0])) for i in range(span))
    write_batches(ctx.view, items)
    return Response(b"")


# ----------------------------------------------------------------------------- block streams
def _payload(dt: ImageBlkType, val: bytes, compression: str) -> bytes | memoryview | None:
    """The record payload for one stored block; None means "omit" (jpeg requested, not stored)."""
    if compression == "":
        return blockcodec.stored_payload(val)
    if compression == "uncompressed":
        return blockcodec.deserialize(val)
    if blockcodec.stored_format(val) != "jpeg":
        return None
    return blockcodec.stored_payload(val)


def _grid_payload(grid, bs: tuple[int, int, int], b: tuple[int, int, int], compression: str) -> bytes | None:
    """Record payload of a GridStore block: stored JPEG chunks pass through; otherwise voxels."""
    if compression in ("", "jpeg") and grid.encoding == "jpeg":
        chunk = grid.stored_chunk(*b)
        if chunk is not None:
            return chunk
    if compression == "jpeg":
        return None
    blk = grid.read(Box(tuple(c * n for c, n in zip(b, bs, strict=True)), bs))
    return np.ascontiguousarray(blk).tobytes()


def _check_compression(req: Request) -> str:
    c = req.query.get("compression", "")
    if c not in ("", "jpeg", "uncompressed"):
        raise BadRequest(f"don't understand 'compression' query string value: {c}")
    return c


class _Records:
    """The records of a block stream (``specificblocks``, ``subvolblocks``): ``x, y, z, nbytes``
    (int32 LE) then the payload, for each block sent; refuses an answer past the byte limit."""

    def __init__(self, limits: Limits) -> None:
        self.parts: list[bytes | memoryview] = []
        self.nbytes = 0
        self.limits = limits

    def add(self, x: int, y: int, z: int, payload: bytes | memoryview) -> None:
        n = len(payload)
        self.nbytes += n + 16
        if self.nbytes > self.limits.max_request_bytes:
            raise refuse("block stream answer", self.nbytes, "max_request_bytes", self.limits.max_request_bytes,
                         " bytes")
        self.parts.append(_HDR.pack(x, y, z, n))
        self.parts.append(payload)

    def response(self) -> Response:
        return Response(b"".join(self.parts), content_type="application/octet-stream")


def specificblocks(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    if req.method == "POST":
        raise BadRequest("DVID does not accept the post action on the 'specificblocks' endpoint")
    comp = _check_compression(req)
    spec = req.query.get("blocks", "")
    if not spec:
        return Response(b"", content_type="application/octet-stream")
    items = spec.split(",")
    if len(items) % 3:
        raise BadRequest("block query string should be three coordinates per block")
    lim = ctx.limits
    if len(items) // 3 > lim.max_request_blocks:
        raise refuse("block list", len(items) // 3, "max_request_blocks", lim.max_request_blocks, " blocks")
    try:
        coords = [int(v) for v in items]
    except ValueError as e:
        raise BadRequest(f"strconv.Atoi: {e}") from None
    bad = next((v for v in coords if not INT32_MIN <= v <= INT32_MAX), None)
    if bad is not None:
        raise BadRequest(f"block coordinate {bad} is outside the 32-bit range")
    if req.query.get("prefetch") in ("on", "true"):
        return Response(b"", content_type="application/octet-stream")
    out = _Records(lim)
    grid = grid_of(ctx)
    if grid is not None:
        bs = block_size(ctx.instance)
        for i in range(0, len(coords), 3):
            if i % 3000 == 0:
                budget.check()
            b = (coords[i], coords[i + 1], coords[i + 2])
            payload = _grid_payload(grid, bs, b, comp) if grid.block_exists(*b) else None
            if payload:
                out.add(*b, payload)
        return out.response()
    tks = [block_tkey(coords[i], coords[i + 1], coords[i + 2]) for i in range(0, len(coords), 3)]
    with ctx.view.snapshot() as view:  # stored payloads are zero-copy buffers until the one join
        for i, val in enumerate(view.get_many(tks)):
            if not val:
                continue
            try:
                payload = _payload(dt, val, comp)
            except blockcodec.CodecError:
                continue
            if payload is None:
                continue
            out.add(coords[3 * i], coords[3 * i + 1], coords[3 * i + 2], payload)
        return out.response()


def subvolblocks(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    p = req.parts
    if len(p) < 6:
        raise BadRequest('"subvolblocks" must be followed by size/offset')
    return _maybe_throttled(_subvolblocks, dt, ctx, req)


def _subvolblocks(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    """The stored blocks of an aligned box, found by walking only rows that hold blocks, so the
    work is bounded by what is stored however large the box (``voxels.walk_rows``)."""
    p = req.parts
    box = subvolume(p[4], p[5])
    bs = block_size(ctx.instance)
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    if not box.aligned(bs):
        raise BadRequest(f"cannot use labels via 'block' endpoint in non-block aligned geometry {_pt(box.offset)} -> "
                         f"{_pt(e - 1 for e in box.end)}")
    if req.method == "POST":
        raise BadRequest("DVID does not accept the post action on the 'subvolblocks' endpoint")
    comp = _check_compression(req)
    (x0, y0, z0), (x1, y1, z1) = box.block_range(bs)
    out = _Records(ctx.limits)
    grid = grid_of(ctx)
    if grid is not None:
        if comp == "jpeg" and grid.encoding != "jpeg":
            raise BadRequest("compression=jpeg requested but the GridStore volume is not JPEG-encoded")
        (gx0, gy0, gz0), (gx1, gy1, gz1) = grid.block_range()
        for z in range(max(z0, gz0), min(z1, gz1) + 1):
            for y in range(max(y0, gy0), min(y1, gy1) + 1):
                budget.check()
                for x in range(max(x0, gx0), min(x1, gx1) + 1):
                    payload = _grid_payload(grid, bs, (x, y, z), comp)
                    if payload is not None:
                        out.add(x, y, z, payload)
        return out.response()
    if comp == "jpeg" and ctx.instance.compression != "jpeg":
        with ctx.view.snapshot() as view:
            if next_stored_row(view, x0, x1, y0, y1, z1, y0, z0) is not None:
                raise BadRequest("compression=jpeg requested but the blocks are not stored as JPEG")
        return out.response()

    def visit(y: int, z: int) -> int:
        n = 0
        for x, val in scan_row(view, x0, x1, y, z):
            try:
                payload = _payload(dt, val, comp)
            except blockcodec.CodecError as e:
                raise BadRequest(f"block ({x},{y},{z}) cannot be decoded: {e}") from None
            if payload is None:
                raise BadRequest("compression=jpeg requested but the blocks are not stored as JPEG")
            out.add(x, y, z, payload)
            n += 1
        return n

    # One snapshot: payloads stay zero-copy views of the store until the one join. (Streaming the
    # layers with chunked encoding was measured slower: Python clients decode chunked bodies slowly.)
    with ctx.view.snapshot() as view:
        walk_rows(view, x0, x1, y0, y1, z0, z1, visit)
        return out.response()


ROUTES: dict[str, Handler] = {
    "help": help_,
    "info": info,
    "metadata": metadata,
    "extents": extents_post,
    "resolution": resolution_post,
    "rawkey": rawkey,
    "raw": raw,
    "isotropic": raw,
    "arb": arb,
    "blocks": blocks,
    "specificblocks": specificblocks,
    "subvolblocks": subvolblocks,
}
