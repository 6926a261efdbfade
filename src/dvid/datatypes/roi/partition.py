"""Cutting an ROI into subvolumes for batch work (roi.md §4.8), both of DVID's algorithms.

Follows DVID's arithmetic exactly where its tests pin it (layer/row/column starts, the 0-clamped
ROI x/y extents, total blocks counted for dropped empty cells) and the spec's recommendations
elsewhere: layers advance until a span fits (Q5), actives count the union of spans (Q8), and a
hole with no earlier subvolume in its row starts a new one (Q7).

The work is bounded by the ROI's spans and by the answer, never by the distance between spans:
layers, rows and columns are cells of a grid computed arithmetically (``_Cells``), only cells that
hold spans are visited, empty columns are counted or skipped in one step, and coverage is read
from merged intervals with bisection. A tiny batchsize over spans far apart answers at once; an
answer of more than ``[server] maxPartitionSubvolumes`` subvolumes is refused.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Any

import numpy as np

from dvid import budget
from dvid.errors import BadRequest
from dvid.limits import DEFAULT, INT32_MAX, INT32_MIN

MAXI, MINI = INT32_MAX, INT32_MIN


class _Cells:
    """Consecutive cells along one axis from ``start``: ``segments`` of ``(count, width)``, the last
    one unbounded (its count is ignored). Cell k covers ``bounds(k)`` (inclusive)."""

    def __init__(self, start: int, segments: list[tuple[int, int]]) -> None:
        self.start = start
        self.segs = [(max(0, n), w) for n, w in segments]

    def index(self, v: int) -> int:
        k, pos = 0, self.start
        for i, (n, w) in enumerate(self.segs):
            last = i == len(self.segs) - 1
            if last or v < pos + n * w:
                return k + (v - pos) // w
            k, pos = k + n, pos + n * w
        raise AssertionError("unreachable")

    def bounds(self, k: int) -> tuple[int, int]:
        pos = self.start
        for i, (n, w) in enumerate(self.segs):
            if i == len(self.segs) - 1 or k < n:
                lo = pos + k * w
                return lo, lo + w - 1
            k, pos = k - n, pos + n * w
        raise AssertionError("unreachable")


class _Coverage:
    """Merged x-intervals of one row (or of a union of rows), for O(log n) coverage questions."""

    def __init__(self, intervals: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(intervals):
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]
        self.prefix = [0, *accumulate(b - a + 1 for a, b in merged)]

    def covered(self, lo: int, hi: int) -> int:
        """Voxels of [lo, hi] covered."""
        i = bisect_left(self.ends, lo)
        j = bisect_right(self.starts, hi) - 1
        if i > j:
            return 0
        n = self.prefix[j + 1] - self.prefix[i]
        n -= max(0, lo - self.starts[i])
        n -= max(0, self.ends[j] - hi)
        return n

    def next_covered(self, x: int) -> int | None:
        """The smallest covered x' >= x, or None."""
        i = bisect_left(self.ends, x)
        if i == len(self.ends):
            return None
        return max(x, self.starts[i])

    def longest_hole(self, lo: int, hi: int) -> tuple[int, int] | None:
        """The longest run of [lo, hi] covered by nothing (earliest on ties), or None."""
        best: tuple[int, int] | None = None
        cur = lo
        i = bisect_left(self.ends, lo)
        while i < len(self.starts) and self.starts[i] <= hi and cur <= hi:
            if self.starts[i] > cur and (best is None or self.starts[i] - cur > best[1] - best[0] + 1):
                best = (cur, self.starts[i] - 1)
            cur = max(cur, self.ends[i] + 1)
            i += 1
        if cur <= hi and (best is None or hi - cur + 1 > best[1] - best[0] + 1):
            best = (cur, hi)
        return best


