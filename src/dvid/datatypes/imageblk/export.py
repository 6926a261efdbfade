"""``export`` / ``import``: move the data visible at a version to and from zarr v3 or
neuroglancer-precomputed volumes through TensorStore, as jobs with progress.

Exports cover the version's extents (``MinPoint``..``MaxPoint``); the volume origin is kept as
precomputed's ``voxel_offset`` or as the zarr attribute ``dvid_offset`` ([x, y, z]), and imports
use it unless ``offset=x,y,z`` is given. Work goes in block-Z slabs so memory stays bounded. The
TensorStore specs come from ``dvid.volume_specs``; TensorStore indexes precomputed volumes
[x, y, z, c] where our arrays are [z, y, x(, c)], hence the axis moves.

A precomputed export's chunks are ``encoding=raw`` or ``encoding=jpeg`` (uint8, one channel only);
the default is jpeg for an instance whose blocks are stored as JPEG, so a static file server holding
the export sends bytes comparable to our JPEG ``subvolblocks`` (``bench/bench_viewers.py``), and raw
otherwise. The JPEG quality is the instance's (``jpeg:NN``) if it names one, else the one our block
codec stores JPEG blocks at.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid import volume_specs
from dvid.codecs import block as blockcodec
from dvid.datastore.jobs import Job
from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk import pyramid_io
from dvid.datatypes.imageblk.ingest import write_region
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.source import gather_layout
from dvid.errors import BadRequest
from dvid.geometry import Box, parse_xyz

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

FORMATS = ("zarr3", "precomputed")
ENCODINGS = ("raw", "jpeg")
_JPEG_MAX = 65535  # pixels on a side of one JPEG image (a precomputed chunk is x by y*z)


def encoding_of(layout: Layout, export_format: str, settings: dict[str, str]) -> tuple[str, int | None]:
    """The precomputed chunk encoding of an export and its JPEG quality (None unless jpeg): the
    ``encoding=`` setting, else jpeg for a JPEG-stored 1-channel uint8 instance, else raw. Refused
    (BadRequest) for anything TensorStore's JPEG chunks cannot hold, or for a zarr3 export."""
    asked = settings.get("encoding", "").lower()
    if asked and asked not in ENCODINGS:
        raise BadRequest(f"encoding must be one of {', '.join(ENCODINGS)}, not {asked!r}")
    if export_format != "precomputed":
        if asked:
            raise BadRequest(f"encoding= applies to format=precomputed, not {export_format}")
        return "raw", None
    comp, _, level = layout.compression.partition(":")
    jpeg_fits = layout.dtype == np.uint8 and layout.channels == 1
    encoding = asked or ("jpeg" if comp == "jpeg" and jpeg_fits else "raw")
    if encoding == "raw":
        return "raw", None
    if not jpeg_fits:
        raise BadRequest(f"encoding=jpeg needs 1-channel uint8 voxels; {layout.typename or 'this instance'} has "
                         f"{layout.channels} channel(s) of {layout.dtype}")
    bx, by, bz = layout.block_size
    if max(bx, by * bz) > _JPEG_MAX:
        raise BadRequest(f"encoding=jpeg cannot hold {bx}x{by}x{bz} chunks: a chunk is one {bx} x {by * bz} JPEG "
                         f"and JPEG images are at most {_JPEG_MAX} pixels on a side")
    quality = int(level) if comp == "jpeg" and level.isdigit() else blockcodec.JPEG_QUALITY
    return "jpeg", quality


def _xyz(vol: np.ndarray) -> np.ndarray:
    """Our [z, y, x(, c)] as TensorStore's precomputed [x, y, z, c]."""
    return np.moveaxis(vol if vol.ndim == 4 else vol[..., None], (0, 1, 2), (2, 1, 0))


