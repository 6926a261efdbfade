"""Export and import of a whole pyramid: ``<name>`` and ``<name>_1 … <name>_N`` as one multi-scale
volume, through TensorStore.

* ``format=precomputed``: one neuroglancer-precomputed volume whose ``scales`` are the levels
  (resolution = each level's VoxelSize, voxel_offset/size = its extents, chunks = its blocks).
* ``format=zarr3``: an OME-Zarr (NGFF 0.5) multiscale group: arrays ``0``, ``1``, … ([z, y, x],
  or [c, z, y, x] for rgba8, the channel axis first as NGFF requires), each with a ``scale`` and a
  ``translation`` (the level's first voxel × its voxel size, the corner convention of
  precomputed) and the attribute ``dvid_offset`` ([x, y, z]) that import uses.

``import`` of such a volume writes scale 0 into ``<name>`` and scale k into ``<name>_k`` (created
like the instance if missing). When the scales are a pyramid this server could have built
(integer factors, extents derived from level 0), they are adopted as ``<name>``'s pyramid: marked,
and current at this version, so later updates recompute only what is written afterwards.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid import volume_specs
from dvid.datastore.instance import Instance
from dvid.datastore.jobs import Job
from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk import pyramid as pyr
from dvid.datatypes.imageblk.downsample import Triple
from dvid.datatypes.imageblk.ingest import write_region
from dvid.datatypes.imageblk.props import block_size
from dvid.datatypes.imageblk.source import gather_layout
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.volume_specs import slabs as _slabs

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.layout import Layout
    from dvid.datatypes.imageblk.types import ImageBlkType

_UNITS = {"nanometers": "nanometer", "nanometer": "nanometer", "nm": "nanometer", "micrometers": "micrometer",
          "micrometer": "micrometer", "microns": "micrometer", "micron": "micrometer", "um": "micrometer",
          "millimeters": "millimeter", "millimeter": "millimeter", "mm": "millimeter", "picometers": "picometer",
          "picometer": "picometer", "angstroms": "angstrom", "angstrom": "angstrom", "meters": "meter",
          "meter": "meter"}


# ------------------------------------------------------------------------------------------ export
def levels_to_export(ctx: InstanceContext) -> list[tuple[Instance, Any, tuple[list[int], list[int]]]]:
    """Level 0 and the ``<name>_k`` levels of the same type with extents at this version."""
    out = []
    e0 = ext.read_extents(ctx.view, ctx.instance)
    if e0 is None:
        return out
    out.append((ctx.instance, ctx.view, e0))
    for inst, view in pyr.existing_levels(ctx):
        e = ext.read_extents(view, inst)
        if inst.typename != ctx.instance.typename or e is None:
            break
        out.append((inst, view, e))
    return out


def export_pyramid(dt: ImageBlkType, ctx: InstanceContext, dest: str, export_format: str, levels,
                   encoding: str = "raw", jpeg_quality: int | None = None) -> str:
    """Every level as one scale of ``dest``; precomputed chunks in ``encoding`` (``raw``/``jpeg``,
    chosen and checked by ``export.encoding_of``) for every scale alike."""
    import tensorstore as ts

    vt = dt.vt
    nch = vt.channels
    specs = []
    for k, (inst, _, (lo, hi)) in enumerate(levels):
        size = [h - a + 1 for a, h in zip(lo, hi, strict=True)]
        bs = list(block_size(inst))
        vs = [float(v) for v in inst.props["VoxelSize"]]
        if export_format == "precomputed":
            spec = volume_specs.precomputed_scale_create(
                dest, first=k == 0, dtype=vt.dtype, channels=nch, size=size, offset=lo, chunk=bs, resolution=vs,
                encoding=encoding, jpeg_quality=jpeg_quality)
        else:
            lead = [nch] if nch > 1 else []
            spec = volume_specs.zarr3_member_create(
                dest, str(k), dtype=vt.dtype, shape=lead + [size[2], size[1], size[0]],
                chunk=lead + [bs[2], bs[1], bs[0]], dimension_names=(["c"] if nch > 1 else []) + ["z", "y", "x"],
                attributes={"dvid_offset": lo, "dvid_instance": inst.name, "voxel_size": vs})
        specs.append(spec)

    def work(job: Job) -> str:
        if export_format == "zarr3":
            _write_group(ts, dest, ctx, levels, nch)
        slabs = [list(_slabs(lo[2], hi[2], block_size(inst)[2])) for inst, _, (lo, hi) in levels]
        job.set_totals(files=sum(len(s) for s in slabs), unit="slab")
        for (inst, view, (lo, hi)), spec, zs in zip(levels, specs, slabs, strict=True):
            out = ts.open(spec).result()
            layout = dt.layout(inst)
            for z0, z1 in zs:
                box = Box((lo[0], lo[1], z0), (hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, z1 - z0))
                vol = gather_layout(view, box, layout)
                if export_format == "zarr3":
                    if nch > 1:
                        out[:, z0 - lo[2] : z1 - lo[2]].write(np.moveaxis(vol, 3, 0)).result()
                    else:
                        out[z0 - lo[2] : z1 - lo[2]].write(vol).result()
                else:
                    xyz = np.moveaxis(vol if nch > 1 else vol[..., None], (0, 1, 2), (2, 1, 0))
                    out[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, z0:z1].write(xyz).result()
                job.advance(files=1)
        names = ", ".join(inst.name for inst, _, _ in levels)
        return f"exported {names} @ {ctx.uuid} to {dest} as a {len(levels)}-scale {export_format} volume"

    job = ctx.start_job(f"export {dest} format={export_format} ({len(levels)} scales)", work)
    return (f'Exporting data instance "{ctx.instance.name}" and {len(levels) - 1} pyramid level(s) @ node '
            f"{ctx.uuid} to {dest} as {export_format} (job {job.id})")


def _write_group(ts, dest: str, ctx: InstanceContext, levels, nch: int) -> None:
    """The OME-Zarr group's ``zarr.json``."""
    units = [_UNITS.get(str(u).strip().lower()) for u in ctx.instance.props["VoxelUnits"]]
    axes = [{"name": "c", "type": "channel"}] if nch > 1 else []
    for name, unit in zip("zyx", units[::-1], strict=True):
        axes.append({"name": name, "type": "space", **({"unit": unit} if unit else {})})
    datasets = []
    for k, (inst, _, (lo, _hi)) in enumerate(levels):
        vs = [float(v) for v in inst.props["VoxelSize"]]
        scale = ([1.0] if nch > 1 else []) + vs[::-1]
        trans = ([0.0] if nch > 1 else []) + [float(a) * v for a, v in zip(lo[::-1], vs[::-1], strict=True)]
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": scale}, {"type": "translation", "translation": trans}]})
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {
        "ome": {"version": "0.5", "multiscales": [{"name": ctx.instance.name, "axes": axes, "datasets": datasets}]},
        "dvid_instance": ctx.instance.name, "dvid_version": ctx.uuid}}
    store = ts.KvStore.open(volume_specs.kvstore(dest, directory=True)).result()
    store.write("zarr.json", json.dumps(doc, indent=1).encode()).result()


