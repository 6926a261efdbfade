"""How users reach the pyramid: the ``pyramid`` command (CLI and ``POST .../<name>/pyramid``), its
status (``GET .../<name>/pyramid``), and ``?scale=N`` reads on level 0 redirected to ``<name>_N``.

Options (CLI ``key=value``, HTTP query or JSON body): ``levels=N|auto``, ``factors=2,2,1`` (every
level) or ``2,2,1/2,2,2`` (per level, the last repeating), ``method=mean|mode``, ``auto=true|false``
(keep the pyramid current after every write), ``full=true`` (rebuild every level), ``debounce=S``
(seconds of quiet before an automatic update), ``overwrite=true`` (take over existing
``<name>_k`` instances not made by a pyramid).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dvid.datastore.jobs import Job
from dvid.datatypes.base import InstanceContext, Request, Response
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk import pyramid as pyr
from dvid.datatypes.imageblk.downsample import METHODS, Triple
from dvid.errors import BadRequest

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType

#: read endpoints that accept ``?scale=N`` on level 0
SCALED_KEYWORDS = ("raw", "isotropic", "arb", "blocks", "specificblocks", "subvolblocks")
_KNOWN = ("levels", "factors", "method", "auto", "full", "overwrite", "debounce")


# ------------------------------------------------------------------------------------- options
def _bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("true", "1", "on", "yes"):
        return True
    if s in ("false", "0", "off", "no"):
        return False
    raise BadRequest(f"{name} must be true or false, not {v!r}")


def _factor_triple(v: Any) -> Triple:
    parts = v if isinstance(v, list) else str(v).split(",")
    try:
        f = [int(str(p).strip()) for p in parts]
    except ValueError:
        raise BadRequest(f"factors must be integers x,y,z, got {v!r}") from None
    if len(f) != 3 or any(not 1 <= k <= 64 for k in f) or f == [1, 1, 1]:
        raise BadRequest(f"factors must be 3 integers 1..64 per level (not all 1), got {v!r}")
    return f[0], f[1], f[2]


def _factors(v: Any) -> list[Triple]:
    if isinstance(v, list) and v and isinstance(v[0], list):
        return [_factor_triple(x) for x in v]
    if isinstance(v, list):
        return [_factor_triple(v)]
    return [_factor_triple(p) for p in str(v).replace(";", "/").split("/") if p.strip()]


def parse_options(settings: dict[str, Any]) -> pyr.Options:
    s = {str(k).lower(): v for k, v in settings.items()}
    unknown = sorted(set(s) - set(_KNOWN))
    if unknown:
        raise BadRequest(f"unknown pyramid option {unknown[0]!r}; options are {', '.join(_KNOWN)}")
    o = pyr.Options()
    if "levels" in s:
        o.levels_given = True
        if str(s["levels"]).lower() != "auto":
            try:
                o.levels = int(s["levels"])
            except (TypeError, ValueError):
                raise BadRequest(f"levels must be a number or auto, not {s['levels']!r}") from None
            if not 1 <= o.levels <= pyr.MAX_LEVELS:
                raise BadRequest(f"levels must be 1..{pyr.MAX_LEVELS} or auto, not {o.levels}")
    if "factors" in s:
        o.factors = _factors(s["factors"])
        if not o.factors:
            raise BadRequest("factors must name at least one level, e.g. factors=2,2,1")
    if "method" in s:
        o.method = str(s["method"]).lower()
        if o.method not in METHODS:
            raise BadRequest(f"method must be one of {', '.join(METHODS)}, not {s['method']!r}")
    if "auto" in s:
        o.auto = _bool(s["auto"], "auto")
    o.full = _bool(s.get("full", False), "full")
    o.overwrite = _bool(s.get("overwrite", False), "overwrite")
    if "debounce" in s:
        try:
            o.debounce = float(s["debounce"])
        except (TypeError, ValueError):
            raise BadRequest(f"debounce must be seconds, not {s['debounce']!r}") from None
        if not 0 <= o.debounce <= 3600:
            raise BadRequest("debounce must be 0..3600 seconds")
    return o


# ------------------------------------------------------------------------------------- command
def start(dt: ImageBlkType, ctx: InstanceContext, opts: pyr.Options) -> tuple[str, Job | None]:
    """Validate, create the level instances, save the settings and start the update job."""
    inst = ctx.instance
    if inst.props.get("GridStore"):
        return _grid_levels(dt, ctx), None
    e = ext.read_extents(ctx.view, inst)
    if e is None:
        raise BadRequest(f'data instance "{inst.name}" has no data (no extents) at node {ctx.uuid}: nothing to downsample')
    cfg = pyr.merged_config(dt, inst, opts)
    state = pyr.read_state(ctx.view)
    fs = pyr.plan(cfg, inst, e, pyr.built_levels(state))
    made = [li for li, _ in pyr.existing_levels(ctx) if (li.props.get("PyramidOf") or {}).get("Source") == inst.name]
    if len(made) > len(fs):
        raise BadRequest(f'"{inst.name}" already has {len(made)} pyramid levels; delete {made[len(fs)].name} and '
                         f"above first to keep only {len(fs)}")
    levels = pyr.ensure_levels(dt, ctx, fs, opts.overwrite)
    inst.props["Pyramid"] = cfg.to_json()
    ctx.save_instance()
    ctx.log_to_node("pyramid " + json.dumps(cfg.to_json(), separators=(",", ":")))

    def work(job: Job) -> str:
        lease = pyr.lease_for(ctx)
        if not lease.wait(pyr.LEASE_WAIT):
            raise BadRequest("another pyramid update of this version has been running for over 10 minutes")
        try:
            res = pyr.update(dt, ctx, cfg, full=opts.full, job=job, lease=lease)
        finally:
            lease.release()
        return f"pyramid of {inst.name} @ {ctx.uuid}: {res.text()}"

    job = ctx.start_job("pyramid " + " ".join(f"{k}={v}" for k, v in cfg.to_json().items() if v is not None), work)
    names = f"{levels[0].name}" + (f" … {levels[-1].name}" if len(levels) > 1 else "")
    return (f'Building the scale pyramid of "{inst.name}" @ node {ctx.uuid}: {names} '
            f"({cfg.method}, factors {'/'.join(','.join(map(str, f)) for f in fs)}) (job {job.id})"), job


def _grid_levels(dt: ImageBlkType, ctx: InstanceContext) -> str:
    """A GridStore volume's precomputed scales become ``<name>_k`` GridStore instances."""
    if dt.env is None:
        raise BadRequest("GridStore volumes are only available in a server")
    inst = ctx.instance
    alias, base = inst.props["GridStore"], int(inst.props.get("ScaleLevel", 0))
    made, names = [], []
    for k in range(1, dt.env.volume(alias, 0).scales - base):
        name = pyr.level_name(inst.name, k)
        names.append(name)
        try:
            lvl, _ = ctx.other_instance(name)
        except BadRequest:
            dt.env.volume(alias, base + k)
            ctx.create_instance(inst.typename, name, {"gridstore": alias, "scalelevel": str(base + k)})
            made.append(name)
            continue
        if lvl.props.get("GridStore") != alias or int(lvl.props.get("ScaleLevel", 0)) != base + k:
            raise BadRequest(f'instance "{name}" exists and is not scale {base + k} of GridStore "{alias}"')
    if not names:
        return f'GridStore "{alias}" has no scale below {base}: "{inst.name}" has no further levels'
    return (f'levels of "{inst.name}" from GridStore "{alias}": {", ".join(names)}'
            + (f" (created {', '.join(made)})" if made else " (all existed)"))


