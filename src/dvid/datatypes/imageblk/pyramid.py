"""The scale pyramid of an image instance: ``<name>_1 … <name>_N``, kept per version.

Each level is an ordinary instance of the same type, block size and compression (so every read
endpoint, and neuroglancer's ``<name>_L`` convention, works on it), with the voxel size scaled by
its factors and extents derived from level 0. The level-0 instance keeps the pyramid's settings in
its ``Pyramid`` property; each level is marked ``PyramidOf`` so a pyramid never overwrites an
instance it did not make. Per version, a state key on level 0 records what the last update saw
(factors, method, level-0 extents, counts), and change records (``changes``) say exactly which
level-0 blocks were written since. An update recomputes only what those touch; a child version
inherits its parent's levels and state, and its own updates write only at the child.

Methods: ``mean`` (default for uint8/rgba8/uint16/float32) and ``mode`` (default for
uint32/uint64, which usually hold labels; ``mean`` is still available for them, exact).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid.datastore import keys
from dvid.datastore.instance import Instance
from dvid.datastore.jobs import Job
from dvid.datastore.lease import Lease
from dvid.datatypes.base import InstanceContext
from dvid.datatypes.imageblk import changes
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.downsample import Triple, level_extents, plan_factors
from dvid.datatypes.imageblk.props import block_size
from dvid.datatypes.imageblk.pyramid_build import (
    Level,
    LevelBuilder,
    LevelStats,
    Pending,
    edge_blocks,
    parents,
)
from dvid.errors import BadRequest

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

STATE_TKEY = keys.tkey(0x31)
MAX_LEVELS = 32
LEASE_WAIT = 600.0  # seconds an explicit update waits for a running one


@dataclass
class Options:
    """What a ``pyramid`` command asks for (None: keep the instance's setting or the default)."""

    levels: int | None = None  # None: until one block
    levels_given: bool = False
    factors: list[Triple] | None = None
    method: str | None = None
    auto: bool | None = None
    full: bool = False
    overwrite: bool = False
    debounce: float | None = None


@dataclass
class Config:
    """The ``Pyramid`` property of a level-0 instance."""

    levels: int | None
    factors: list[Triple] | None  # as requested; None = near-isotropic
    method: str
    auto: bool = False
    debounce: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"levels": self.levels, "factors": [list(f) for f in self.factors] if self.factors else None,
                "method": self.method, "auto": self.auto, "debounce": self.debounce}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Config:
        fs = d.get("factors")
        return cls(d.get("levels"), [tuple(f) for f in fs] if fs else None, d.get("method", "mean"),  # type: ignore[misc]
                   bool(d.get("auto", False)), float(d.get("debounce", 1.0)))


def default_method(dt: ImageBlkType) -> str:
    return "mode" if dt.vt.dtype in ("uint32", "uint64") else "mean"


def config_of(inst: Instance) -> Config | None:
    d = inst.props.get("Pyramid")
    return Config.from_json(d) if d else None


def merged_config(dt: ImageBlkType, inst: Instance, opts: Options) -> Config:
    cur = config_of(inst)
    method = opts.method or (cur.method if cur else default_method(dt))
    if method == "mode" and dt.vt.dtype == "float32":
        raise BadRequest("method=mode is for integer voxels (labels); float32 volumes use method=mean")
    return Config(
        levels=opts.levels if opts.levels_given else (cur.levels if cur else None),
        factors=opts.factors if opts.factors is not None else (cur.factors if cur else None),
        method=method,
        auto=opts.auto if opts.auto is not None else (cur.auto if cur else False),
        debounce=opts.debounce if opts.debounce is not None else (cur.debounce if cur else 1.0),
    )


def level_name(name: str, k: int) -> str:
    return f"{name}_{k}"


