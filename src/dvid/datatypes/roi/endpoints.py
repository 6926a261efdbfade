"""roi HTTP endpoints (roi.md §4)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid import jsonbody
from dvid.datatypes.base import InstanceContext, Request, Response
from dvid.datatypes.roi.partition import partition
from dvid.datatypes.roi.spans import SpanIndex, read_spans, replace_spans
from dvid.errors import BadRequest
from dvid.geometry import parse_point, parse_shape
from dvid.limits import DEFAULT, INT32_MAX, INT32_MIN, refuse

if TYPE_CHECKING:
    from dvid.datatypes.roi.types import RoiType

MAXI, MINI = INT32_MAX, INT32_MIN


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def help_(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    return Response((dt.help() + "\n").encode(), content_type="text/plain")


def info(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    return Response(_dumps(dt.info(ctx.instance, ctx.view)), content_type="application/json")


def parse_spans(body: bytes | bytearray | memoryview, limit: int = DEFAULT.max_json_bytes) -> np.ndarray:
    """DVID's decoding into [4]int32 (short arrays zero-filled, long ones truncated), validated."""
    if not bytes(body).strip():
        raise BadRequest("Error trying to parse POSTed JSON: unexpected end of JSON input")
    doc = jsonbody.load(body, limit=limit, what="Error trying to parse POSTed JSON")
    if doc is None:
        return np.zeros((0, 4), np.int64)
    if not isinstance(doc, list):
        raise BadRequest("Error trying to parse POSTed JSON: expected an array of [z, y, x0, x1] spans")
    rows = []
    for item in doc:
        if item is None:
            item = []
        if not isinstance(item, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            raise BadRequest(f"Error trying to parse POSTed JSON: span {json.dumps(item)} is not a list of integers")
        row = (list(item) + [0, 0, 0, 0])[:4]
        if any(not MINI <= v <= MAXI for v in row):
            raise BadRequest(f"Error trying to parse POSTed JSON: span {row} has values outside int32")
        if row[3] < row[2]:
            raise BadRequest(f"Got weird span {row}.  span[3] (X1) < span[2] (X0)")
        rows.append(row)
    return np.array(rows, np.int64).reshape(-1, 4)


def _set_z_range(ctx: InstanceContext, spans: np.ndarray) -> None:
    p = ctx.instance.props
    if len(spans):
        p["MinZ"], p["MaxZ"] = int(spans[:, 0].min()), int(spans[:, 0].max())
    else:
        p["MinZ"], p["MaxZ"] = MAXI, MINI
    ctx.save_instance()


def roi(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    if req.method == "GET":
        return Response(_dumps(read_spans(ctx.view).tolist()), content_type="application/json")
    if req.method == "POST":
        spans = parse_spans(req.body, ctx.limits.max_json_bytes)
        replace_spans(ctx.view, spans)
        _set_z_range(ctx, spans)
        return Response(b"")
    if req.method == "DELETE":
        replace_spans(ctx.view, [])
        _set_z_range(ctx, np.zeros((0, 4), np.int64))
        return Response(b"")
    return Response(b"")


def mask(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    if req.method != "GET":
        raise BadRequest("ROI mask only supports GET")
    p = req.parts
    if len(p) < 7:
        raise BadRequest('"mask" must be followed by shape/size/offset')
    if len(parse_shape(p[4])) != 3:
        raise BadRequest("Currently only 3d masks ('0_1_2' shape) is supported")
    off = parse_point(p[6])
    if len(off) != 3:
        raise BadRequest(f"Offset must be 3d coordinate, not {len(off)}-d coordinate")
    size = parse_point(p[5])
    if len(size) != 3:
        raise BadRequest(f"Size must be 3 (not {len(size)}) dimensions")
    if any(s < 1 for s in size):
        raise BadRequest("mask size must be at least 1 voxel along each axis")
    n = size[0] * size[1] * size[2]
    if n > ctx.limits.max_request_bytes:
        raise refuse("mask", n, "max_request_bytes", ctx.limits.max_request_bytes, " bytes")
    bs = ctx.instance.props["BlockSize"]
    out = np.zeros((size[2], size[1], size[0]), np.uint8)
    lo = [o // b for o, b in zip(off, bs, strict=True)]
    hi = [(o + s - 1) // b for o, s, b in zip(off, size, bs, strict=True)]
    for z, y, x0, x1 in read_spans(ctx.view).tolist():
        if not (lo[2] <= z <= hi[2] and lo[1] <= y <= hi[1]) or x1 < lo[0] or x0 > hi[0]:
            continue
        zs, ze = max(z * bs[2], off[2]) - off[2], min((z + 1) * bs[2], off[2] + size[2]) - off[2]
        ys, ye = max(y * bs[1], off[1]) - off[1], min((y + 1) * bs[1], off[1] + size[1]) - off[1]
        xs, xe = max(x0 * bs[0], off[0]) - off[0], min((x1 + 1) * bs[0], off[0] + size[0]) - off[0]
        out[zs:ze, ys:ye, xs:xe] = 1
    return Response(memoryview(out).cast("B"), content_type="application/octet-stream")


def ptquery(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    if req.method == "GET":
        raise BadRequest("ptquery requires POST with list of points")
    if req.method != "POST":
        return Response(b"")
    if not bytes(req.body).strip():
        raise BadRequest("unexpected end of JSON input")
    doc = jsonbody.load(req.body, limit=ctx.limits.max_json_bytes, what="")
    if doc is None:
        doc = []
    if not isinstance(doc, list):
        raise BadRequest("ptquery body must be a JSON array of [x, y, z] points")
    pts = []
    for item in doc:
        if item is None:
            item = []
        if not isinstance(item, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            raise BadRequest(f"point {json.dumps(item)} is not a list of integers")
        bad = [v for v in item if not MINI <= v <= MAXI]
        if bad:  # Go decodes into [3]int32 and rejects the number
            raise BadRequest(f"json: cannot unmarshal number {bad[0]} into Go value of type int32")
        pts.append((list(item) + [0, 0, 0])[:3])
    bs = ctx.instance.props["BlockSize"]
    idx = SpanIndex(read_spans(ctx.view))
    res = [idx.inside(x // bs[0], y // bs[1], z // bs[2]) for x, y, z in pts]
    return Response(_dumps(res), content_type="application/json")


def partition_(dt: RoiType, ctx: InstanceContext, req: Request) -> Response:
    if req.method != "GET":
        raise BadRequest("partition only supports GET request")
    raw = req.query.get("batchsize", "")
    try:
        b = int(raw)
    except ValueError:
        raise BadRequest(f'Error reading batchsize query string: strconv.Atoi: parsing "{raw}": invalid syntax') from None
    if b < 1:
        raise BadRequest("batchsize must be positive")
    if b > INT32_MAX:
        raise BadRequest(f"batchsize must be at most {INT32_MAX}")
    optimized = req.query.get("optimized") in ("true", "on")
    doc = partition(read_spans(ctx.view), b, list(ctx.instance.props["BlockSize"]), optimized,
                    ctx.limits.max_partition_subvolumes)
    return Response(json.dumps(doc, indent=4).encode(), content_type="application/json")


ROUTES = {"help": help_, "info": info, "roi": roi, "mask": mask, "ptquery": ptquery, "partition": partition_}
