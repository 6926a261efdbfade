"""The straightforward ROI partition (the project's first version), kept as the reference model
that the bounded implementation in ``dvid.datatypes.roi.partition`` is property-tested against.
It walks every layer, row and column between the ROI's extremes, so it is only for small inputs."""
from __future__ import annotations

from typing import Any

import numpy as np

MAXI, MINI = 2**31 - 1, -(2**31)


def _covered(xs: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Voxels of [lo, hi] covered by the union of intervals ``xs``."""
    ivs = sorted((max(a, lo), min(b, hi)) for a, b in xs if b >= lo and a <= hi)
    n, cur = 0, None
    for a, b in ivs:
        if cur is None or a > cur[1] + 1:
            if cur is not None:
                n += cur[1] - cur[0] + 1
            cur = [a, b]
        else:
            cur[1] = max(cur[1], b)
    if cur is not None:
        n += cur[1] - cur[0] + 1
    return n


def _active(rows: dict[tuple[int, int], list[tuple[int, int]]], lo: int, hi: int) -> int:
    return sum(_covered(xs, lo, hi) for xs in rows.values())


def _layers(spans: np.ndarray, first: int, thickness) -> list[tuple[int, int, np.ndarray]]:
    """Group sorted spans into Z layers starting at ``first``; ``thickness(i)`` is layer i's depth."""
    out: list[tuple[int, int, np.ndarray]] = []
    i, start, k = 0, first, 0
    n = len(spans)
    while i < n:
        t = thickness(k)
        end = start + t - 1
        j = i
        while j < n and spans[j, 0] <= end:
            j += 1
        if j > i:
            out.append((start, end, spans[i:j]))
        i = j
        start, k = end + 1, k + 1
    return out


def _subvol(bs: list[int], minc: list[int], maxc: list[int], total: int, active: int) -> dict[str, Any]:
    return {
        "MinPoint": [c * b for c, b in zip(minc, bs, strict=True)],
        "MaxPoint": [(c + 1) * b - 1 for c, b in zip(maxc, bs, strict=True)],
        "MinChunk": list(minc),
        "MaxChunk": list(maxc),
        "TotalBlocks": total,
        "ActiveBlocks": active,
    }


def partition(spans: np.ndarray, b: int, block_size: list[int], optimized: bool) -> dict[str, Any]:
    spans = np.asarray(spans, np.int64).reshape(-1, 4)
    if len(spans) == 0:
        return {"NumTotalBlocks": 0, "NumActiveBlocks": 0, "NumSubvolumes": 0,
                "ROI": {"MinChunk": [0, 0, MAXI], "MaxChunk": [0, 0, MINI]}, "Subvolumes": []}
    minz, maxz = int(spans[:, 0].min()), int(spans[:, 0].max())
    dz = maxz - minz + 1
    roi_lo, roi_hi = [0, 0, minz], [0, 0, maxz]
    subs: list[dict[str, Any]] = []
    total = active_total = 0
    if optimized:
        zleft = [dz % b]

        def thick(k: int) -> int:
            if k == 0:
                return b
            if zleft[0] > 0:
                zleft[0] -= 1
                return b + 1
            return b

        layers = _layers(spans, minz, thick)
    else:
        layers = _layers(spans, minz - (dz % b) // 2, lambda k: b)
    for zb, ze, lsp in layers:
        miny, maxy = int(lsp[:, 1].min()), int(lsp[:, 1].max())
        roi_lo[1], roi_hi[1] = min(roi_lo[1], miny), max(roi_hi[1], maxy)
        for yb, ye in _row_ranges(miny, maxy, b, optimized):
            rsp = lsp[(lsp[:, 1] >= yb) & (lsp[:, 1] <= ye)]
            if len(rsp) == 0:
                continue
            rows: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for z, y, a, c in rsp.tolist():
                rows.setdefault((z, y), []).append((a, c))
            minx, maxx = int(rsp[:, 2].min()), int(rsp[:, 3].max())
            roi_lo[0], roi_hi[0] = min(roi_lo[0], minx), max(roi_hi[0], maxx)
            if not optimized:
                for xb, xe in _row_ranges(minx, maxx, b, False):
                    act = _active(rows, xb, xe)
                    total += b * b * b
                    if act > 0:
                        active_total += act
                        subs.append(_subvol(block_size, [xb, yb, zb], [xe, ye, ze], b * b * b, act))
                continue
            row_first = len(subs)
            union = [iv for xs in rows.values() for iv in xs]
            xb = minx
            extra = (maxx - minx + 1) % b
            while xb <= maxx:
                xe = min(xb + b - 1 + (1 if extra > 0 else 0), maxx)
                extra -= 1
                hole = _longest_hole(union, xb, xe)
                vol = (ye - yb + 1) * (ze - zb + 1)
                if hole is None:
                    act = _active(rows, xb, xe)
                    t = (xe - xb + 1) * vol
                    subs.append(_subvol(block_size, [xb, yb, zb], [xe, ye, ze], t, act))
                    total += t
                    active_total += act
                    xb = xe + 1
                    continue
                hb, he = hole
                if hb > xb:
                    act = _active(rows, xb, hb - 1)
                    t = (hb - xb) * vol
                    if len(subs) > row_first:
                        last = subs[-1]
                        last["MaxChunk"][0] = hb - 1
                        last["MaxPoint"][0] = hb * block_size[0] - 1
                        last["TotalBlocks"] += t
                        last["ActiveBlocks"] += act
                    else:
                        subs.append(_subvol(block_size, [xb, yb, zb], [hb - 1, ye, ze], t, act))
                    total += t
                    active_total += act
                xb = he + 1
    return {
        "NumTotalBlocks": total,
        "NumActiveBlocks": active_total,
        "NumSubvolumes": len(subs),
        "ROI": {"MinChunk": roi_lo, "MaxChunk": roi_hi},
        "Subvolumes": subs,
    }


def _row_ranges(lo: int, hi: int, b: int, optimized: bool) -> list[tuple[int, int]]:
    n = hi - lo + 1
    r = n % b
    out = []
    if optimized:
        start = lo
        while start <= hi:
            h = b + (1 if r > 0 else 0)
            r -= 1
            out.append((start, start + h - 1))
            start += h
        return out
    start = lo - r // 2
    stop = hi + (r - r // 2)
    while start <= stop:
        out.append((start, start + b - 1))
        start += b
    return out


def _longest_hole(ivs: list[tuple[int, int]], lo: int, hi: int) -> tuple[int, int] | None:
    """The longest run of x in [lo, hi] covered by no interval (earliest on ties), or None."""
    cov = np.zeros(hi - lo + 1, bool)
    for a, c in ivs:
        a2, c2 = max(a, lo), min(c, hi)
        if a2 <= c2:
            cov[a2 - lo : c2 - lo + 1] = True
    if cov.all():
        return None
    best: tuple[int, int] | None = None
    i = 0
    n = len(cov)
    while i < n:
        if cov[i]:
            i += 1
            continue
        j = i
        while j < n and not cov[j]:
            j += 1
        if best is None or (j - i) > (best[1] - best[0] + 1):
            best = (lo + i, lo + j - 1)
        i = j
    return best