# ------------------------------------------------------------------------------------------ import
def open_multiscale(src: str, import_format: str) -> list[dict[str, Any]] | None:
    """The scales of a multi-scale source as ``{"array", "origin", "size", "voxel_size", "channels_first"}``
    (arrays indexed as stored), or None if the source has a single scale."""
    import tensorstore as ts

    try:
        if import_format == "precomputed":
            raw = ts.KvStore.open(volume_specs.kvstore(src, directory=True)).result().read("info").result()
            info = json.loads(bytes(raw.value)) if raw.state == "value" else {}
            scales = info.get("scales", [])
            if len(scales) < 2:
                return None
            out = []
            for k, sc in enumerate(scales):
                arr = ts.open(volume_specs.precomputed_read(src, k)).result()
                out.append({"array": arr, "origin": list(sc.get("voxel_offset", [0, 0, 0])), "size": list(sc["size"]),
                            "voxel_size": [float(r) for r in sc["resolution"]], "layout": "xyzc"})
            return out
        raw = ts.KvStore.open(volume_specs.kvstore(src, directory=True)).result().read("zarr.json").result()
        doc = json.loads(bytes(raw.value)) if raw.state == "value" else {}
    except BadRequest:
        raise
    except Exception as e:  # TensorStore / JSON problems with the source itself
        raise BadRequest(f"cannot open {import_format} volume {src!r}: {str(e).splitlines()[0]}") from None
    if doc.get("node_type") != "group":
        return None
    attrs = doc.get("attributes", {})
    ms = (attrs.get("ome") or attrs).get("multiscales")
    if not ms:
        raise BadRequest(f"zarr group {src!r} has no OME-Zarr multiscales to import")
    out = []
    for d in ms[0]["datasets"]:
        try:
            arr = ts.open(volume_specs.zarr3_member_open(src, d["path"])).result()
        except Exception as e:  # a dataset the metadata names but the store lacks
            raise BadRequest(f"cannot open scale {d['path']!r} of {src!r}: {str(e).splitlines()[0]}") from None
        a = json.loads(json.dumps(arr.spec().to_json().get("metadata", {}).get("attributes", {})))
        names = list(arr.domain.labels)
        first_c = arr.rank == 4 and names[0] in ("c", "")
        zyx = arr.shape[1:] if first_c else arr.shape[:3]
        scale, trans = [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]
        for t in d.get("coordinateTransformations", []):
            if t.get("type") == "scale":
                scale = [float(v) for v in t["scale"][-3:]]
            if t.get("type") == "translation":
                trans = [float(v) for v in t["translation"][-3:]]
        vs = a.get("voxel_size") or scale[::-1]
        origin = a.get("dvid_offset") or [int(round(t / s)) for t, s in zip(trans[::-1], scale[::-1], strict=True)]
        out.append({"array": arr, "origin": list(origin), "size": [int(zyx[2]), int(zyx[1]), int(zyx[0])],
                    "voxel_size": [float(v) for v in vs], "layout": "czyx" if first_c else "zyxc"})
    return out