def command(dt: ImageBlkType, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
    if len(args) > 1:
        raise BadRequest(f"pyramid takes only key=value options, not {args[1]!r}: "
                         "pyramid [levels=N|auto] [factors=x,y,z] [method=mean|mode] [auto=true]")
    text, _ = start(dt, ctx, parse_options(settings))
    return text


#: DVID's text for ``pyramid/<anything>``: the endpoint has no path parameters
NO_PATH_ARGS = "pyramid takes no further path elements; options go in the query or a JSON body"


def get_status(dt: ImageBlkType, ctx: InstanceContext) -> Response:
    """``GET .../pyramid``: the pyramid's status as JSON."""
    return Response.json(json.dumps(pyr.status(dt, ctx), separators=(",", ":")))


def post_update(dt: ImageBlkType, ctx: InstanceContext, req: Request) -> Response:
    """``POST .../pyramid``: start an update, options as query parameters or a JSON object body."""
    opts: dict[str, Any] = {k: v for k, v in req.query.items() if k not in ("u", "app", "admintoken")}
    if len(req.body):
        try:
            doc = json.loads(bytes(req.body))
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"cannot parse JSON body: {str(e).splitlines()[0]}") from None
        if not isinstance(doc, dict):
            raise BadRequest("pyramid options must be a JSON object, e.g. {\"levels\": 3}")
        opts.update(doc)
    text, job = start(dt, ctx, parse_options(opts))
    return Response.json(json.dumps({"job": job.id if job else None, "text": text}))


# ------------------------------------------------------------------------------------- ?scale=N
class LevelContext:
    """``ctx`` seen through another instance of the repo (a level), for one redirected read."""

    def __init__(self, base: InstanceContext, instance, view) -> None:
        self._base = base
        self.instance = instance
        self.view = view
        self.uuid = base.uuid
        self.version = view.version
        self.host = base.host

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def save_instance(self, instance=None) -> None:
        self._base.save_instance(instance or self.instance)


def scaled(ctx: InstanceContext, req: Request) -> InstanceContext:
    """The context a read with ``?scale=N`` is served from: ``<name>_N`` (itself for N=0)."""
    raw = req.query.get("scale", "")
    try:
        n = int(raw)
    except ValueError:
        raise BadRequest(f"scale must be a level number 0..{pyr.MAX_LEVELS}, not {raw!r}") from None
    if not 0 <= n <= pyr.MAX_LEVELS:
        raise BadRequest(f"scale must be a level number 0..{pyr.MAX_LEVELS}, not {n}")
    if n == 0:
        return ctx
    if req.method != "GET":
        raise BadRequest("scale selects a level for reads only; write level 0 and let the pyramid follow")
    name = pyr.level_name(ctx.instance.name, n)
    try:
        inst, view = ctx.other_instance(name)
    except BadRequest:
        raise BadRequest(f'no scale level {n} of "{ctx.instance.name}": instance "{name}" does not exist '
                         f'(build it with: dvid node {ctx.uuid} {ctx.instance.name} pyramid)') from None
    if inst.typename != ctx.instance.typename:
        raise BadRequest(f'scale level "{name}" is a {inst.typename}, not a {ctx.instance.typename}')
    return LevelContext(ctx, inst, view)  # type: ignore[return-value]