def export(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    import tensorstore as ts

    if len(args) < 2:
        raise BadRequest("export needs a destination: export <dir or URL> [format=zarr3|precomputed] [encoding=raw|jpeg]")
    dest = args[1]
    export_format = settings.get("format", "zarr3")
    if export_format not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {export_format!r}")
    layout = dt.layout(ctx.instance)
    encoding, quality = encoding_of(layout, export_format, settings)
    e = ext.read_extents(ctx.view, ctx.instance)
    if e is None:
        raise BadRequest(f'data instance "{ctx.instance.name}" has no extents at node {ctx.uuid}: nothing to export')
    if settings.get("pyramid", "true").lower() not in ("false", "0", "no"):
        levels = pyramid_io.levels_to_export(ctx)
        if len(levels) > 1:
            return pyramid_io.export_pyramid(dt, ctx, dest, export_format, levels, encoding, quality)
    lo, hi = e
    size = [h - lo_ + 1 for lo_, h in zip(lo, hi, strict=True)]
    bs, nch = layout.block_size, layout.channels
    extra = [nch] if nch > 1 else []
    spec: dict[str, Any]
    if export_format == "zarr3":
        spec = volume_specs.zarr3_create(
            dest, dtype=dt.vt.dtype, shape=[size[2], size[1], size[0]] + extra, chunk=[bs[2], bs[1], bs[0]] + extra,
            attributes={"dvid_offset": lo, "dvid_instance": ctx.instance.name, "dvid_version": ctx.uuid,
                        "voxel_size": list(layout.voxel_size)})
    else:
        spec = volume_specs.precomputed_create(dest, dtype=dt.vt.dtype, channels=nch, size=size, offset=lo,
                                               chunk=list(bs), resolution=list(layout.voxel_size),
                                               encoding=encoding, jpeg_quality=quality)

    def work(job: Job) -> str:
        out = ts.open(spec).result()
        slabs = list(volume_specs.slabs(lo[2], hi[2], bs[2]))
        job.set_totals(files=len(slabs), unit="slab")
        for z0, z1 in slabs:
            box = Box((lo[0], lo[1], z0), (size[0], size[1], z1 - z0))
            vol = gather_layout(ctx.view, box, layout)
            if export_format == "zarr3":
                out[z0 - lo[2] : z1 - lo[2]].write(vol).result()
            else:
                out[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, z0:z1].write(_xyz(vol)).result()
            (bx0, by0, _), (bx1, by1, _) = box.block_range(bs)
            job.advance(files=1, blocks=(bx1 - bx0 + 1) * (by1 - by0 + 1))
        return (f"exported {ctx.instance.name} @ {ctx.uuid} ({'x'.join(map(str, size))} voxels) to {dest} "
                f"as {export_format}{_enc_note(export_format, encoding, quality)}")

    job = ctx.start_job(f"export {dest} format={export_format}{_enc_note(export_format, encoding, quality)}", work)
    return f'Exporting data instance "{ctx.instance.name}" @ node {ctx.uuid} to {dest} as {export_format} (job {job.id})'


def _enc_note(export_format: str, encoding: str, quality: int | None) -> str:
    """`` encoding=jpeg:80`` for a precomputed export's job and message, else nothing."""
    if export_format != "precomputed":
        return ""
    return f" encoding={encoding}" + (f":{quality}" if quality is not None else "")


def import_(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    import tensorstore as ts

    if len(args) < 2:
        raise BadRequest("import needs a source: import <dir or URL> [format=...] [offset=x,y,z]")
    src = args[1]
    import_format = settings.get("format") or volume_specs.detect_format(src)
    if import_format is None:
        raise BadRequest(f"cannot tell the format of {src!r}; add format=zarr3 or format=precomputed")
    if import_format not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}, not {import_format!r}")
    scales = pyramid_io.open_multiscale(src, import_format)
    if scales is not None:
        return pyramid_io.import_pyramid(dt, ctx, src, import_format, scales, settings)
    try:
        vol = ts.open(volume_specs.open_existing(src, import_format)).result()
    except Exception as e:  # TensorStore reports missing or malformed volumes as its own errors
        raise BadRequest(f"cannot open {import_format} volume {src!r}: {str(e).splitlines()[0]}") from None
    vt = dt.vt
    if np.dtype(vol.dtype.numpy_dtype) != np.dtype(vt.dtype):
        raise BadRequest(f"volume of {vol.dtype.name} does not fit {dt.name} voxels ({vt.dtype})")
    if import_format == "zarr3":
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
    nch_src = (vol.shape[3] if vol.rank == 4 else 1) if import_format == "zarr3" else int(vol.shape[3])
    if nch_src != vt.channels:
        raise BadRequest(f"volume has {nch_src} channel(s) but {dt.name} voxels have {vt.channels}")
    if "offset" in settings:
        origin = list(parse_xyz(settings["offset"], "offset"))
    layout = dt.layout(ctx.instance)
    bz = layout.block_size[2]

    def work(job: Job) -> str:
        slabs = list(volume_specs.slabs(origin[2], origin[2] + size[2] - 1, bz))
        job.set_totals(files=len(slabs), unit="slab")
        for z0, z1 in slabs:
            rz0, rz1 = z0 - origin[2], z1 - origin[2]
            if import_format == "zarr3":
                arr = vol[rz0:rz1].read().result()
            else:
                m = inclusive_min
                xyz = vol[m[0] : m[0] + size[0], m[1] : m[1] + size[1], m[2] + rz0 : m[2] + rz1].read().result()
                arr = np.moveaxis(xyz, (0, 1, 2), (2, 1, 0))
                if layout.channels == 1:
                    arr = arr[..., 0]
            n = write_region(ctx.view, layout, np.ascontiguousarray(arr), (origin[0], origin[1], z0))
            job.advance(files=1, blocks=n)
        new = ext.grown(ctx.view, ctx.instance, origin, [o + s - 1 for o, s in zip(origin, size, strict=True)])
        if new:
            ctx.view.put(ext.EXTENTS_TKEY, new)
        return f"imported {'x'.join(map(str, size))} voxels from {src} into {ctx.instance.name} @ {ctx.uuid}"

    job = ctx.start_job(f"import {src} format={import_format}", work)
    return f'Importing {src} ({import_format}) into data instance "{ctx.instance.name}" @ node {ctx.uuid} (job {job.id})'
