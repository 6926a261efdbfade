"""imageblk reads of voxels: 3-d subvolumes, 2-d slices (raw and isotropic) and arbitrary planes
(imageblk.md §1.7-1.9). Every size is checked against the server's limits before anything is read.
"""

from __future__ import annotations

import numpy as np

from dvid.codecs.images import box_scale, encode_image
from dvid.datatypes.base import Response
from dvid.datatypes.imageblk.arb import arb_image, plane_size
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.masking import roi_mask
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import Limits, refuse

#: raw reads this large are sent a chunk of block layers at a time while the next is decoded
STREAM_MIN_BYTES = 4 << 20


def check_box(box: Box, layout: Layout, limits: Limits) -> None:
    if any(s <= 0 for s in box.size):
        raise BadRequest("Illegal geometry requested")
    n = box.voxels * layout.bytes_per_voxel
    if n > limits.max_request_bytes:
        raise refuse("requested payload", n, "max_request_bytes", limits.max_request_bytes, " bytes")


def check_pixels(w: int, h: int, limits: Limits) -> None:
    """A 2-d answer's size, checked before reading: encoding costs time per pixel."""
    if w * h > limits.max_image_pixels:
        raise refuse(f"requested {w}x{h} image", w * h, "max_image_pixels", limits.max_image_pixels, " pixels")


def image_of(layout: Layout, vol2d: np.ndarray) -> np.ndarray:
    """A 2-d voxel array as an encodable image: gray uint8 or RGBA (other types per §6)."""
    if layout.channels == 4 or vol2d.dtype == np.uint8:
        return vol2d
    if vol2d.dtype.itemsize == 2:
        return vol2d.astype(np.uint16)  # 16-bit gray; the PNG encoder writes it big-endian as Go does
    return np.ascontiguousarray(vol2d).view(np.uint8).reshape(vol2d.shape + (vol2d.dtype.itemsize,))[..., :4]


def get_subvolume(c: Call, shape: tuple[int, ...], box: Box, format: str) -> Response:
    """``GET raw|isotropic/0_1_2/<size>/<offset>[/jpg]``: voxels as octets (``jpg``: the subvolume
    as one JPEG of Bx × (By·Bz) gray, as DVID)."""
    check_box(box, c.layout, c.limits)
    outside = roi_mask(c.ctx, c.req)
    if format in ("jpg", "jpeg"):
        sx, sy, sz = box.size
        check_pixels(sx, sy * sz, c.limits)
        vol = c.src.read(box, outside=outside)
        data, ctype = encode_image(image_of(c.layout, vol.reshape((sz * sy, sx) + vol.shape[3:])), "jpg")
        return Response(data, content_type=ctype)
    nbytes = box.voxels * c.layout.bytes_per_voxel
    if nbytes >= STREAM_MIN_BYTES and not c.throttled:  # a throttled read does all its work in its slot
        chunks = c.src.stream(box, outside=outside)
        if chunks is not None:
            return Response(stream=chunks, length=nbytes, content_type="application/octet-stream")
    vol = c.src.read(box, outside=outside)
    return Response(memoryview(vol).cast("B"), content_type="application/octet-stream")


def get_slice(c: Call, shape: tuple[int, ...], box: tuple[Box, tuple[int, int]], format: str,
              isotropic: bool = False) -> Response:
    """``GET raw/<xy|xz|yz>/<w>_<h>/<offset>[/<image format>]``: one plane as an image."""
    axes = shape
    box3, (w, h) = box
    check_pixels(w, h, c.limits)
    check_box(box3, c.layout, c.limits)
    outside = roi_mask(c.ctx, c.req)
    read_w, read_h = w, h
    if isotropic:  # read fewer rows (or columns) of the finer axis, then stretch them
        vs = c.layout.voxel_size
        rw, rh = np.float32(vs[axes[0]]), np.float32(vs[axes[1]])
        if rw < rh:
            read_h = int(np.float32(h) * rw / rh + np.float32(0.5))
        elif rw > rh:
            read_w = int(np.float32(w) * rh / rw + np.float32(0.5))
        if read_w <= 0 or read_h <= 0:
            raise BadRequest("Illegal geometry requested")
        s = list(box3.size)
        s[axes[0]], s[axes[1]] = read_w, read_h
        box3 = Box(box3.offset, (s[0], s[1], s[2]))
    vol = c.src.read(box3, outside=outside)
    if axes == (0, 1):
        img = vol[0]
    elif axes == (0, 2):
        img = vol[:, 0]
    else:
        img = vol[:, :, 0]
    img = image_of(c.layout, img)
    if (read_w, read_h) != (w, h):
        img = box_scale(img, w, h)
    data, ctype = encode_image(img, format)
    return Response(data, content_type=ctype)


def get_isotropic_slice(c: Call, shape: tuple[int, ...], box: tuple[Box, tuple[int, int]], format: str) -> Response:
    """``GET isotropic/<plane>/...``: a slice resampled so both image axes have the finer voxel size."""
    return get_slice(c, shape, box, format, isotropic=True)


def get_arb(c: Call, tl: np.ndarray, tr: np.ndarray, bl: np.ndarray, res: float, format: str) -> Response:
    """``GET arb/<top left>/<top right>/<bottom left>/<res>[/<format>]``: corners in physical units
    (e.g. nm), ``res`` physical units per pixel; trilinear interpolation, missing voxels background."""
    nx, ny = plane_size(tl, tr, bl, res, c.limits)
    missing = c.layout.outside_fill

    def read(box: Box) -> np.ndarray:
        return c.src.read(box, missing=missing)

    img = arb_image(tl, tr, bl, nx, ny, list(c.layout.voxel_size), read)
    data, ctype = encode_image(np.ascontiguousarray(img), format)
    return Response(data, content_type=ctype)
