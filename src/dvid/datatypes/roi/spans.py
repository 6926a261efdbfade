"""ROI spans in storage (roi.md §3): one key per run ``[z, y, x0, x1]`` of block coordinates.

Type-key = ``0x5A 0x01`` + z, y, x0 (sign-biased big-endian uint32) + run length (big-endian
uint32), value empty, so a scan returns spans sorted by (z, y, x0, x1). Replacing an ROI is one
atomic batch: tombstones for spans that disappear, puts for the new ones.
"""

from __future__ import annotations

import struct

import numpy as np

from dvid.datastore import keys
from dvid.datastore.view import VersionedView
from dvid.limits import INT32_MAX, INT32_MIN

ROI_CLASS = 90
_LO = keys.tkey(ROI_CLASS)
_HI = keys.tkey(ROI_CLASS + 1)
_LEN = struct.Struct(">I")


def span_tkey(z: int, y: int, x0: int, x1: int) -> bytes:
    return keys.tkey(ROI_CLASS, keys.zyx_bytes(x0, y, z) + _LEN.pack(x1 - x0 + 1))


def span_from_tkey(tk: bytes) -> tuple[int, int, int, int]:
    x0, y, z = keys.zyx_from_bytes(tk, 2)
    n = _LEN.unpack_from(tk, 14)[0]
    return z, y, x0, x0 + n - 1


def read_spans(view: VersionedView) -> np.ndarray:
    """All spans visible at the view's version as an int32 (N, 4) array sorted (z, y, x0, x1)."""
    rows = [span_from_tkey(tk) for tk in view.keys(_LO, _HI)]
    return np.array(rows, dtype=np.int64).reshape(-1, 4).astype(np.int32)


def replace_spans(view: VersionedView, spans: np.ndarray | list) -> None:
    """Make the ROI at this version exactly ``spans`` in one atomic batch."""
    arr = np.asarray(spans, dtype=np.int64).reshape(-1, 4)
    new = {span_tkey(int(z), int(y), int(a), int(b)) for z, y, a, b in arr}
    old = set(view.keys(_LO, _HI))
    view.write(puts=[(tk, b"") for tk in sorted(new - old)], deletes=sorted(old - new))


def set_z_range(instance, spans: np.ndarray | list) -> None:
    """Record an ROI instance's z extent in its props (``MinZ``/``MaxZ``; empty: max, min int32)."""
    arr = np.asarray(spans, dtype=np.int64).reshape(-1, 4)
    p = instance.props
    if len(arr):
        p["MinZ"], p["MaxZ"] = int(arr[:, 0].min()), int(arr[:, 0].max())
    else:
        p["MinZ"], p["MaxZ"] = INT32_MAX, INT32_MIN


class SpanIndex:
    """Fast "is block (x, y, z) inside?" over sorted spans, for masking image blocks."""

    def __init__(self, spans: np.ndarray) -> None:
        self._rows: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for z, y, a, b in spans.tolist():
            self._rows.setdefault((z, y), []).append((a, b))

    def inside(self, x: int, y: int, z: int) -> bool:
        for a, b in self._rows.get((z, y), ()):
            if a <= x <= b:
                return True
        return False

    def outside(self, x: int, y: int, z: int) -> bool:
        return not self.inside(x, y, z)


def voxel_bounds_inside(lo: tuple[int, int, int], hi: tuple[int, int, int], block_size: list[int],
                        spans: np.ndarray) -> bool:
    """Does the voxel box ``lo..hi`` (x, y, z, inclusive) touch any span? Blocks by floor division.

    DVID's filters use this to skip work outside an ROI; spans need not be sorted here.
    """
    s = np.asarray(spans, dtype=np.int64).reshape(-1, 4)
    blo = [v // b for v, b in zip(lo, block_size, strict=True)]
    bhi = [v // b for v, b in zip(hi, block_size, strict=True)]
    hit = ((s[:, 0] >= blo[2]) & (s[:, 0] <= bhi[2]) & (s[:, 1] >= blo[1]) & (s[:, 1] <= bhi[1])
           & (s[:, 3] >= blo[0]) & (s[:, 2] <= bhi[0]))
    return bool(hit.any())
