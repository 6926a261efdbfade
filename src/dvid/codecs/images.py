"""2-D image encoding for slices (imageblk.md §6), decoding for ingest, and DVID's box resampler."""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import simplejpeg
from PIL import Image

from dvid.errors import BadRequest

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff",
                 "tiff": "image/tiff", "bmp": "image/bmp"}
PNG_LEVEL = 1  # fastest deflate: EM slices barely compress anyway (perf.md §2)
PNG_FILTER = int(imagecodecs.PNG.FILTER.SUB)  # one fixed filter: adaptive choice costs 3x for 3% size


def parse_format(image_format: str) -> tuple[str, int | None]:
    """DVID's ``<name>[:<int>]`` format element; the suffix must be an integer for any format."""
    name, sep, arg = image_format.partition(":")
    level: int | None = None
    if sep:
        try:
            level = int(arg)
        except ValueError:
            raise BadRequest(f"Illegal image format requested: {image_format}") from None
    if name == "":
        name = "png"
    if name not in CONTENT_TYPES:
        raise BadRequest(f"Illegal image format requested: {name}")
    return name, level


def _rgba_for_jpeg(img: np.ndarray) -> np.ndarray:
    """Go converts NRGBA to premultiplied colour before JPEG encoding: RGB scaled by alpha/255.

    Exactly Go's ``NRGBA.RGBA()`` (16-bit: ``(R*0x101*A)/0xff``) followed by the encoder's ``>>8``,
    so truncation matches DVID's bytes rather than a rounded product.
    """
    a = img[..., 3:4].astype(np.uint32)
    return (((img[..., :3].astype(np.uint32) * 257 * a) // 255) >> 8).astype(np.uint8)


def _canonical(img: np.ndarray) -> np.ndarray:
    """A C-contiguous array with the canonical strides encoders check. numpy calls an array with a
    length-1 axis contiguous whatever that axis's stride, e.g. a 1×1 pixel sliced from RGBA keeps
    strides (4, 4, 1), which libpng's wrapper refuses."""
    img = np.ascontiguousarray(img)
    want = img.itemsize
    for n, stride in zip(reversed(img.shape), reversed(img.strides), strict=True):
        if stride != want:
            return img.copy()
        want *= n
    return img


def encode_image(img: np.ndarray, image_format: str) -> tuple[bytes, str]:
    """Encode (H, W) gray or (H, W, 4) RGBA uint8 as the requested format."""
    name, level = parse_format(image_format)
    img = _canonical(img)
    rgba = img.ndim == 3 and img.shape[2] == 4
    if rgba and name in ("png", "tif", "tiff", "bmp") and bool((img[..., 3] == 255).all()):
        img = _canonical(img[..., :3])  # Go writes opaque NRGBA as RGB
        rgba = False
    if name == "png":
        # libpng, deflate level 1 and the SUB filter on every row: 7.5 ms and 227 KB for a 1024² EM
        # slice, against 24-29 ms and 221 KB with adaptive per-row filter choice (libpng or libspng).
        data = imagecodecs.png_encode(img, level=PNG_LEVEL, filter=PNG_FILTER)
    elif name in ("jpg", "jpeg"):
        q = 80 if level is None else min(100, max(1, level))
        if img.ndim == 2:
            data = simplejpeg.encode_jpeg(img[..., None], quality=q, colorspace="GRAY", colorsubsampling="Gray")
        else:
            rgb = _rgba_for_jpeg(img) if rgba else img
            data = simplejpeg.encode_jpeg(_canonical(rgb), quality=q, colorspace="RGB")
    elif name in ("tif", "tiff"):
        data = imagecodecs.tiff_encode(img, compression="deflate") if hasattr(imagecodecs, "tiff_encode") \
            else _pil(img, "TIFF", compression="tiff_adobe_deflate")
    else:
        data = _pil(img, "BMP")
    return bytes(data), CONTENT_TYPES[name]


def _pil(img: np.ndarray, image_format: str, **kw: object) -> bytes:
    mode = "L" if img.ndim == 2 else ("RGBA" if img.shape[2] == 4 else "RGB")
    buf = io.BytesIO()
    Image.fromarray(img, mode=mode).save(buf, format=image_format, **kw)
    return buf.getvalue()


def decode_image(data: bytes) -> np.ndarray:
    """(H, W) gray (uint8 or uint16), (H, W, 3) RGB or (H, W, 4) RGBA from PNG/JPEG/TIFF/BMP."""
    head = bytes(data[:8])
    try:
        if head.startswith(b"\x89PNG"):
            arr = imagecodecs.png_decode(data)
        elif head.startswith(b"\xff\xd8"):
            arr = imagecodecs.jpeg8_decode(data)
        elif head[:4] in (b"II*\x00", b"MM\x00*"):
            arr = imagecodecs.tiff_decode(data)
        elif head.startswith(b"BM"):
            im = Image.open(io.BytesIO(data))
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            arr = np.asarray(im)
        else:
            raise BadRequest("unknown image format (expected PNG, JPEG, TIFF or BMP)")
    except BadRequest:
        raise
    except Exception as e:  # decoder libraries raise their own error types
        raise BadRequest(f"cannot decode image: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 2:  # gray + alpha
        g = arr[..., 0]
        arr = np.stack([g, g, g, arr[..., 1]], axis=-1)
    if arr.ndim not in (2, 3):
        raise BadRequest(f"unsupported image shape {arr.shape} (multi-page TIFFs are not slices)")
    return np.ascontiguousarray(arr)


def box_scale(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """DVID's box-filter resample: conceptually replicate the source (sw×sh) to (W·sw)×(H·sh) and
    average each sw×sh cell with integer sums and truncating division (per channel)."""
    sh, sw = img.shape[:2]
    if (sw, sh) == (width, height):
        return img
    a = img.astype(np.uint64)
    # along x: destination column j covers super-columns [j*sw, (j+1)*sw), i.e. source pixels
    # k = floor(s / width) for s in that range; weights are counts of each source pixel.
    a = _box_axis(a, width, axis=1)
    a = _box_axis(a, height, axis=0)
    return (a // (sw * sh)).astype(img.dtype)


def _box_axis(a: np.ndarray, dst: int, axis: int) -> np.ndarray:
    """Sums along ``axis`` of the replicated super-sampled signal, ``dst`` cells of ``src`` each.

    Super-sample ``s`` in ``[0, dst*src)`` has the value of source pixel ``s // dst``; cell ``j``
    sums samples ``[j*src, (j+1)*src)``. With prefix sums ``C`` of the source, the sum of the
    first ``t`` samples is ``dst*C[t // dst] + (t % dst)*a[t // dst]``, so each cell is a
    difference of two prefix values: memory and time O(src + dst), whatever the sizes.
    """
    src = a.shape[axis]
    moved = np.moveaxis(a, axis, 0)
    zero = np.zeros((1,) + moved.shape[1:], np.uint64)
    c = np.concatenate([zero, np.cumsum(moved, axis=0, dtype=np.uint64)])
    padded = np.concatenate([moved.astype(np.uint64), zero])
    t = np.arange(dst + 1, dtype=np.uint64) * np.uint64(src)
    q, r = t // np.uint64(dst), t % np.uint64(dst)
    shape = (dst + 1,) + (1,) * (moved.ndim - 1)
    prefix = np.uint64(dst) * c[q] + r.reshape(shape) * padded[q]
    return np.moveaxis(prefix[1:] - prefix[:-1], 0, axis)
