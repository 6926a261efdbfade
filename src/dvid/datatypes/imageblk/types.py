"""The imageblk DataType: registration, settings, instance JSON, and what every request shares
(its voxel source, checks made before routing). Endpoints are the route table in ``routes.py``."""

from __future__ import annotations

from importlib import resources
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView
from dvid.datatypes.base import DataType, InstanceContext, Planned, Request
from dvid.datatypes.imageblk import commands, pyramid_api
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.masking import check_attenuation
from dvid.datatypes.imageblk.props import SETTINGS, VoxelType, extended_json, init_props
from dvid.datatypes.imageblk.routes import ROUTES
from dvid.datatypes.imageblk.source import StoredBlocks, VolumeBlocks, VoxelSource
from dvid.errors import BadRequest
from dvid.routing import Route


class ImageBlkType(DataType):
    settings = SETTINGS
    routes = ROUTES

    def __init__(self, vt: VoxelType) -> None:
        self.vt = vt
        self.name = vt.name
        self.url = vt.url
        self.version = vt.version

    def help(self) -> str:
        text = resources.files("dvid.datatypes.imageblk").joinpath("help.txt").read_text()
        return text.format(typename=self.name, blocksize=32, res="8.000000", bpv=self.vt.bytes_per_voxel)

    def init_props(self, settings: dict[str, Any]) -> dict[str, Any]:
        return init_props(settings, self.vt, self.env)

    def info(self, instance: Instance, view: VersionedView | None) -> dict[str, Any]:
        e = ext.read_extents(view, instance)
        return {
            "Base": instance.base_json(self.url, self.version),
            "Extended": extended_json(self.vt, instance, e),
            "Extents": {"MinPoint": e[0] if e else None, "MaxPoint": e[1] if e else None},
        }

    def layout(self, instance: Instance) -> Layout:
        return Layout.of(instance, self.vt)

    def source(self, ctx: InstanceContext) -> VoxelSource:
        """The instance's voxels: its stored blocks, or the GridStore volume it proxies."""
        alias = ctx.instance.props.get("GridStore")
        if not alias:
            view = ctx.view
            if type(view) is not VersionedView:  # an index view is made per request
                return StoredBlocks(view, self.layout(ctx.instance))
            # the view is the generation's own (``Datastore.view``), so is the source made from it
            return ctx.cached(("imageblk.source", id(view)), lambda: StoredBlocks(view, self.layout(ctx.instance)))
        lay = self.layout(ctx.instance)
        if self.env is None:
            raise BadRequest(f'GridStore "{alias}" is not available outside a server')
        return VolumeBlocks(self.env.volume(alias, int(ctx.instance.props.get("ScaleLevel", 0))), lay)

    def before(self, ctx: InstanceContext, req: Request) -> None:
        if req.method not in ("GET", "POST"):
            raise BadRequest(f'Data "{ctx.instance.name}" can only handle GET or POST HTTP verbs')
        check_attenuation(req)

    def make_call(self, ctx: InstanceContext, req: Request, route: Route) -> Call:
        return Call(self, ctx, req, self.source(ctx))

    def plan(self, ctx: InstanceContext, req: Request) -> Planned:
        if "scale" in req.query and req.keyword in pyramid_api.SCALED_KEYWORDS:
            ctx = pyramid_api.scaled(ctx, req)  # ?scale=N reads level N: <name>_N
        return super().plan(ctx, req)

    def command(self, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
        return commands.run(self, ctx, args, settings)
