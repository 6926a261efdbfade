"""``put remote``: ingest image files from the user's own disk over HTTP.

DVID never implemented this. Files are decoded here and written through ``dvid.client``'s
``Volume``: consecutive slices of one size inside one block slab go up as one box, whose partial
blocks the client reads, pastes and posts back, so nothing outside the pasted pixels changes. The
instance's extents end as voxel extents (the images' footprints joined with what was there), the
same as the server-side ``load`` gives.
"""

from __future__ import annotations

import glob
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from dvid.client import DVIDClient, DVIDError
from dvid.codecs.images import decode_image

_PLANES = {"xy": 2, "0_1": 2, "xz": 1, "0_2": 1, "yz": 0, "1_2": 0}  # plane -> normal axis (x=0, y=1, z=2)


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
    try:
        vol = DVIDClient(url).volume(uuid, name)
    except DVIDError as e:
        print(f"dvid: {e.message}", file=sys.stderr)
        return 1
    failed: list[str] = []
    b = vol.block_size[2 - normal]  # block edge along the normal ([z, y, x] order)
    bar = tqdm(total=len(files), unit="file", desc=f"put remote {name}", file=sys.stderr)
    t0, written = time.monotonic(), 0
    group: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        nonlocal written
        if not group:
            return
        try:
            _write_group(vol, group, offset, normal)
            written += sum(im.nbytes for _, im in group)
        except DVIDError as e:
            print(f"error: {files[group[0][0]]}..{files[group[-1][0]]}: {e.message}", file=sys.stderr)
            failed.extend(files[i] for i, _ in group)
        bar.update(len(group))
        bar.set_postfix_str(f"{written / 1e6 / max(time.monotonic() - t0, 1e-3):.1f} MB/s")
        group.clear()

    for k, path in enumerate(files):
        try:
            with open(path, "rb") as f:
                img = _to_voxels(decode_image(f.read()), vol.dtype, vol.channels)
        except Exception as e:  # report the file and keep going, like a server job
            print(f"error: {path}: {e}", file=sys.stderr)
            failed.append(path)
            flush()
            bar.update(1)
            continue
        pos = offset[normal] + k
        if group and (img.shape != group[0][1].shape or pos // b != (offset[normal] + group[0][0]) // b
                      or group[-1][0] != k - 1):
            flush()
        group.append((k, img))
    flush()
    bar.close()
    where = f"{name} @ {uuid}"
    if not failed:
        print(f"put {len(files)} files into {where}")
        return 0
    shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    print(f"put {len(files) - len(failed)} of {len(files)} files into {where}; {len(failed)} failed: {shown}")
    return 1


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


def _write_group(vol, group: list[tuple[int, np.ndarray]], offset: list[int], normal: int) -> None:
    """Slices ``group`` (same size, consecutive) as one [z, y, x] box at their place in the volume."""
    stack = np.stack([im for _, im in group])  # [slice, height, width(, c)]
    if normal == 2:  # xy: slices along z, height y, width x
        box = stack
    elif normal == 1:  # xz: slices along y, height z, width x
        box = stack.swapaxes(0, 1)
    else:  # yz: slices along x, height z, width y
        box = np.moveaxis(stack, 0, 2)
    x, y, z = offset
    first = group[0][0]
    if normal == 2:
        z += first
    elif normal == 1:
        y += first
    else:
        x += first
    vol.write((z, y, x), np.ascontiguousarray(box))
