"""``export`` / ``import``: move the data visible at a version to and from zarr v3 or
neuroglancer-precomputed volumes through TensorStore, as jobs with progress.

Exports cover the version's extents (``MinPoint``..``MaxPoint``); the volume origin is kept as
precomputed's ``voxel_offset`` or as the zarr attribute ``dvid_offset`` ([x, y, z]), and imports
use it unless ``offset=x,y,z`` is given. Work goes in block-Z slabs so memory stays bounded.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid.datastore.jobs import Job
from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.ingest import parse_point, write_region
from dvid.datatypes.imageblk.props import block_size
from dvid.datatypes.imageblk.voxels import gather
from dvid.errors import BadRequest
from dvid.geometry import Box

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

FORMATS = ("zarr3", "precomputed")


def _kvstore(dest: str) -> dict[str, Any]:
    if "://" in dest and not dest.startswith("file://"):
        return {"url": dest} if not dest.startswith(("s3://", "gs://")) else _bucket_kvstore(dest)
    path = dest[len("file://"):] if dest.startswith("file://") else dest
    return {"driver": "file", "path": os.path.abspath(path)}


def _bucket_kvstore(url: str) -> dict[str, Any]:
    scheme, rest = url.split("://", 1)
    bucket, _, path = rest.partition("/")
    kv: dict[str, Any] = {"driver": "s3" if scheme == "s3" else "gcs", "bucket": bucket, "path": path}
    if scheme == "s3" and os.environ.get("AWS_ENDPOINT_URL"):
        kv["endpoint"] = os.environ["AWS_ENDPOINT_URL"]
    return kv


def _detect(src: str) -> str:
    local = src[len("file://"):] if src.startswith("file://") else src
    if "://" not in local or src.startswith("file://"):
        if os.path.exists(os.path.join(local, "zarr.json")):
            return "zarr3"
        if os.path.exists(os.path.join(local, "info")):
            return "precomputed"
    raise BadRequest(f"cannot tell the format of {src!r}; add format=zarr3 or format=precomputed")


def _slabs(lo: int, hi: int, step: int):
    """[a, b) ranges along z aligned to ``step`` covering lo..hi inclusive."""
    a = lo
    while a <= hi:
        b = min(hi + 1, (a // step + 1) * step)
        yield a, b
        a = b


def export(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    import tensorstore as ts

    if len(args) < 2:
        raise BadRequest("export needs a destination: export <dir or URL> [format=zarr3|precomputed]")
    dest = args[1]
    fmt = settings.get("format", "zarr3")
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    e = ext.read_extents(ctx.view, ctx.instance)
    if e is None:
        raise BadRequest(f'data instance "{ctx.instance.name}" has no extents at node {ctx.uuid}: nothing to export')
    from dvid.datatypes.imageblk import pyramid_io  # imports this module

    if settings.get("pyramid", "true").lower() not in ("false", "0", "no"):
        levels = pyramid_io.levels_to_export(ctx)
        if len(levels) > 1:
            return pyramid_io.export_pyramid(dt, ctx, dest, fmt, levels)
    lo, hi = e
    size = [h - lo_ + 1 for lo_, h in zip(lo, hi, strict=True)]
    bs = block_size(ctx.instance)
    vt = dt.vt
    nch = vt.channels
    kv = _kvstore(dest)
    if fmt == "zarr3":
        shape = [size[2], size[1], size[0]] + ([nch] if nch > 1 else [])
        chunk = [bs[2], bs[1], bs[0]] + ([nch] if nch > 1 else [])
        spec: dict[str, Any] = {
            "driver": "zarr3", "kvstore": kv, "create": True, "delete_existing": True,
            "metadata": {"shape": shape, "data_type": vt.dtype,
                         "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
                         "attributes": {"dvid_offset": lo, "dvid_instance": ctx.instance.name,
                                        "dvid_version": ctx.uuid,
                                        "voxel_size": ctx.instance.props["VoxelSize"]}},
        }
    else:
        spec = {
            "driver": "neuroglancer_precomputed", "kvstore": kv, "create": True, "delete_existing": True,
            "multiscale_metadata": {"data_type": vt.dtype, "num_channels": nch, "type": "image"},
            "scale_metadata": {"size": size, "voxel_offset": lo, "encoding": "raw", "chunk_size": list(bs),
                               "resolution": ctx.instance.props["VoxelSize"]},
        }

    def work(job: Job) -> str:
        out = ts.open(spec).result()
        slabs = list(_slabs(lo[2], hi[2], bs[2]))
        job.set_totals(files=len(slabs))
        for z0, z1 in slabs:
            box = Box((lo[0], lo[1], z0), (size[0], size[1], z1 - z0))
            vol = gather(ctx.view, box, bs, vt.np_dtype, nch)
            if fmt == "zarr3":
                out[z0 - lo[2] : z1 - lo[2]].write(vol).result()
            else:
                xyz = np.moveaxis(vol if nch > 1 else vol[..., None], (0, 1, 2), (2, 1, 0))
                out[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, z0:z1].write(xyz).result()
            (bx0, by0, _), (bx1, by1, _) = box.block_range(bs)
            job.advance(files=1, blocks=(bx1 - bx0 + 1) * (by1 - by0 + 1))
        return f"exported {ctx.instance.name} @ {ctx.uuid} ({'x'.join(map(str, size))} voxels) to {dest} as {fmt}"

    job = ctx.start_job(f"export {dest} format={fmt}", work)
    return f'Exporting data instance "{ctx.instance.name}" @ node {ctx.uuid} to {dest} as {fmt} (job {job.id})'


def import_(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    import tensorstore as ts

    if len(args) < 2:
        raise BadRequest("import needs a source: import <dir or URL> [format=...] [offset=x,y,z]")
    src = args[1]
    fmt = settings.get("format") or _detect(src)
    if fmt not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    from dvid.datatypes.imageblk import pyramid_io  # imports this module

    scales = pyramid_io.open_multiscale(src, fmt)
    if scales is not None:
        return pyramid_io.import_pyramid(dt, ctx, src, fmt, scales, settings)
    driver = "zarr3" if fmt == "zarr3" else "neuroglancer_precomputed"
    try:
        vol = ts.open({"driver": driver, "kvstore": _kvstore(src), "open": True}).result()
    except Exception as e:  # TensorStore reports missing or malformed volumes as its own errors
        raise BadRequest(f"cannot open {fmt} volume {src!r}: {str(e).splitlines()[0]}") from None
    vt = dt.vt
    if np.dtype(vol.dtype.numpy_dtype) != np.dtype(vt.dtype):
        raise BadRequest(f"volume of {vol.dtype.name} does not fit {dt.name} voxels ({vt.dtype})")
    if fmt == "zarr3":
        attrs = json.loads(json.dumps(vol.spec().to_json().get("metadata", {}).get("attributes", {})))
        origin = list(attrs.get("dvid_offset", [0, 0, 0]))
        nz, ny, nx = vol.shape[:3]
        size = [nx, ny, nz]
        inclusive_min = [0, 0, 0]
    else:
        dom = vol.domain
        inclusive_min = [int(dom[i].inclusive_min) for i in range(3)]
        origin = list(inclusive_min)
        size = [int(dom[i].exclusive_max - dom[i].inclusive_min) for i in range(3)]
    nch_src = (vol.shape[3] if vol.rank == 4 else 1) if fmt == "zarr3" else int(vol.shape[3])
    if nch_src != vt.channels:
        raise BadRequest(f"volume has {nch_src} channel(s) but {dt.name} voxels have {vt.channels}")
    if "offset" in settings:
        origin = list(parse_point(settings["offset"], "offset"))
    nch = vt.channels
    from dvid.datatypes.imageblk.commands import block_format  # commands imports this module

    fmt_blocks = block_format(dt, ctx)
    bz = fmt_blocks.block_size[2]

    def work(job: Job) -> str:
        slabs = list(_slabs(origin[2], origin[2] + size[2] - 1, bz))
        job.set_totals(files=len(slabs))
        for z0, z1 in slabs:
            rz0, rz1 = z0 - origin[2], z1 - origin[2]
            if fmt == "zarr3":
                arr = vol[rz0:rz1].read().result()
            else:
                m = inclusive_min
                xyz = vol[m[0] : m[0] + size[0], m[1] : m[1] + size[1], m[2] + rz0 : m[2] + rz1].read().result()
                arr = np.moveaxis(xyz, (0, 1, 2), (2, 1, 0))
                if nch == 1:
                    arr = arr[..., 0]
            n = write_region(ctx.view, fmt_blocks, np.ascontiguousarray(arr), (origin[0], origin[1], z0))
            job.advance(files=1, blocks=n)
        new = ext.grown(ctx.view, ctx.instance, origin, [o + s - 1 for o, s in zip(origin, size, strict=True)])
        if new:
            ctx.view.put(ext.EXTENTS_TKEY, new)
        return f"imported {'x'.join(map(str, size))} voxels from {src} into {ctx.instance.name} @ {ctx.uuid}"

    job = ctx.start_job(f"import {src} format={fmt}", work)
    return f'Importing {src} ({fmt}) into data instance "{ctx.instance.name}" @ node {ctx.uuid} (job {job.id})'