def _subvol(bs: list[int], minc: list[int], maxc: list[int], total: int, active: int) -> dict[str, Any]:
    return {
        "MinPoint": [c * b for c, b in zip(minc, bs, strict=True)],
        "MaxPoint": [(c + 1) * b - 1 for c, b in zip(maxc, bs, strict=True)],
        "MinChunk": list(minc),
        "MaxChunk": list(maxc),
        "TotalBlocks": total,
        "ActiveBlocks": active,
    }


def _groups(spans: np.ndarray, cells: _Cells, axis: int) -> list[tuple[int, int, np.ndarray]]:
    """Spans grouped by the cell of their ``axis`` coordinate, cells ascending, order kept inside."""
    idx = np.array([cells.index(int(v)) for v in spans[:, axis]], np.int64)
    order = np.argsort(idx, kind="stable")
    idx, spans = idx[order], spans[order]
    cuts = np.flatnonzero(np.diff(idx)) + 1
    out = []
    for part, ids in zip(np.split(spans, cuts), np.split(idx, cuts), strict=True):
        lo, hi = cells.bounds(int(ids[0]))
        out.append((lo, hi, part))
    return out


def _grid(lo: int, hi: int, b: int, optimized: bool) -> _Cells:
    """DVID's row/column cells over [lo, hi]: optimized, the first ``n % b`` are one wider;
    otherwise all ``b`` wide, the grid centred on the extent."""
    r = (hi - lo + 1) % b
    if optimized:
        return _Cells(lo, [(r, b + 1), (0, b)])
    return _Cells(lo - r // 2, [(0, b)])


def _simple_cells_count(lo: int, hi: int, b: int) -> int:
    """How many b-wide cells DVID's simple algorithm lays over [lo, hi] (empty ones included)."""
    r = (hi - lo + 1) % b
    start, stop = lo - r // 2, hi + (r - r // 2)
    return (stop - start) // b + 1


def partition(spans: np.ndarray, b: int, block_size: list[int], optimized: bool,
              max_subvolumes: int = DEFAULT.max_partition_subvolumes) -> dict[str, Any]:
    spans = np.asarray(spans, np.int64).reshape(-1, 4)
    if len(spans) == 0:
        return {"NumTotalBlocks": 0, "NumActiveBlocks": 0, "NumSubvolumes": 0,
                "ROI": {"MinChunk": [0, 0, MAXI], "MaxChunk": [0, 0, MINI]}, "Subvolumes": []}
    minz, maxz = int(spans[:, 0].min()), int(spans[:, 0].max())
    dz = maxz - minz + 1
    roi_lo, roi_hi = [0, 0, minz], [0, 0, maxz]
    subs: list[dict[str, Any]] = []
    totals = [0, 0]  # total, active

    def add(sv: dict[str, Any]) -> None:
        if len(subs) >= max_subvolumes:
            raise BadRequest(f"ROI partition would hold more than the server limit of {max_subvolumes} subvolumes "
                             "(use a larger batchsize, or raise [server] maxPartitionSubvolumes)")
        subs.append(sv)

    if optimized:
        zcells = _Cells(minz, [(1, b), (dz % b, b + 1), (0, b)])
    else:
        zcells = _Cells(minz - (dz % b) // 2, [(0, b)])
    for zb, ze, lsp in _groups(spans, zcells, 0):
        budget.check()
        miny, maxy = int(lsp[:, 1].min()), int(lsp[:, 1].max())
        roi_lo[1], roi_hi[1] = min(roi_lo[1], miny), max(roi_hi[1], maxy)
        for yb, ye, rsp in _groups(lsp, _grid(miny, maxy, b, optimized), 1):
            budget.check()
            rows: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for z, y, a, c in rsp.tolist():
                rows.setdefault((z, y), []).append((a, c))
            cover = [_Coverage(xs) for xs in rows.values()]
            minx, maxx = int(rsp[:, 2].min()), int(rsp[:, 3].max())
            roi_lo[0], roi_hi[0] = min(roi_lo[0], minx), max(roi_hi[0], maxx)
            union = _Coverage([iv for xs in rows.values() for iv in xs])
            box = ((yb, ye), (zb, ze))
            if optimized:
                _optimized_row(union, cover, minx, maxx, b, box, block_size, add, subs, totals)
            else:
                _simple_row(union, cover, minx, maxx, b, box, block_size, add, totals)
    return {
        "NumTotalBlocks": totals[0],
        "NumActiveBlocks": totals[1],
        "NumSubvolumes": len(subs),
        "ROI": {"MinChunk": roi_lo, "MaxChunk": roi_hi},
        "Subvolumes": subs,
    }


def _active(cover: list[_Coverage], lo: int, hi: int) -> int:
    return sum(c.covered(lo, hi) for c in cover)


def _simple_row(union: _Coverage, cover: list[_Coverage], minx: int, maxx: int, b: int,
                box: tuple[tuple[int, int], tuple[int, int]], bs: list[int], add, totals: list[int]) -> None:
    """DVID's simple algorithm for one row of cells: every cell counts b³ blocks, cells holding
    active blocks become subvolumes. Only cells touched by a span are visited."""
    (yb, ye), (zb, ze) = box
    totals[0] += _simple_cells_count(minx, maxx, b) * b * b * b
    cells = _grid(minx, maxx, b, False)
    k = cells.index(minx)
    last = cells.index(maxx)
    while k <= last:
        xb, xe = cells.bounds(k)
        nxt = union.next_covered(xb)
        if nxt is None:
            return
        if nxt > xe:  # jump over the empty cells
            k = cells.index(nxt)
            continue
        budget.check()
        act = _active(cover, xb, xe)
        if act > 0:
            totals[1] += act
            add(_subvol(bs, [xb, yb, zb], [xe, ye, ze], b * b * b, act))
        k += 1


def _optimized_row(union: _Coverage, cover: list[_Coverage], minx: int, maxx: int, b: int,
                   box: tuple[tuple[int, int], tuple[int, int]], bs: list[int], add,
                   subs: list[dict[str, Any]], totals: list[int]) -> None:
    """DVID's optimized algorithm for one row: cells of b (the first ``n % b`` one wider) that
    restart after the longest hole of a cell; a hole's left part extends the row's previous
    subvolume. A run of empty cells is skipped in one step (it changes nothing but the position)."""
    (yb, ye), (zb, ze) = box
    vol = (ye - yb + 1) * (ze - zb + 1)
    row_first = len(subs)
    xb = minx
    extra = (maxx - minx + 1) % b
    while xb <= maxx:
        budget.check()
        nxt = union.next_covered(xb)
        if nxt is None:
            return
        wide = max(extra, 0)
        d = nxt - xb  # whole cells lying before nxt: skip them
        k = d // (b + 1) if d <= wide * (b + 1) else wide + (d - wide * (b + 1)) // b
        if k:
            xb += k * (b + 1) if k <= wide else wide * (b + 1) + (k - wide) * b
            extra -= k
            continue
        xe = min(xb + b - 1 + (1 if extra > 0 else 0), maxx)
        extra -= 1
        hole = union.longest_hole(xb, xe)
        if hole is None:
            act = _active(cover, xb, xe)
            t = (xe - xb + 1) * vol
            add(_subvol(bs, [xb, yb, zb], [xe, ye, ze], t, act))
            totals[0] += t
            totals[1] += act
            xb = xe + 1
            continue
        hb, he = hole
        if hb > xb:
            act = _active(cover, xb, hb - 1)
            t = (hb - xb) * vol
            if len(subs) > row_first:
                prev = subs[-1]
                prev["MaxChunk"][0] = hb - 1
                prev["MaxPoint"][0] = hb * bs[0] - 1
                prev["TotalBlocks"] += t
                prev["ActiveBlocks"] += act
            else:
                add(_subvol(bs, [xb, yb, zb], [hb - 1, ye, ze], t, act))
            totals[0] += t
            totals[1] += act
        xb = he + 1
