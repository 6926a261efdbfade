"""roi HTTP endpoints (roi.md §4) and their route table."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from dvid import jsonbody
from dvid.converters import CONVERTERS
from dvid.datatypes.base import Call, Response
from dvid.datatypes.roi.partition import partition
from dvid.datatypes.roi.spans import SpanIndex, read_spans, replace_spans, set_z_range
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import DEFAULT, INT32_MAX, INT32_MIN, refuse
from dvid.routing import Route, Router

MAXI, MINI = INT32_MAX, INT32_MIN


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _refuse(message: str):
    def handler(c: Call, **_: Any) -> Response:
        raise BadRequest(message)

    return handler


def _empty(c: Call, **_: Any) -> Response:
    return Response(b"")


def help_(c: Call) -> Response:
    return Response((c.dt.help() + "\n").encode(), content_type="text/plain")


def info(c: Call) -> Response:
    return Response(_dumps(c.dt.info(c.ctx.instance, c.ctx.view)), content_type="application/json")


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


def get_roi(c: Call) -> Response:
    return Response(_dumps(read_spans(c.ctx.view).tolist()), content_type="application/json")


def post_roi(c: Call) -> Response:
    spans = parse_spans(c.req.body, c.ctx.limits.max_json_bytes)
    replace_spans(c.ctx.view, spans)
    set_z_range(c.ctx.instance, spans)
    c.ctx.save_instance()
    return Response(b"")


def delete_roi(c: Call) -> Response:
    replace_spans(c.ctx.view, [])
    set_z_range(c.ctx.instance, [])
    c.ctx.save_instance()
    return Response(b"")


def get_mask(c: Call, shape: tuple[int, ...], box: Box) -> Response:
    """``GET mask/0_1_2/<size>/<offset>``: 1 for voxels inside the ROI, 0 outside, as uint8."""
    if len(shape) != 3:
        raise BadRequest("Currently only 3d masks ('0_1_2' shape) is supported")
    off, size = box.offset, box.size
    if any(s < 1 for s in size):
        raise BadRequest("mask size must be at least 1 voxel along each axis")
    n = box.voxels
    if n > c.ctx.limits.max_request_bytes:
        raise refuse("mask", n, "max_request_bytes", c.ctx.limits.max_request_bytes, " bytes")
    bs = c.ctx.instance.props["BlockSize"]
    out = np.zeros((size[2], size[1], size[0]), np.uint8)
    lo = [o // b for o, b in zip(off, bs, strict=True)]
    hi = [(o + s - 1) // b for o, s, b in zip(off, size, bs, strict=True)]
    for z, y, x0, x1 in read_spans(c.ctx.view).tolist():
        if not (lo[2] <= z <= hi[2] and lo[1] <= y <= hi[1]) or x1 < lo[0] or x0 > hi[0]:
            continue
        zs, ze = max(z * bs[2], off[2]) - off[2], min((z + 1) * bs[2], off[2] + size[2]) - off[2]
        ys, ye = max(y * bs[1], off[1]) - off[1], min((y + 1) * bs[1], off[1] + size[1]) - off[1]
        xs, xe = max(x0 * bs[0], off[0]) - off[0], min((x1 + 1) * bs[0], off[0] + size[0]) - off[0]
        out[zs:ze, ys:ye, xs:xe] = 1
    return Response(memoryview(out).cast("B"), content_type="application/octet-stream")


def post_ptquery(c: Call) -> Response:
    """``POST ptquery`` with ``[[x, y, z], ...]``: whether each point's block is in the ROI."""
    req = c.req
    if not bytes(req.body).strip():
        raise BadRequest("unexpected end of JSON input")
    doc = jsonbody.load(req.body, limit=c.ctx.limits.max_json_bytes, what="")
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
    bs = c.ctx.instance.props["BlockSize"]
    idx = SpanIndex(read_spans(c.ctx.view))
    res = [idx.inside(x // bs[0], y // bs[1], z // bs[2]) for x, y, z in pts]
    return Response(_dumps(res), content_type="application/json")


def get_partition(c: Call) -> Response:
    raw = c.req.query.get("batchsize", "")
    try:
        b = int(raw)
    except ValueError:
        raise BadRequest(f'Error reading batchsize query string: strconv.Atoi: parsing "{raw}": invalid syntax') from None
    if b < 1:
        raise BadRequest("batchsize must be positive")
    if b > INT32_MAX:
        raise BadRequest(f"batchsize must be at most {INT32_MAX}")
    optimized = c.req.query.get("optimized") in ("true", "on")
    doc = partition(read_spans(c.ctx.view), b, list(c.ctx.instance.props["BlockSize"]), optimized,
                    c.ctx.limits.max_partition_subvolumes)
    return Response(json.dumps(doc, indent=4).encode(), content_type="application/json")


ROUTES = Router([
    Route("*", "help", help_),
    Route("*", "info", info),
    Route("GET", "roi", get_roi),
    Route("POST", "roi", post_roi),
    Route("DELETE", "roi", delete_roi),
    Route("*", "roi", _empty),
    Route("GET", "mask/{shape:shape}/{box:subvolume}", get_mask),
    Route("*", "mask", _refuse("ROI mask only supports GET")),
    Route("POST", "ptquery", post_ptquery, writes=False),
    Route("GET", "ptquery", _refuse("ptquery requires POST with list of points")),
    Route("*", "ptquery", _empty, writes=False),
    Route("GET", "partition", get_partition),
    Route("*", "partition", _refuse("partition only supports GET request")),
], CONVERTERS, usage={"mask": '"mask" must be followed by shape/size/offset'})