def import_pyramid(dt: ImageBlkType, ctx: InstanceContext, src: str, import_format: str,
                   scales: list[dict[str, Any]], settings: dict[str, str]) -> str:
    vt = dt.vt
    for k, sc in enumerate(scales):
        if np.dtype(sc["array"].dtype.numpy_dtype) != np.dtype(vt.dtype):
            raise BadRequest(f"scale {k} of {src} holds {sc['array'].dtype.name}, not {dt.name} voxels ({vt.dtype})")
        nch = int(sc["array"].shape[0 if sc["layout"] == "czyx" else -1]) if sc["array"].rank == 4 else 1
        if nch != vt.channels:
            raise BadRequest(f"scale {k} of {src} has {nch} channel(s) but {dt.name} voxels have {vt.channels}")
    if "offset" in settings:
        raise BadRequest("offset= applies to single-scale imports; a pyramid keeps its scales' own origins")
    inst = ctx.instance
    targets: list[Instance] = [inst]
    for k in range(1, len(scales)):
        name = pyr.level_name(inst.name, k)
        try:
            lvl, _ = ctx.other_instance(name)
        except BadRequest:
            lvl = ctx.create_instance(inst.typename, name, {
                "blocksize": ",".join(map(str, block_size(inst))),
                "voxelsize": ",".join(repr(v) for v in scales[k]["voxel_size"]),
                "voxelunits": ",".join(inst.props["VoxelUnits"]), "compression": inst.compression,
                "checksum": inst.checksum, "versioned": "true" if inst.versioned else "false"})
        else:
            if lvl.typename != inst.typename or list(block_size(lvl)) != list(block_size(inst)):
                raise BadRequest(f'instance "{name}" exists as {lvl.typename} with block size {block_size(lvl)}: '
                                 "it cannot take this scale")
        targets.append(lvl)
    adopt = _pyramid_factors(scales)
    layout0 = dt.layout(ctx.instance)

    def work(job: Job) -> str:
        bz = layout0.block_size[2]
        total = sum(len(list(_slabs(sc["origin"][2], sc["origin"][2] + sc["size"][2] - 1, bz)))
                    for sc in scales)
        job.set_totals(files=total, unit="slab")
        for k, (sc, lvl) in enumerate(zip(scales, targets, strict=True)):
            _, view = ctx.other_instance(lvl.name) if k else (inst, ctx.view)
            _import_scale(sc, view, lvl, layout0, record=adopt is None, job=job)
        if adopt is not None:
            _adopt(dt, ctx, adopt)
        names = ", ".join(t.name for t in targets)
        return f"imported {len(scales)} scales from {src} into {names} @ {ctx.uuid}"

    job = ctx.start_job(f"import {src} format={import_format} ({len(scales)} scales)", work)
    return (f'Importing {src} ({import_format}, {len(scales)} scales) into "{inst.name}" and its levels '
            f"@ node {ctx.uuid} (job {job.id})")


