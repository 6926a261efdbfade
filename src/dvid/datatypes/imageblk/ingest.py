"""Getting image stacks in: read-modify-write of arbitrary (unaligned) regions, and the ``load`` /
``put local`` planning that feeds it.

DVID's ``load`` reuses slab buffers without clearing them and its ``put local`` can never succeed
(imageblk.md §7, Q8/Q9). Here every partly covered block is read, patched and rewritten, so nothing
outside the written pixels ever changes, and each slab is one atomic batch: a crash or a bad file
leaves every block either as before or fully written.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dvid.codecs import block as blockcodec
from dvid.datastore.view import VersionedView
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.voxels import block_tkey, encode_blocks, with_change_record
from dvid.errors import BadRequest
from dvid.geometry import Box, parse_shape

_POOL = ThreadPoolExecutor(max(2, os.cpu_count() or 2), thread_name_prefix="decode")


def write_region(
    view: VersionedView,
    layout: Layout,
    data: np.ndarray,
    offset: Sequence[int],
    mask: np.ndarray | None = None,
    *,
    record: bool = True,
) -> int:
    """Write ``data`` ([z, y, x(, c)]) with its first voxel at ``offset`` (x, y, z), any alignment.

    ``mask`` ([z, y, x] bool, optional) marks which voxels of ``data`` are real; others keep what is
    stored. Blocks not entirely covered are read and patched (missing blocks start as background).
    All touched blocks go to storage in one atomic batch, with their change record unless
    ``record`` is False (a pyramid level imported as is). Returns the number of blocks written.
    """
    bx, by, bz = layout.block_size
    x0, y0, z0 = (int(v) for v in offset)
    nz, ny, nx = data.shape[:3]
    if nz == 0 or ny == 0 or nx == 0:
        return 0
    b0 = (x0 // bx, y0 // by, z0 // bz)
    b1 = ((x0 + nx - 1) // bx, (y0 + ny - 1) // by, (z0 + nz - 1) // bz)
    # a block-aligned canvas covering every touched block
    cx0, cy0, cz0 = b0[0] * bx, b0[1] * by, b0[2] * bz
    nbx, nby, nbz = b1[0] - b0[0] + 1, b1[1] - b0[1] + 1, b1[2] - b0[2] + 1
    cshape = (nbz * bz, nby * by, nbx * bx) + data.shape[3:]
    covered = np.zeros(cshape[:3], bool)
    sl = (slice(z0 - cz0, z0 - cz0 + nz), slice(y0 - cy0, y0 - cy0 + ny), slice(x0 - cx0, x0 - cx0 + nx))
    if mask is None:
        covered[sl] = True
    else:
        covered[sl] = mask
    # which blocks are fully covered: reduce the coverage mask per block
    cov6 = covered.reshape(nbz, bz, nby, by, nbx, bx)
    full = cov6.all(axis=(1, 3, 5))  # [nbz, nby, nbx]
    touched = cov6.any(axis=(1, 3, 5))
    canvas = np.empty(cshape, layout.dtype)
    canvas.fill(layout.background if layout.dtype.itemsize * layout.channels == 1 else 0)
    # read-modify-write: load stored content of partly covered blocks into the canvas
    partial = np.argwhere(touched & ~full)
    if len(partial):
        tks = [block_tkey(b0[0] + ix, b0[1] + iy, b0[2] + iz) for iz, iy, ix in partial]
        for (iz, iy, ix), val in zip(partial, view.get_many(tks), strict=True):
            if val:
                blk = np.frombuffer(blockcodec.deserialize(val), layout.dtype).reshape(layout.voxel_shape)
                canvas[iz * bz : (iz + 1) * bz, iy * by : (iy + 1) * by, ix * bx : (ix + 1) * bx] = blk
    if mask is None:
        canvas[sl] = data
    else:
        np.copyto(canvas[sl], data, where=mask if data.ndim == 3 else mask[..., None])
    # encode each touched block with the same row-staged encoder as POST raw
    box = Box((cx0, cy0, cz0), (nbx * bx, nby * by, nbz * bz))
    puts = list(encode_blocks(canvas, box, layout.block_size, layout.compression, layout.checksum,
                              skip=lambda x, y, z: not touched[z - b0[2], y - b0[1], x - b0[0]]))
    view.write(puts=with_change_record(puts) if record else puts)
    return len(puts)


# ------------------------------------------------------------------------------------ file planning
def expand_globs(patterns: Iterable[str], host: str = "localhost") -> list[str]:
    """Each pattern's matches sorted, patterns concatenated in order (as DVID); none -> DVID's error."""
    files: list[str] = []
    for p in patterns:
        files.extend(sorted(glob.glob(os.path.expanduser(p))))
    if not files:
        raise BadRequest(f"Couldn't find any files to add.  Are they visible to DVID server on {host}?")
    ext = os.path.splitext(files[0])[1].lower().lstrip(".")
    if ext.startswith("hdf") or ext.startswith("h5"):
        raise BadRequest("HDF5 files are not supported by load; convert the stack to PNG, TIFF, JPEG or BMP")
    return files


def to_voxels(img: np.ndarray, layout: Layout, name: str) -> np.ndarray:
    """Convert a decoded image to the instance's voxel layout, or refuse it with a clear message.

    uint8blk takes 8-bit gray only (RGB/RGBA are refused rather than stored as garbage, DVID Q18);
    rgba8blk takes RGB (alpha set to 255) or RGBA; 16-bit gray only for 16-bit types."""
    if layout.channels == 4:
        if img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8:
            return img
        if img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8:
            out = np.empty(img.shape[:2] + (4,), np.uint8)
            out[..., :3] = img
            out[..., 3] = 255
            return out
        raise BadRequest(f"{name}: rgba8blk needs an 8-bit RGB or RGBA image, got {_describe(img)}")
    if img.ndim != 2:
        raise BadRequest(f"{name}: this instance needs grayscale images, got {_describe(img)}; "
                         "convert the stack to 8-bit gray first")
    if img.dtype == layout.dtype:
        return img
    if img.dtype == np.uint8 and layout.dtype.kind in "uif" and layout.dtype.itemsize > 1:
        return img.astype(layout.dtype)
    raise BadRequest(f"{name}: image of {_describe(img)} does not fit voxels of type {layout.dtype}")


def _describe(img: np.ndarray) -> str:
    ch = 1 if img.ndim == 2 else img.shape[2]
    return f"{ch}-channel {img.dtype.itemsize * 8}-bit"


def load_stack(
    view: VersionedView,
    layout: Layout,
    files: Sequence[str],
    offset: tuple[int, int, int],
    decode: Callable[[bytes], np.ndarray],
    on_progress: Callable[[int, int], None] = lambda files, blocks: None,
    on_error: Callable[[str, str], None] = lambda file, msg: None,
) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """Load XY images, file k at z = offset.z + k, one atomic batch per block-Z slab.

    A file that cannot be read or decoded is reported through ``on_error`` and skipped: its plane
    keeps what was stored. Returns the (min, max) voxel extents of everything written, or None.
    """
    x0, y0, z0 = offset
    bz = layout.block_size[2]
    lo: list[int] | None = None
    hi: list[int] | None = None
    k = 0
    while k < len(files):
        z = z0 + k
        slab_end = (z // bz + 1) * bz  # first z of the next block slab
        group = list(range(k, min(len(files), k + slab_end - z)))
        imgs: list[tuple[int, np.ndarray]] = []

        def read(i: int) -> tuple[int, np.ndarray | str]:
            try:
                with open(files[i], "rb") as f:
                    return i, to_voxels(decode(f.read()), layout, os.path.basename(files[i]))
            except (OSError, BadRequest) as e:
                return i, str(e).splitlines()[0]

        for i, got in _POOL.map(read, group):  # decoders release the GIL: overlap them
            if isinstance(got, str):
                on_error(files[i], got)
            else:
                imgs.append((i, got))
        written = 0
        if imgs:
            h = max(im.shape[0] for _, im in imgs)
            w = max(im.shape[1] for _, im in imgs)
            depth = group[-1] - group[0] + 1
            data = np.zeros((depth, h, w) + imgs[0][1].shape[2:], layout.dtype)
            mask = np.zeros((depth, h, w), bool)
            for i, im in imgs:
                data[i - group[0], : im.shape[0], : im.shape[1]] = im
                mask[i - group[0], : im.shape[0], : im.shape[1]] = True
            full = bool(mask.all())
            written = write_region(view, layout, data, (x0, y0, z0 + group[0]), None if full else mask)
            zs = [z0 + i for i, _ in imgs]
            box_lo = [x0, y0, min(zs)]
            box_hi = [x0 + w - 1, y0 + h - 1, max(zs)]
            lo = box_lo if lo is None else [min(a, b) for a, b in zip(lo, box_lo, strict=True)]
            hi = box_hi if hi is None else [max(a, b) for a, b in zip(hi, box_hi, strict=True)]
        on_progress(len(group), written)
        k = group[-1] + 1
    if lo is None or hi is None:
        return None
    return (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2])


def plane_axes(plane: str) -> tuple[int, ...]:
    """The image axes of a plane name (``xy``, ``0_2``...): DVID's dims grammar, 2-d only."""
    axes = parse_shape(plane)
    if len(axes) != 2:
        raise BadRequest(f"Unknown data shape specification ({plane})")
    return axes


def slice_as_volume(img: np.ndarray, plane: str) -> tuple[np.ndarray, int]:
    """A 2-D image in a plane as a [z, y, x(, c)] array of thickness 1; also returns the axis (0=x,
    1=y, 2=z) normal to the plane, along which ``put local`` advances one voxel per file."""
    axes = plane_axes(plane)
    if axes == (0, 1):
        return img[None], 2
    if axes == (0, 2):  # width along x, height along z
        return img[:, None], 1
    return img[:, :, None] if img.ndim == 2 else img[:, :, None, :], 0  # yz: width y, height z
