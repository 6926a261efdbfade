"""imageblk block streams: runs of blocks (``blocks``), listed blocks (``specificblocks``) and the
blocks of an aligned box (``subvolblocks``), as stored (JPEG passes through) or uncompressed
(imageblk.md §1.11-1.13). Counts and answer sizes are bounded by the server's limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dvid.datatypes.base import Response
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.write import go_point
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import INT32_MAX, INT32_MIN, refuse

OCTETS = "application/octet-stream"
#: block requests for at most this many blocks, passed through as stored, are quick (``Route.quick``)
QUICK_BLOCKS = 8


def _passes_through(c: Call) -> bool:
    """Stored payloads are sent as they are (no decode): the default, or JPEG of a JPEG instance."""
    comp = c.req.query.get("compression", "")
    return comp == "" or (comp == "jpeg" and c.layout.compression == "jpeg")


def few_stored_blocks(c: Call, params: Mapping[str, Any]) -> bool:
    """``subvolblocks`` of a box of at most ``QUICK_BLOCKS`` blocks of a local store (a box the
    handler refuses is quick too: the refusal is)."""
    (x0, y0, z0), (x1, y1, z1) = params["box"].block_range(c.layout.block_size)
    n = max(x1 - x0 + 1, 0) * max(y1 - y0 + 1, 0) * max(z1 - z0 + 1, 0)
    return c.src.local and n <= QUICK_BLOCKS and _passes_through(c)


def few_listed_blocks(c: Call, params: Mapping[str, Any]) -> bool:
    """``specificblocks`` listing at most ``QUICK_BLOCKS`` blocks of a local store."""
    return (c.src.local and c.req.query.get("blocks", "").count(",") < 3 * QUICK_BLOCKS
            and _passes_through(c))


def get_blocks(c: Call, block: tuple[int, int, int], span: int) -> Response:
    """``GET blocks/<x>_<y>_<z>/<span>``: ``span`` uncompressed blocks along x, missing ones filled
    with the Background."""
    if span < 0:
        raise BadRequest(f"span must not be negative, got {span}")
    if span == 0:
        return Response(b"", content_type=OCTETS)
    if block[0] + span - 1 > INT32_MAX:
        raise BadRequest("block span runs past the largest block coordinate")
    lim = c.limits
    if span > lim.max_request_blocks:
        raise refuse("block span", span, "max_request_blocks", lim.max_request_blocks, " blocks")
    nbytes = span * c.layout.block_bytes
    if nbytes > lim.max_request_bytes:
        raise refuse("requested payload", nbytes, "max_request_bytes", lim.max_request_bytes, " bytes")
    out = c.src.block_row(block[0], block[1], block[2], span)
    return Response(memoryview(out).cast("B"), content_type=OCTETS)


def _compression(c: Call) -> str:
    comp = c.req.query.get("compression", "")
    if comp not in ("", "jpeg", "uncompressed"):
        raise BadRequest(f"don't understand 'compression' query string value: {comp}")
    return comp


def get_specificblocks(c: Call) -> Response:
    """``GET specificblocks?blocks=x,y,z,x,y,z,...``: the listed blocks that exist, in list order."""
    comp = _compression(c)
    spec = c.req.query.get("blocks", "")
    if not spec:
        return Response(b"", content_type=OCTETS)
    items = spec.split(",")
    if len(items) % 3:
        raise BadRequest("block query string should be three coordinates per block")
    lim = c.limits
    if len(items) // 3 > lim.max_request_blocks:
        raise refuse("block list", len(items) // 3, "max_request_blocks", lim.max_request_blocks, " blocks")
    try:
        v = [int(s) for s in items]
    except ValueError as e:
        raise BadRequest(f"strconv.Atoi: {e}") from None
    bad = next((x for x in v if not INT32_MIN <= x <= INT32_MAX), None)
    if bad is not None:
        raise BadRequest(f"block coordinate {bad} is outside the 32-bit range")
    if c.req.query.get("prefetch") in ("on", "true"):
        return Response(b"", content_type=OCTETS)
    coords = [(v[i], v[i + 1], v[i + 2]) for i in range(0, len(v), 3)]
    return Response(c.src.specific_blocks(coords, comp, lim), content_type=OCTETS)


def _aligned(c: Call, box: Box) -> Box:
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    if not box.aligned(c.layout.block_size):
        raise BadRequest(f"cannot use labels via 'block' endpoint in non-block aligned geometry {go_point(box.offset)} "
                         f"-> {go_point(e - 1 for e in box.end)}")
    return box


def get_subvolblocks(c: Call, box: Box) -> Response:
    """``GET subvolblocks/<size>/<offset>``: every stored block of an aligned box, in key order;
    the work is bounded by what is stored, however large the box."""
    _aligned(c, box)
    comp = _compression(c)
    lo, hi = box.block_range(c.layout.block_size)
    return Response(c.src.box_blocks(lo, hi, comp, c.limits), content_type=OCTETS)


def post_subvolblocks(c: Call, box: Box) -> Response:
    """DVID checks the geometry, then refuses the method."""
    _aligned(c, box)
    raise BadRequest("DVID does not accept the post action on the 'subvolblocks' endpoint")