def _import_scale(sc: dict[str, Any], view, inst: Instance, layout0: Layout, *, record: bool,
                  job: Job) -> None:
    arr, origin, size = sc["array"], sc["origin"], sc["size"]
    layout = replace(layout0, block_size=block_size(inst))
    for z0, z1 in _slabs(origin[2], origin[2] + size[2] - 1, layout.block_size[2]):
        rz0, rz1 = z0 - origin[2], z1 - origin[2]
        if sc["layout"] == "xyzc":
            m = [int(arr.domain[i].inclusive_min) for i in range(3)]
            xyz = arr[m[0] : m[0] + size[0], m[1] : m[1] + size[1], m[2] + rz0 : m[2] + rz1].read().result()
            data = np.moveaxis(xyz, (0, 1, 2), (2, 1, 0))
            data = data[..., 0] if layout.channels == 1 else data
        elif sc["layout"] == "czyx":
            data = np.moveaxis(arr[:, rz0:rz1].read().result(), 0, 3)
        else:
            data = arr[rz0:rz1].read().result()
        n = write_region(view, layout, np.ascontiguousarray(data), (origin[0], origin[1], z0), record=record)
        job.advance(files=1, blocks=n)
    hi = [o + s - 1 for o, s in zip(origin, size, strict=True)]
    new = ext.grown(view, inst, origin, hi)
    if new:
        view.put(ext.EXTENTS_TKEY, new)


def _pyramid_factors(scales: list[dict[str, Any]]) -> list[Triple] | None:
    """Per-level factors if the scales are a pyramid this server could have built, else None."""
    fs: list[Triple] = []
    for prev, cur in zip(scales, scales[1:], strict=False):
        ratio = [c / p for c, p in zip(cur["voxel_size"], prev["voxel_size"], strict=True)]
        f = [int(round(r)) for r in ratio]
        if any(abs(r - k) > 1e-6 or k < 1 for r, k in zip(ratio, f, strict=True)) or f == [1, 1, 1]:
            return None
        fs.append((f[0], f[1], f[2]))
    lo = scales[0]["origin"]
    hi = [o + s - 1 for o, s in zip(lo, scales[0]["size"], strict=True)]
    for sc, (dlo, dhi) in zip(scales[1:], pyr.derived_extents(lo, hi, fs)[1:], strict=True):
        if sc["origin"] != dlo or [o + s - 1 for o, s in zip(sc["origin"], sc["size"], strict=True)] != dhi:
            return None
    return fs


def _adopt(dt: ImageBlkType, ctx: InstanceContext, fs: list[Triple]) -> None:
    """Make the imported scales ``<name>``'s pyramid, current at this version."""
    inst = ctx.instance
    cfg = pyr.config_of(inst) or pyr.Config(levels=len(fs), factors=None, method=pyr.default_method(dt))
    cfg.levels, cfg.factors = len(fs), list(fs)
    inst.props["Pyramid"] = cfg.to_json()
    ctx.save_instance()
    pyr.ensure_levels(dt, ctx, fs, overwrite=True)
    pyr.mark_current(ctx, cfg, fs)
