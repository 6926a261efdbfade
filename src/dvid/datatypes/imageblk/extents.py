"""Per-version extents (imageblk.md §1.15): a key of class 24 holding ``0x00`` + JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dvid.datastore import keys
from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView

EXTENTS_TKEY = keys.tkey(24)

Extents = tuple[list[int], list[int]]


def read_extents(view: VersionedView | None, inst: Instance) -> Extents | None:
    """Extents visible at the view's version, else the creation-time MinPoint/MaxPoint (Q14)."""
    if view is not None:
        raw = view.get(EXTENTS_TKEY)
        if raw:
            doc = json.loads(bytes(raw[1:]))
            return list(doc["MinPoint"]), list(doc["MaxPoint"])
    lo, hi = inst.props.get("MinPoint"), inst.props.get("MaxPoint")
    if lo is not None and hi is not None:
        return list(lo), list(hi)
    return None


def encode_extents(lo: Sequence[int], hi: Sequence[int]) -> bytes:
    return b"\x00" + json.dumps({"MinPoint": list(lo), "MaxPoint": list(hi)}, separators=(",", ":")).encode()


def grown(view: VersionedView, inst: Instance, lo: Sequence[int], hi: Sequence[int]) -> bytes | None:
    """The new extents value after including the box ``lo..hi`` (inclusive), or None if unchanged."""
    cur = read_extents(view, inst)
    if cur is None:
        return encode_extents(lo, hi)
    nlo = [min(a, b) for a, b in zip(cur[0], lo, strict=True)]
    nhi = [max(a, b) for a, b in zip(cur[1], hi, strict=True)]
    if nlo == cur[0] and nhi == cur[1] and view.get(EXTENTS_TKEY) is not None:
        return None
    return encode_extents(nlo, nhi)