def plan(cfg: Config, inst: Instance, extents: tuple[list[int], list[int]], built: int = 0) -> list[Triple]:
    """Per-level factors for the instance's current extents. With ``levels=auto`` a pyramid has at
    least one level and never fewer than the ``built`` levels it already has."""
    lo, hi = extents
    n = cfg.levels
    fs = plan_factors(lo, hi, block_size(inst), inst.props["VoxelSize"], n, cfg.factors, MAX_LEVELS)
    if n is None and len(fs) < max(1, built):
        fs = plan_factors(lo, hi, block_size(inst), inst.props["VoxelSize"], max(1, built), cfg.factors, MAX_LEVELS)
    return fs


def built_levels(state: dict[str, Any] | None) -> int:
    return len(state.get("factors", [])) if state else 0


def cumulative(fs: list[Triple]) -> list[Triple]:
    out, c = [], (1, 1, 1)
    for f in fs:
        c = (c[0] * f[0], c[1] * f[1], c[2] * f[2])
        out.append(c)
    return out


def derived_extents(lo: list[int], hi: list[int], fs: list[Triple]) -> list[tuple[list[int], list[int]]]:
    """Extents of levels 0..N from level 0's."""
    out = [(list(lo), list(hi))]
    for f in fs:
        out.append(level_extents(*out[-1], f))
    return out


# ----------------------------------------------------------------------------- level instances
def ensure_levels(dt: ImageBlkType, ctx: InstanceContext, fs: list[Triple], overwrite: bool) -> list[Instance]:
    """Create or check ``<name>_1 … <name>_N``; returns their instances."""
    inst = ctx.instance
    vs = [float(v) for v in inst.props["VoxelSize"]]
    out = []
    for k, c in enumerate(cumulative(fs), start=1):
        name = level_name(inst.name, k)
        want_vs = [v * m for v, m in zip(vs, c, strict=True)]
        try:
            lvl, _ = ctx.other_instance(name)
        except BadRequest:
            lvl = ctx.create_instance(inst.typename, name, {
                "blocksize": ",".join(map(str, block_size(inst))),
                "voxelsize": ",".join(repr(v) for v in want_vs),
                "voxelunits": ",".join(inst.props["VoxelUnits"]),
                "compression": inst.compression, "checksum": inst.checksum,
                "versioned": "true" if inst.versioned else "false",
                "background": str(inst.props.get("Background", 0)),
            })
        else:
            _check_level(inst, lvl, name, overwrite)
        mark = {"Source": inst.name, "Level": k, "Factors": list(c)}
        if lvl.props.get("PyramidOf") != mark or lvl.props["VoxelSize"] != want_vs or lvl.props.get("ScaleLevel") != k:
            lvl.props["PyramidOf"] = mark
            lvl.props["VoxelSize"] = want_vs
            lvl.props["ScaleLevel"] = k
            ctx.save_instance(lvl)
        out.append(lvl)
    return out


def _check_level(inst: Instance, lvl: Instance, name: str, overwrite: bool) -> None:
    if lvl.typename != inst.typename or list(block_size(lvl)) != list(block_size(inst)):
        raise BadRequest(f'instance "{name}" exists as {lvl.typename} with block size {block_size(lvl)}, not '
                         f"{inst.typename} with {block_size(inst)}: delete or rename it first")
    if lvl.props.get("GridStore"):
        raise BadRequest(f'instance "{name}" is a GridStore proxy and cannot hold computed levels')
    mark = lvl.props.get("PyramidOf")
    if (mark is None or mark.get("Source") != inst.name) and not overwrite:
        raise BadRequest(f'instance "{name}" exists and was not made by this pyramid; delete or rename it, '
                         "or pass overwrite=true to recompute it from level 0")


def existing_levels(ctx: InstanceContext) -> list[tuple[Instance, Any]]:
    """The ``<name>_k`` instances that exist, from k=1 up to the first gap."""
    out = []
    k = 1
    while True:
        try:
            out.append(ctx.other_instance(level_name(ctx.instance.name, k)))
        except BadRequest:
            return out
        k += 1


