"""``arb``: the image on an arbitrary plane through the volume, by trilinear interpolation.

The plane is given by three corners in physical units (top left, top right, bottom left, e.g. nm)
and a resolution per pixel, as DVID's ``arb`` endpoint does (imageblk.md §1.9). The image is made a
strip of rows at a time, so memory and the voxels read stay proportional to a strip rather than
to the whole plane's bounding box, and the request's budget is checked between strips. Rounding
follows DVID: each channel's interpolated value is floored after adding 0.5, clamped at 255.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dvid import budget
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import Limits, refuse

#: output pixels interpolated per step (memory per step ~ 100 bytes per pixel)
STRIP_PIXELS = 1 << 20
#: voxels one strip may need to read (a plane nearly parallel to a long axis still fits)
MAX_STRIP_VOLUME = 1 << 30


def plane_size(tl: np.ndarray, tr: np.ndarray, bl: np.ndarray, res: float, limits: Limits) -> tuple[int, int]:
    """``(nx, ny)``: the image is ``(nx + 1) × (ny + 1)`` pixels. Refuses non-finite corners,
    a non-positive resolution and images past ``[server] maxImagePixels``."""
    if not (np.isfinite(tl).all() and np.isfinite(tr).all() and np.isfinite(bl).all()):
        raise BadRequest("arb corners must be finite numbers")
    if not (res > 0 and np.isfinite(res)):
        raise BadRequest("Bad arbitrary image size requested")
    fx = np.floor(np.linalg.norm(tr - tl) / res)
    fy = np.floor(np.linalg.norm(bl - tl) / res)
    if not (np.isfinite(fx) and np.isfinite(fy)):
        raise BadRequest("Bad arbitrary image size requested")
    nx, ny = int(fx), int(fy)
    pixels = (nx + 1) * (ny + 1)
    if pixels > limits.max_image_pixels:
        raise refuse(f"arbitrary image of {nx + 1}x{ny + 1}", pixels, "max_image_pixels", limits.max_image_pixels,
                     " pixels")
    return nx, ny


def arb_image(tl: np.ndarray, tr: np.ndarray, bl: np.ndarray, nx: int, ny: int, voxel_size: list[float],
              read: Callable[[Box], np.ndarray]) -> np.ndarray:
    """The ``(ny + 1, nx + 1)`` uint8 image (``(…, c)`` for several channels); ``read(box)`` gives the
    voxels of a box as ``[z, y, x(, c)]``, missing voxels already filled with the background."""
    incx = (tr - tl) / nx if nx else np.zeros(3)
    incy = (bl - tl) / ny if ny else np.zeros(3)
    vs = np.array(voxel_size, np.float64)
    rows_per_strip = max(1, STRIP_PIXELS // (nx + 1))
    strips = []
    for j0 in range(0, ny + 1, rows_per_strip):
        budget.check()
        j1 = min(ny + 1, j0 + rows_per_strip)
        strips.append(_strip(tl, incx, incy, vs, nx, j0, j1, read))
    img = strips[0] if len(strips) == 1 else np.concatenate(strips, axis=0)
    return img[..., 0] if img.shape[-1] == 1 else img


def _strip(tl: np.ndarray, incx: np.ndarray, incy: np.ndarray, vs: np.ndarray, nx: int, j0: int, j1: int,
           read: Callable[[Box], np.ndarray]) -> np.ndarray:
    jj, ii = np.meshgrid(np.arange(j0, j1), np.arange(nx + 1), indexing="ij")
    u = (tl + ii[..., None] * incx + jj[..., None] * incy) / vs
    lo = np.floor(u).astype(np.int64)
    frac = u - lo
    hi = np.ceil(u).astype(np.int64)
    vmin, vmax = lo.reshape(-1, 3).min(0), hi.reshape(-1, 3).max(0)
    size = vmax - vmin + 1
    if int(np.prod(size)) > MAX_STRIP_VOLUME:
        raise BadRequest("arbitrary image spans too large a volume (over 1 GiB of voxels per strip)")
    src = read(Box(tuple(int(v) for v in vmin), tuple(int(v) for v in size)))
    if src.ndim == 3:
        src = src[..., None]
    li, hidx = lo - vmin, hi - vmin
    x0, y0, z0 = li[..., 0], li[..., 1], li[..., 2]
    x1, y1, z1 = hidx[..., 0], hidx[..., 1], hidx[..., 2]

    def at(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray) -> np.ndarray:
        return src[iz, iy, ix].astype(np.float64)

    fx, fy, fz = frac[..., 0:1], frac[..., 1:2], frac[..., 2:3]
    c00 = at(x0, y0, z0) * (1 - fx) + at(x1, y0, z0) * fx
    c10 = at(x0, y1, z0) * (1 - fx) + at(x1, y1, z0) * fx
    c01 = at(x0, y0, z1) * (1 - fx) + at(x1, y0, z1) * fx
    c11 = at(x0, y1, z1) * (1 - fx) + at(x1, y1, z1) * fx
    c0 = c00 * (1 - fy) + c10 * fy
    c1 = c01 * (1 - fy) + c11 * fy
    return np.minimum(np.floor(c0 * (1 - fz) + c1 * fz + 0.5), 255).astype(np.uint8)
