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
