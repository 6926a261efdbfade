"""Synthetic EM-like grayscale volumes (the recipe of reference/perf.md "Test data").

Real EM cannot be downloaded here; this gives membranes, dark blobs, fine texture, shading and
detector noise, so codecs and encoders see realistic (noise-limited) statistics.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    try:
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(a, sigma)
    except ImportError:  # separable FFT-free fallback: box blur three times approximates a Gaussian
        r = max(1, int(round(sigma)))
        out = a
        for axis in range(a.ndim):
            for _ in range(3):
                c = np.cumsum(np.pad(out, [(r + 1, r) if i == axis else (0, 0) for i in range(a.ndim)],
                                     mode="edge"), axis=axis)
                hi = np.take(c, range(2 * r + 1, c.shape[axis]), axis=axis)
                lo = np.take(c, range(0, c.shape[axis] - 2 * r - 1), axis=axis)
                out = (hi - lo) / (2 * r + 1)
        return out


def em_volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A uint8 volume in [z, y, x] order, mean ~143, std ~26."""
    rng = np.random.default_rng(seed)
    f = _blur(rng.standard_normal(shape, dtype=np.float32), 6)
    f /= f.std() + 1e-9
    memb = np.exp(-((f / 0.12) ** 2))
    g = _blur(rng.standard_normal(shape, dtype=np.float32), 3)
    blobs = _blur((g > 2.2 * g.std()).astype(np.float32), 1)
    low = _blur(rng.standard_normal(tuple(max(1, s // 8) for s in shape), dtype=np.float32), 2)
    low = np.kron(low, np.ones((8, 8, 8), np.float32))[: shape[0], : shape[1], : shape[2]]
    low /= low.std() + 1e-9
    tex = _blur(rng.standard_normal(shape, dtype=np.float32), 1.2)
    tex /= tex.std() + 1e-9
    img = 150 + 8 * low + 10 * tex - 90 * memb - 50 * blobs + 9 * rng.standard_normal(shape, dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def cached_em_volume(size: int) -> np.ndarray:
    """``em_volume`` of a cube, cached in the temp dir: building 512³ takes ~30-50 s, and every
    benchmark run would otherwise pay it."""
    cache = Path(tempfile.gettempdir()) / f"bench-em-{size}.npy"
    if cache.exists():
        return np.load(cache)
    vol = em_volume((size, size, size))
    np.save(cache, vol)
    return vol
