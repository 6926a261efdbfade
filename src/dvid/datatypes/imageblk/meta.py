"""imageblk endpoints about an instance rather than its voxels: help, info, metadata, extents,
resolution and rawkey (imageblk.md §1.1-1.6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dvid import jsonbody
from dvid.datatypes.base import Response
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.props import extended_json, metadata_json
from dvid.errors import BadRequest
from dvid.limits import INT32_MAX, INT32_MIN


def refusal(message: str) -> Callable[..., Response]:
    """A handler that refuses with DVID's text, for methods an endpoint does not take."""

    def refuse(c: Any, **_: Any) -> Response:
        raise BadRequest(message)

    refuse.__doc__ = f"Refused: {message}"
    return refuse


def help_(c: Call) -> Response:
    return Response((c.dt.help() + "\n").encode(), content_type="text/plain")


def info(c: Call) -> Response:
    return Response(jsonbody.dumps(c.dt.info(c.ctx.instance, c.ctx.view)), content_type="application/json")


def metadata(c: Call) -> Response:
    e = extended_json(c.dt.vt, c.ctx.instance, ext.read_extents(c.ctx.view, c.ctx.instance))
    return Response(jsonbody.dumps(metadata_json(e)) + b"\n", content_type="application/vnd.dvid-nd-data+json")


def _json_body(c: Call) -> Any:
    doc = jsonbody.load(c.req.body, limit=c.limits.max_json_bytes, what="cannot parse JSON body")
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


def post_extents(c: Call) -> Response:
    c.check_writable()
    doc = _json_body(c)
    if not isinstance(doc, dict):
        raise BadRequest("extents must be a JSON object with MinPoint and MaxPoint")
    low = {k.lower(): v for k, v in doc.items()}
    lo, hi = _point3(low.get("minpoint"), "MinPoint"), _point3(low.get("maxpoint"), "MaxPoint")
    c.ctx.view.put(ext.EXTENTS_TKEY, ext.encode_extents(lo, hi))
    return Response(b"")


def post_resolution(c: Call) -> Response:
    c.check_writable()
    doc = _json_body(c)
    if (not isinstance(doc, list) or len(doc) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in doc)):
        raise BadRequest("resolution must be a JSON array of 3 positive numbers, e.g. [4.0,4.0,40.0]")
    c.ctx.instance.props["VoxelSize"] = [float(v) for v in doc]
    c.ctx.save_instance()
    return Response(b"")


def rawkey(c: Call) -> Response:
    if c.req.args:
        raise BadRequest("rawkey endpoint should be followed by query strings (x, y, and z) giving block coord")
    return Response(b"")
