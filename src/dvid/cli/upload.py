"""``put remote``: ingest image files from the user's own disk over HTTP.

DVID never implemented this. Files are decoded here, grouped into block-aligned slabs along the
plane's normal, and each slab is written with a read-modify-write through the public API (GET the
aligned region, paste the images, POST it back), so users without access to the server's disk can
ingest and nothing outside the pasted pixels changes.
"""

from __future__ import annotations

import glob
import os
import sys

import numpy as np
import requests
from tqdm import tqdm

from dvid.codecs.images import decode_image

_PLANES = {"xy": 2, "0_1": 2, "xz": 1, "0_2": 1, "yz": 0, "1_2": 0}


def put_remote(url: str, uuid: str, name: str, plane: str, offset_s: str, patterns: list[str]) -> int:
    normal = _PLANES.get(plane.lower())
    if normal is None:
        print(f"dvid: unknown plane {plane!r} (xy, xz or yz)", file=sys.stderr)
        return 1
    try:
        offset = [int(v) for v in offset_s.replace("_", ",").split(",")]
        assert len(offset) == 3
    except (ValueError, AssertionError):
        print(f"dvid: offset must be x,y,z, got {offset_s!r}", file=sys.stderr)
        return 1
    files = [f for p in patterns for f in sorted(glob.glob(os.path.expanduser(p)))]
    if not files:
        print("dvid: no files match " + " ".join(patterns), file=sys.stderr)
        return 1
    base = f"{url.rstrip('/')}/api/node/{uuid}/{name}"
    s = requests.Session()
    r = s.get(f"{base}/info", timeout=60)
    if r.status_code != 200:
        print(r.text.rstrip(), file=sys.stderr)
        return 1
    ext = r.json()["Extended"]
    bs = ext["BlockSize"]
    channels = len(ext["Values"])
    dtype = np.dtype(ext["Values"][0]["DataType"]).newbyteorder("<")
    b = bs[normal]
    errors = 0
    bar = tqdm(total=len(files), unit="file", desc=f"put remote {name}", file=sys.stderr)
    k = 0
    while k < len(files):
        pos = offset[normal] + k
        group = list(range(k, min(len(files), k + (pos // b + 1) * b - pos)))
        imgs = []
        for i in group:
            try:
                with open(files[i], "rb") as f:
                    img = decode_image(f.read())
                imgs.append((i, _to_voxels(img, dtype, channels)))
            except Exception as e:  # report the file and keep going, like a server job
                print(f"error: {files[i]}: {e}", file=sys.stderr)
                errors += 1
        if imgs:
            err = _write_slab(s, base, imgs, group[0], offset, normal, bs, dtype, channels)
            if err:
                print(f"error: files {files[group[0]]}..{files[group[-1]]}: {err}", file=sys.stderr)
                errors += len(imgs)
        bar.update(len(group))
        k = group[-1] + 1
    bar.close()
    print(f"put {len(files) - errors} of {len(files)} files into {name} @ {uuid}")
    return 1 if errors else 0


def _to_voxels(img: np.ndarray, dtype: np.dtype, channels: int) -> np.ndarray:
    if channels == 4:
        if img.ndim == 3 and img.shape[2] in (3, 4):
            out = np.full(img.shape[:2] + (4,), 255, np.uint8)
            out[..., : img.shape[2]] = img
            return out
        raise ValueError("rgba8blk needs RGB or RGBA images")
    if img.ndim != 2:
        raise ValueError("this instance needs grayscale images")
    if img.dtype != dtype and not (img.dtype == np.uint8 and dtype.itemsize > 1):
        raise ValueError(f"{img.dtype} image does not fit {dtype} voxels")
    return img.astype(dtype)


def _write_slab(s: requests.Session, base: str, imgs, first: int, offset, normal: int, bs, dtype, channels) -> str:
    """Read-modify-write the block-aligned region holding these slices; returns an error text."""
    # image axes -> volume axes: width/height map to the two in-plane axes
    inplane = [a for a in (0, 1, 2) if a != normal]
    h = max(im.shape[0] for _, im in imgs)
    w = max(im.shape[1] for _, im in imgs)
    lo = list(offset)
    lo[normal] = offset[normal] + first
    hi = list(lo)
    hi[inplane[0]] += w - 1
    hi[inplane[1]] += h - 1
    hi[normal] = offset[normal] + imgs[-1][0]
    alo = [(v // b) * b for v, b in zip(lo, bs, strict=True)]
    ahi = [(v // b + 1) * b for v, b in zip(hi, bs, strict=True)]
    size = [e - a for a, e in zip(alo, ahi, strict=True)]
    extra = (channels,) if channels > 1 else ()
    path = f"raw/0_1_2/{size[0]}_{size[1]}_{size[2]}/{alo[0]}_{alo[1]}_{alo[2]}"
    r = s.get(f"{base}/{path}", timeout=600)
    if r.status_code != 200:
        return r.text.rstrip()
    vol = np.frombuffer(r.content, dtype).reshape((size[2], size[1], size[0]) + extra).copy()
    for i, im in imgs:
        p = list(offset)
        p[normal] += i
        rel = [p[a] - alo[a] for a in range(3)]
        if normal == 2:
            vol[rel[2], rel[1] : rel[1] + im.shape[0], rel[0] : rel[0] + im.shape[1]] = im
        elif normal == 1:
            vol[rel[2] : rel[2] + im.shape[0], rel[1], rel[0] : rel[0] + im.shape[1]] = im
        else:
            vol[rel[2] : rel[2] + im.shape[0], rel[1] : rel[1] + im.shape[1], rel[0]] = im
    r = s.post(f"{base}/{path}", data=memoryview(np.ascontiguousarray(vol)).cast("B"), timeout=600)
    return "" if r.status_code == 200 else r.text.rstrip()