# ------------------------------------------------------------------------------------ the update
@dataclass
class UpdateResult:
    levels: list[LevelStats] = field(default_factory=list)
    changes: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"levels": [s.summary() for s in self.levels], "changes": self.changes,
                "seconds": round(self.seconds, 3)}

    def text(self) -> str:
        parts = [f"level {s.level} ({s.mode}): {s.computed} computed, {s.written} written, {s.deleted} deleted"
                 for s in self.levels]
        return "; ".join(parts) or "nothing to do"


def read_state(view) -> dict[str, Any] | None:
    raw = view.get(STATE_TKEY)
    return json.loads(bytes(raw)) if raw else None


def lease_for(ctx: InstanceContext) -> Lease:
    return Lease(ctx.view.store, f"pyramid:{ctx.instance.instance_id}:{ctx.version}")


def update(dt: ImageBlkType, ctx: InstanceContext, cfg: Config, *, full: bool = False, overwrite: bool = False,
           job: Job | None = None, lease: Lease | None = None) -> UpdateResult:
    """Bring the pyramid at ctx's version up to date. With ``lease`` (held by the caller) it is
    renewed as the work goes on and released in the final commit."""
    t0 = time.monotonic()
    inst = ctx.instance
    view0 = ctx.view
    pend = changes.pending(view0)  # before any voxel is read: every block they name is stored
    e = ext.read_extents(view0, inst)
    if e is None:
        raise BadRequest(f'data instance "{inst.name}" has no data (no extents) at node {ctx.uuid}: nothing to downsample')
    state = read_state(view0)
    fs = plan(cfg, inst, e, built_levels(state))
    lvl_insts = ensure_levels(dt, ctx, fs, overwrite)
    full_from = _first_full_level(state, cfg, fs, full)
    exts = derived_extents(e[0], e[1], fs)
    old_exts = derived_extents(*state["extents"], fs) if state and state.get("extents") else None
    bs = block_size(inst)
    layout = dt.layout(inst)
    levels = [Level(inst, view0, *exts[0])]
    for k, li in enumerate(lvl_insts, start=1):
        _, v = ctx.other_instance(li.name)
        levels.append(Level(li, v, *exts[k], factors=fs[k - 1]))
    res = UpdateResult(changes=len(pend))
    if job is not None:
        job.set_totals(files=len(fs), unit="level", blocks=_estimate(pend, exts, bs, full_from))
    changed: list[np.ndarray] = [c.coords for c in pend]
    pending = Pending()
    heartbeat = lease.renew if lease is not None else (lambda: None)
    for k in range(1, len(levels)):
        stats = LevelStats(level=k)
        b = LevelBuilder(levels[k - 1], levels[k], layout, cfg.method, pending,
                         progress=(lambda n: job.advance(blocks=n)) if job is not None else (lambda n: None),
                         keep_changed=k + 1 < full_from, heartbeat=heartbeat)
        if k >= full_from:
            b.full(stats)
        else:
            dirty = parents(changed, fs[k - 1])
            edges = edge_blocks(old_exts[k - 1] if old_exts else None, exts[k - 1], fs[k - 1],
                                exts[k][0], exts[k][1], bs)
            b.incremental(np.concatenate([dirty, edges]) if len(edges) else dirty, stats)
        pending.add(levels[k].view, _extents_put(levels[k], exts[k]))
        changed = stats.changed
        res.levels.append(stats)
        if job is not None:
            job.advance(files=1)
    for lv in levels[1:]:
        changes.clear(lv.view)  # direct writes into a level are overwritten by derived data anyway
    res.seconds = time.monotonic() - t0
    state = json.dumps({
        "factors": [list(f) for f in fs], "method": cfg.method, "extents": [e[0], e[1]],
        "updated": datetime.now(UTC).astimezone().isoformat(), "last": res.summary(),
    }).encode()
    own, inherited = changes.split(view0, pend)
    pending.add(view0, [(STATE_TKEY, state)], deletes=inherited, forget=own)  # done and recorded as done
    ops = pending.shared_ops() if lease is not None else None
    if ops is not None:
        lease.release_with(*ops)  # type: ignore[union-attr]  # last levels, state, records, lease: one commit
        pending.clear()
    else:
        pending.flush()
    return res


