"""Downsampling kernels and the geometry of a scale pyramid (no I/O).

Each output voxel ``i`` of a level covers the source voxels ``[i·f, (i+1)·f)`` along every axis
(windows aligned to absolute coordinate 0, as TensorStore's ``downsample`` driver does), restricted
to the source's valid box (its extents): a window cut by the edge of the volume averages only the
voxels it holds. The results are bit-identical to TensorStore's ``downsample_method`` of the same
name on a ``[z, y, x(, c)]`` array of the same voxels:

* ``mean`` of integers: exact sum, divided with rounding half to even (64-bit values with 128-bit
  exactness); of float32: a float32 sum taken in window order (z, then y, then x fastest), starting
  from +0, divided in float32.
* ``mode``: the most frequent value of the window, the smallest one on a tie.

Kernels take the source as a zero-padded array of whole windows; zeros outside the valid box add
nothing to a sum (and +0 added to a float sum changes nothing), so only the per-window counts of
valid voxels need to know the box. Everything is whole-array numpy: no per-voxel Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Triple = tuple[int, int, int]
METHODS = ("mean", "mode")


# ------------------------------------------------------------------------------------- geometry
def level_extents(lo: Sequence[int], hi: Sequence[int], f: Sequence[int]) -> tuple[list[int], list[int]]:
    """Inclusive voxel extents of the downsampled level of a volume with inclusive extents lo..hi."""
    return [a // k for a, k in zip(lo, f, strict=True)], [-(-(b + 1) // k) - 1 for b, k in zip(hi, f, strict=True)]


def near_isotropic_factors(voxel_size: Sequence[float]) -> Triple:
    """The next level's factors as the field picks them (neuroglancer's downsample_scales rule):
    halve the finest axis, and every other axis that gets closer to that new voxel size by halving.
    8×8×40 nm gives 2,2,1 until x/y reach 32 nm, then 2,2,2."""
    vs = [float(v) for v in voxel_size]
    finest = min(range(3), key=lambda i: vs[i])
    target = vs[finest] * 2
    out = [1, 1, 1]
    for d in range(3):
        if d == finest or abs(vs[d] - target) > abs(vs[d] * 2 - target):
            out[d] = 2
    return out[0], out[1], out[2]


def fits_one_block(lo: Sequence[int], hi: Sequence[int], bs: Sequence[int]) -> bool:
    """Whether the extents are no larger than one block along every axis."""
    return all(h - l_ + 1 <= b for l_, h, b in zip(lo, hi, bs, strict=True))


def plan_factors(lo: Sequence[int], hi: Sequence[int], bs: Sequence[int], voxel_size: Sequence[float],
                 levels: int | None, factors: Sequence[Triple] | None, max_levels: int = 32) -> list[Triple]:
    """Per-level factors. ``levels=None`` means: until the volume fits in one block (or stops
    shrinking). ``factors`` given: each level uses the next one, the last repeating; otherwise
    near-isotropic from the voxel size."""
    out: list[Triple] = []
    vs = [float(v) for v in voxel_size]
    lo, hi = list(lo), list(hi)
    while len(out) < (levels if levels is not None else max_levels):
        if levels is None and fits_one_block(lo, hi, bs):
            break
        if factors:
            f = tuple(factors[min(len(out), len(factors) - 1)])
        else:
            f = near_isotropic_factors(vs)
        nlo, nhi = level_extents(lo, hi, f)
        if levels is None and (nlo, nhi) == (lo, hi):
            break  # e.g. a volume straddling 0 ends at [-1, 0] on an axis: two voxels, never one
        out.append((int(f[0]), int(f[1]), int(f[2])))
        lo, hi = nlo, nhi
        vs = [v * k for v, k in zip(vs, f, strict=True)]
    return out


def window_counts(lo: int, hi: int, first: int, n: int, f: int) -> np.ndarray:
    """How many voxels of ``[lo, hi]`` (inclusive) each output voxel ``first..first+n-1`` covers."""
    i = np.arange(first, first + n, dtype=np.int64)
    return np.clip(np.minimum(hi + 1, (i + 1) * f) - np.maximum(lo, i * f), 0, f)


# -------------------------------------------------------------------------------------- kernels
def _sum_axis(a: np.ndarray, axis: int, f: int, acc: np.dtype) -> np.ndarray:
    """Sum each run of ``f`` along ``axis`` (exact: ``acc`` holds the total)."""
    def part(j: int) -> np.ndarray:
        idx = [slice(None)] * a.ndim
        idx[axis] = slice(j, None, f)
        return a[tuple(idx)]

    # widening and the first sum in one pass (numpy's same-type loop is faster without dtype=)
    out = np.add(part(0), part(1)) if a.dtype == acc else np.add(part(0), part(1), dtype=acc)
    for j in range(2, f):
        out += part(j)
    return out


def _window_sum(src: np.ndarray, f_zyx: Triple, acc: np.dtype) -> np.ndarray:
    # z first: pairs of whole planes are contiguous, the cheapest reduction; then y, then x.
    # Axes with factor 1 are skipped, so the first real reduction is also the one widening copy.
    s = src
    axes = [0, 1, 2]
    k = src.dtype.itemsize
    if (f_zyx[2] == 2 and src.ndim == 3 and k in (1, 2) and acc.itemsize == 2 * k and src.flags.c_contiguous
            and src.shape[2] % 2 == 0):
        # x pairs first, with contiguous word arithmetic: each 2k-byte word holds an x pair
        # (little-endian), so low half + high half is the pair's sum, already widened (1.25x faster
        # than strided pairs, and it halves the data the other reductions read)
        v = src.view(acc)
        s = v & ((1 << (8 * k)) - 1)  # Python ints: numpy's scalar fast path (0-d arrays are slower)
        s += v >> (8 * k)
        axes = [0, 1]
    for axis in axes:
        if f_zyx[axis] > 1:
            s = _sum_axis(s, axis, f_zyx[axis], acc)
    return s if s.dtype == acc else s.astype(acc)


def _divide_half_even(s: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """``round(s / n)`` with ties to even, for non-negative integer arrays (in their own dtype)."""
    if isinstance(n, int) and n & (n - 1) == 0:  # a power of two (all whole windows of factors 2)
        k = n.bit_length() - 1
        if k == 0:
            return s
        # s = q·n + r; adding n/2 - 1 + (q & 1) carries into q exactly when r > n/2, or r = n/2 and q odd
        t = (s >> k) & 1
        t += n // 2 - 1
        t += s
        t >>= k
        return t
    q = s // n
    r = s - q * n
    twice = r * 2
    q += (twice > n) | ((twice == n) & (q & 1).astype(bool))
    return q


def _counts(shape_zyx: Sequence[int], counts: tuple[np.ndarray, np.ndarray, np.ndarray], dtype: np.dtype,
            channels: bool) -> np.ndarray | int:
    cz, cy, cx = counts
    if cz.min() == cz.max() and cy.min() == cy.max() and cx.min() == cx.max():
        return int(cz[0]) * int(cy[0]) * int(cx[0])
    n = (cz[:, None, None] * cy[None, :, None] * cx[None, None, :]).astype(dtype)
    return n[..., None] if channels else n


def mean(src: np.ndarray, f_zyx: Triple, counts: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """TensorStore's ``mean`` of each window of a zero-padded [z, y, x(, c)] array.

    ``counts`` are the per-axis numbers of valid voxels of each output index (``window_counts``);
    windows with no valid voxel come out 0.
    """
    dt = src.dtype
    channels = src.ndim == 4
    nmax = f_zyx[0] * f_zyx[1] * f_zyx[2]
    if dt.kind == "f":
        return _float_mean(src, f_zyx, counts)
    if dt.itemsize == 8:
        return _u64_mean(src, f_zyx, counts)
    acc = np.dtype(np.uint64)
    for cand in (np.uint16, np.uint32):
        if np.iinfo(cand).max >= nmax * int(np.iinfo(dt).max) * 2:
            acc = np.dtype(cand)
            break
    s = _window_sum(src, f_zyx, acc)
    n = _counts(s.shape[:3], counts, acc, channels)
    if isinstance(n, int):
        if n == 0:
            return np.zeros(s.shape, dt)
        q = _divide_half_even(s, n)
    else:
        q = _divide_half_even(s, np.maximum(n, 1))
    return q.astype(dt)


def _float_mean(src: np.ndarray, f_zyx: Triple, counts) -> np.ndarray:
    fz, fy, fx = f_zyx
    s = np.zeros(tuple(-(-d // k) for d, k in zip(src.shape[:3], f_zyx, strict=True)) + src.shape[3:], src.dtype)
    for dz in range(fz):  # sequential, in window order, as TensorStore accumulates
        for dy in range(fy):
            for dx in range(fx):
                s += src[dz::fz, dy::fy, dx::fx]
    n = _counts(s.shape[:3], counts, src.dtype, src.ndim == 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = s / (n if isinstance(n, int) and n else np.maximum(n, 1))
    return out.astype(src.dtype, copy=False)


def _u64_mean(src: np.ndarray, f_zyx: Triple, counts) -> np.ndarray:
    """Exact mean of uint64 windows: the high and low 32-bit halves are summed separately, so
    the 128-bit total never has to exist."""
    u64 = np.dtype(np.uint64)
    lo32 = _window_sum(src & np.uint64(0xFFFFFFFF), f_zyx, u64)
    hi32 = _window_sum(src >> np.uint64(32), f_zyx, u64)
    n = _counts(lo32.shape[:3], counts, u64, src.ndim == 4)
    n = np.uint64(max(n, 1)) if isinstance(n, int) else np.maximum(n, np.uint64(1))
    qh = hi32 // n
    t = ((hi32 - qh * n) << np.uint64(32)) + lo32  # < 2n·2^32: fits while n < 2^31
    q = _divide_half_even(t, n)
    return (qh << np.uint64(32)) + q


def mode(src: np.ndarray, f_zyx: Triple, valid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """TensorStore's ``mode``: the most frequent valid value of each window, the smallest on a tie.

    ``valid`` holds per axis a bool array [output index, offset in window] of which window
    positions lie inside the valid box.
    """
    fz, fy, fx = f_zyx
    extra = (None,) if src.ndim == 4 else ()
    positions = [(dz, dy, dx) for dz in range(fz) for dy in range(fy) for dx in range(fx)]
    vals = [src[dz::fz, dy::fy, dx::fx] for dz, dy, dx in positions]
    vz, vy, vx = valid
    masks = [(vz[:, dz, None, None] & vy[None, :, dy, None] & vx[None, None, :, dx])[(...,) + extra]
             for dz, dy, dx in positions]
    best_n = np.full(vals[0].shape, -1, np.int32)
    best_v = np.zeros(vals[0].shape, src.dtype)
    for j, (vj, mj) in enumerate(zip(vals, masks, strict=True)):
        n = np.zeros(vj.shape, np.int32)
        for k, (vk, mk) in enumerate(zip(vals, masks, strict=True)):
            n += (vk == vj) & mk if k != j else mk
        n = np.where(mj, n, -1)
        take = (n > best_n) | ((n == best_n) & (vj < best_v))
        best_n = np.where(take, n, best_n)
        best_v = np.where(take, vj, best_v)
    return best_v


def valid_positions(lo: int, hi: int, first: int, n: int, f: int) -> np.ndarray:
    """[output index, window offset] -> inside ``[lo, hi]``."""
    v = np.arange(first, first + n)[:, None] * f + np.arange(f)[None, :]
    return (v >= lo) & (v <= hi)


def downsample(src: np.ndarray, src_origin: Sequence[int], valid_lo: Sequence[int], valid_hi: Sequence[int],
               f: Sequence[int], method: str) -> np.ndarray:
    """Downsample a [z, y, x(, c)] array of whole windows whose first voxel is at ``src_origin``
    (x, y, z; a multiple of ``f``), counting only voxels inside ``valid_lo..valid_hi`` (inclusive,
    x, y, z). Voxels outside the valid box must be zero for ``mean``."""
    f_zyx = (int(f[2]), int(f[1]), int(f[0]))
    shape_zyx = src.shape[:3]
    out_first = [o // k for o, k in zip(src_origin, f, strict=True)]
    out_n = [shape_zyx[2 - i] // f[i] for i in range(3)]
    if method == "mean":
        counts = tuple(window_counts(valid_lo[i], valid_hi[i], out_first[i], out_n[i], f[i]) for i in (2, 1, 0))
        return mean(src, f_zyx, counts)  # type: ignore[arg-type]
    if method == "mode":
        valid = tuple(valid_positions(valid_lo[i], valid_hi[i], out_first[i], out_n[i], f[i]) for i in (2, 1, 0))
        return mode(src, f_zyx, valid)  # type: ignore[arg-type]
    raise ValueError(f"unknown downsampling method {method!r}")
