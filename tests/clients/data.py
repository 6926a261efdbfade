"""Test volumes shared by the project's tests and the client scripts (numpy only, any numpy >= 1.26).

Arrays are numpy [z, y, x]; DVID URLs are X_Y_Z.
"""

from __future__ import annotations

import numpy as np

LIGHT, DARK = 200, 40


def gradient(shape_zyx, offset_zyx=(0, 0, 0), seed: int = 0) -> np.ndarray:
    """A deterministic uint8 volume in which every voxel's value depends on all three coordinates
    (so any axis swap, offset or stride error shows)."""
    z, y, x = np.ogrid[tuple(slice(o, o + s) for o, s in zip(offset_zyx, shape_zyx, strict=True))]
    return ((x * 7 + y * 13 + z * 29 + seed * 31) % 251).astype(np.uint8)


def checkerboard(shape_zyx, square: int = 64, invert: bool = False) -> np.ndarray:
    """3-D checkerboard of square³ cubes: LIGHT where (bx+by+bz) is even, DARK elsewhere."""
    z, y, x = np.ogrid[tuple(slice(0, s) for s in shape_zyx)]
    even = ((x // square + y // square + z // square) % 2) == 0
    if invert:
        even = ~even
    return np.where(even, LIGHT, DARK).astype(np.uint8)


def quadrants(shape_zyx, square: int = 64) -> np.ndarray:
    """Per-block values that tell x from y: 20 + 160*(bx%2) + 40*(by%2) (+10 for odd z blocks)."""
    z, y, x = np.ogrid[tuple(slice(0, s) for s in shape_zyx)]
    v = 20 + 160 * ((x // square) % 2) + 40 * ((y // square) % 2) + 10 * ((z // square) % 2)
    return np.broadcast_to(v, shape_zyx).astype(np.uint8)


def synthetic_em(shape_zyx, seed: int = 0) -> np.ndarray:
    """A volume that looks like electron microscopy: light, grainy cells with dark membranes
    (the zero set of band-passed noise) and a few dark round organelles. For pictures (the README
    screenshot), not for value checks."""
    rng = np.random.default_rng(seed)
    kz, ky, kx = np.meshgrid(*(np.fft.fftfreq(n) for n in shape_zyx[:2]), np.fft.rfftfreq(shape_zyx[2]),
                             indexing="ij")
    k = np.sqrt((kz * 0.5) ** 2 + ky**2 + kx**2)  # cells flatter in z, as in EM sections

    def band(centre: float, width: float) -> np.ndarray:
        spec = np.fft.rfftn(rng.normal(size=shape_zyx).astype(np.float32))
        f = np.fft.irfftn(spec * np.exp(-(((k - centre) / width) ** 2)), s=shape_zyx, axes=(0, 1, 2)).astype(np.float32)
        return f / f.std()

    cells = band(0.025, 0.012)
    organelles = band(0.035, 0.012)
    img = 182 - 130 * np.exp(-((cells / 0.16) ** 2)) - 70 * np.clip(organelles - 1.5, 0, 0.5) / 0.5
    img += rng.normal(0, 13, shape_zyx).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def downsample_mean(vol_zyx: np.ndarray) -> np.ndarray:
    """2x2x2 mean (each axis cut to even length), the way a pyramid level is made."""
    z, y, x = (s - s % 2 for s in vol_zyx.shape)
    v = vol_zyx[:z, :y, :x].astype(np.float32)
    return v.reshape(z // 2, 2, y // 2, 2, x // 2, 2).mean(axis=(1, 3, 5)).round().astype(np.uint8)
