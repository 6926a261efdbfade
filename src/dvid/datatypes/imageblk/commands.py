"""imageblk commands (``dvid node <uuid> <name> ...``): load, put, and the foreground ROI.

Each runs as a server job with progress instead of DVID's fire-and-forget goroutine, and writes
atomic batches with proper read-modify-write (imageblk.md §7, Q8/Q9/Q15).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from dvid.codecs import block as blockcodec
from dvid.codecs.images import decode_image
from dvid.datastore import keys
from dvid.datastore.jobs import Job
from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import export, pyramid_api, pyramid_auto
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.ingest import (
    expand_globs,
    load_stack,
    plane_axes,
    slice_as_volume,
    to_voxels,
    write_region,
)
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.voxels import BLOCK_CLASS, block_coord
from dvid.datatypes.roi.spans import replace_spans, set_z_range
from dvid.errors import BadRequest, UnknownInstance
from dvid.geometry import parse_xyz

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

_RUNNING: set[tuple[int, int]] = set()
_RUNNING_LOCK = threading.Lock()


def run(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    cmd = args[0].lower() if args else ""
    if cmd == "load":
        return _load(dt, ctx, args)
    if cmd == "put":
        return _put(dt, ctx, args)
    if cmd == "roi":
        return _foreground_roi(dt, ctx, args)
    if cmd == "pyramid":
        return pyramid_api.command(dt, ctx, args, settings)
    if cmd in ("export", "import"):
        return export.export(dt, ctx, args, settings) if cmd == "export" else export.import_(dt, ctx, args, settings)
    raise BadRequest(f"Unknown command.  Data instance '{ctx.instance.name}' [{dt.name}] does not support "
                     f"'{cmd}' command.")


def _exclusive(ctx: InstanceContext):
    key = (ctx.instance.instance_id, ctx.version)
    with _RUNNING_LOCK:
        if key in _RUNNING:
            raise BadRequest(f'a load into "{ctx.instance.name}" @ node {ctx.uuid} is already running')
        _RUNNING.add(key)

    def release() -> None:
        with _RUNNING_LOCK:
            _RUNNING.discard(key)

    return release


def summary(verb: str, job: Job, total: int, what: str, where: str) -> str:
    """``loaded 6 of 9 files into g @ uuid; 3 failed: a.png, b.png, c.png`` (or all of them)."""
    failed = sorted({e["file"] for e in job.record()["errors"] if e.get("file")})
    if not failed:
        return f"{verb} {total} {what} into {where}"
    shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    return f"{verb} {total - len(failed)} of {total} {what} into {where}; {len(failed)} failed: {shown}"


def _grow_extents(ctx: InstanceContext, lo, hi) -> None:
    new = ext.grown(ctx.view, ctx.instance, list(lo), list(hi))
    if new:
        ctx.view.put(ext.EXTENTS_TKEY, new)


def _load(dt: ImageBlkType, ctx: InstanceContext, args: list[str]) -> str:
    if len(args) < 3:
        raise BadRequest("load needs an offset x,y,z and at least one file glob")
    offset = parse_xyz(args[1])
    files = expand_globs(args[2:], ctx.host.split(":")[0])
    layout = dt.layout(ctx.instance)
    release = _exclusive(ctx)
    ctx.log_to_node("load " + " ".join(args[1:]))

    block_bytes = layout.block_bytes

    def work(job: Job) -> str:
        try:
            job.set_totals(files=len(files))
            box = load_stack(ctx.view, layout, files, offset, decode_image,
                             on_progress=lambda f, b: job.advance(files=f, blocks=b, nbytes=b * block_bytes),
                             on_error=job.error)
            if box is not None:
                _grow_extents(ctx, *box)
                pyramid_auto.after_write(dt, ctx)
            return summary("loaded", job, len(files), "files", f"{ctx.instance.name} @ {ctx.uuid}")
        finally:
            release()

    ctx.start_job("load " + " ".join(args[1:]), work)
    return (f'Asynchronously loading {len(files)} files into data instance "{ctx.instance.name}" @ node '
            f"{ctx.uuid} (errors will be printed in server log) ...")


def _put(dt: ImageBlkType, ctx: InstanceContext, args: list[str]) -> str:
    if len(args) < 5:
        raise BadRequest("put needs: put local <plane> <x,y,z> <glob...>")
    where = args[1].lower()
    if where == "remote":
        raise BadRequest("put remote runs in the dvid command itself (it reads files on your machine); "
                         "use: dvid --http <server url> node <uuid> <name> put remote <plane> <x,y,z> <glob...>")
    if where != "local":
        raise BadRequest(f"put must be 'local' or 'remote', not '{args[1]}'")
    plane = args[2]
    plane_axes(plane)  # refuse an unknown plane before starting the job
    offset = list(parse_xyz(args[3]))
    files = expand_globs(args[4:], ctx.host.split(":")[0])
    layout = dt.layout(ctx.instance)
    release = _exclusive(ctx)
    ctx.log_to_node("put local " + " ".join(args[2:]))

    def work(job: Job) -> str:
        try:
            job.set_totals(files=len(files))
            lo = hi = None
            for k, path in enumerate(files):
                try:
                    with open(path, "rb") as f:
                        img = to_voxels(decode_image(f.read()), layout, path)
                except (OSError, BadRequest) as e:
                    job.error(path, str(e))
                    job.advance(files=1)
                    continue
                vol, normal = slice_as_volume(img, plane)
                off = list(offset)
                off[normal] += k
                n = write_region(ctx.view, layout, vol, off)
                job.advance(nbytes=vol.nbytes)
                end = [off[0] + vol.shape[2] - 1, off[1] + vol.shape[1] - 1, off[2] + vol.shape[0] - 1]
                lo = off if lo is None else [min(a, b) for a, b in zip(lo, off, strict=True)]
                hi = end if hi is None else [max(a, b) for a, b in zip(hi, end, strict=True)]
                job.advance(files=1, blocks=n)
            if lo is not None:
                _grow_extents(ctx, lo, hi)
                pyramid_auto.after_write(dt, ctx)
            return summary("put", job, len(files), "slices", f"{ctx.instance.name} @ {ctx.uuid}")
        finally:
            release()

    ctx.start_job("put local " + " ".join(args[2:]), work)
    return f'Writing {len(files)} {plane} slices into data instance "{ctx.instance.name}" @ node {ctx.uuid} ...'


def foreground_spans(view, layout: Layout, background: list[int], job: Job | None = None) -> np.ndarray:
    """Spans [z, y, x0, x1] of blocks holding any voxel not in ``background``, in key order."""
    bg = np.array(sorted(set(background)), np.uint8)
    lut = np.ones(256, bool)
    lut[bg] = False
    spans: list[list[int]] = []
    lo, hi = keys.tkey(BLOCK_CLASS), keys.tkey(BLOCK_CLASS + 1)
    n = 0
    for tk, val in view.scan(lo, hi):
        n += 1
        try:
            data = np.frombuffer(blockcodec.deserialize(val), np.uint8)
        except blockcodec.CodecError:
            continue
        if not lut[data].any():
            continue
        x, y, z = block_coord(tk)
        if spans and spans[-1][0] == z and spans[-1][1] == y and spans[-1][3] == x - 1:
            spans[-1][3] = x
        else:
            spans.append([z, y, x, x])
        if job is not None and n % 1000 == 0:
            job.advance(blocks=1000)
    if job is not None:
        job.advance(blocks=n % 1000)
    return np.array(spans, np.int32).reshape(-1, 4)


def _foreground_roi(dt: ImageBlkType, ctx: InstanceContext, args: list[str]) -> str:
    if len(args) < 3:
        raise BadRequest("Poorly formatted roi command. See command-line help.")
    if dt.vt.bytes_per_voxel != 1:
        raise BadRequest("Foreground ROI command only implemented for 1 byte/voxel data!")
    name = args[1]
    try:
        background = [int(v) & 0xFF for v in args[2].split(",")]
    except ValueError:
        raise BadRequest(f"background values must be comma-separated integers, got '{args[2]}'") from None
    try:
        roi_inst, roi_view = ctx.other_instance(name, typename="roi")
    except UnknownInstance:
        ctx.create_instance("roi", name, {})
        roi_inst, roi_view = ctx.other_instance(name, typename="roi")
    layout = dt.layout(ctx.instance)
    ctx.log_to_node("roi " + " ".join(args[1:]))
    def work(job: Job) -> str:
        spans = foreground_spans(ctx.view, layout, background, job)
        replace_spans(roi_view, spans)
        set_z_range(roi_inst, spans)
        ctx.save_instance(roi_inst)
        return f"ROI {name} has {len(spans)} spans of foreground blocks"

    ctx.start_job("roi " + " ".join(args[1:]), work)
    return (f'Started foreground ROI "{name}" of data instance "{ctx.instance.name}" @ node {ctx.uuid} '
            f"with background {','.join(str(b) for b in background)}")