def mark_current(ctx: InstanceContext, cfg: Config, fs: list[Triple]) -> None:
    """Record that the levels at ctx's version reflect level 0 as it is now (an imported pyramid)."""
    e = ext.read_extents(ctx.view, ctx.instance)
    if e is None:
        return
    ctx.view.put(STATE_TKEY, json.dumps({
        "factors": [list(f) for f in fs], "method": cfg.method, "extents": [e[0], e[1]],
        "updated": datetime.now(UTC).astimezone().isoformat(), "last": {"levels": [], "imported": True},
    }).encode())


def _first_full_level(state: dict[str, Any] | None, cfg: Config, fs: list[Triple], full: bool) -> int:
    """The lowest level that must be rebuilt in full (levels above it follow); len+1 if none."""
    if full or state is None or state.get("method") != cfg.method:
        return 1
    old = [tuple(f) for f in state.get("factors", [])]
    for k, f in enumerate(fs, start=1):
        if k > len(old) or old[k - 1] != f:
            return k
    return len(fs) + 1


def _estimate(pend: list[changes.Change], exts, bs: Triple, full_from: int) -> int:
    n = 0
    for k in range(1, len(exts)):
        lo, hi = exts[k]
        nblk = int(np.prod([h // b - lo_ // b + 1 for lo_, h, b in zip(lo, hi, bs, strict=True)]))
        if k >= full_from:
            n += nblk
        else:
            n += min(nblk, sum(len(c.coords) for c in pend))
    return n


def _extents_put(level: Level, e: tuple[list[int], list[int]]) -> list[tuple[bytes, bytes]]:
    """The level's extents key if it must change."""
    raw = level.view.get(ext.EXTENTS_TKEY)
    if raw is None or ext.read_extents(level.view, level.instance) != (list(e[0]), list(e[1])):
        return [(ext.EXTENTS_TKEY, ext.encode_extents(*e))]
    return []


# ----------------------------------------------------------------------------------------- status
def status(dt: ImageBlkType, ctx: InstanceContext) -> dict[str, Any]:
    """Whether the pyramid at ctx's version reflects level 0, and what it holds."""
    inst = ctx.instance
    cfg = config_of(inst)
    levels = existing_levels(ctx)
    e = ext.read_extents(ctx.view, inst)
    n_rec, n_blk = changes.count_pending(ctx.view)
    state = read_state(ctx.view)
    out: dict[str, Any] = {
        "Name": inst.name,
        "Configured": cfg is not None,
        "Method": cfg.method if cfg else default_method(dt),
        "Auto": bool(cfg and cfg.auto),
        "Levels": [{"Name": li.name, "Level": k, "VoxelSize": li.props["VoxelSize"],
                    "Factors": (li.props.get("PyramidOf") or {}).get("Factors"),
                    "GridStore": li.props.get("GridStore") or None,
                    "Extents": ext.read_extents(v, li)} for k, (li, v) in enumerate(levels, start=1)],
        "PendingChanges": n_rec,
        "PendingBlocks": n_blk,
        "Updating": lease_for(ctx).holder_active(),
        "LastUpdate": state,
    }
    if inst.props.get("GridStore"):
        out["Current"] = True  # precomputed scales are served as they are
        return out
    current = cfg is not None and state is not None and n_rec == 0 and e is not None
    if current:
        fs = plan(cfg, inst, e, built_levels(state))  # type: ignore[arg-type]
        current = (state["extents"] == [e[0], e[1]] and [list(f) for f in fs] == state["factors"]
                   and state["method"] == cfg.method and len(levels) >= len(fs))  # type: ignore[union-attr]
    out["Current"] = bool(current)
    return out
