"""ROI masking of imageblk requests (``?roi=<name>``, imageblk.md §1.10): blocks outside the named
roi instance read as background and are not written."""

from __future__ import annotations

from dvid.datatypes.base import InstanceContext, Request
from dvid.datatypes.imageblk.voxels import OutsideROI
from dvid.datatypes.roi.spans import SpanIndex, read_spans
from dvid.errors import BadRequest


def roi_mask(ctx: InstanceContext, req: Request) -> OutsideROI | None:
    """``outside(bx, by, bz)`` for the request's ``roi`` parameter, or None without one."""
    name = req.query.get("roi", "")
    if not name:
        return None
    inst, view = ctx.other_instance(name, typename="roi")
    return SpanIndex(read_spans(view)).outside


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
