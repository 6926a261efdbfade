"""The imageblk DataType: registration, settings, instance JSON and request dispatch."""

from __future__ import annotations

from importlib import resources
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.view import VersionedView
from dvid.datatypes.base import DataType, InstanceContext, Request, Response
from dvid.datatypes.imageblk import commands, endpoints, pyramid_api, pyramid_auto
from dvid.datatypes.imageblk import extents as ext
from dvid.datatypes.imageblk.props import SETTINGS, VoxelType, extended_json, init_props
from dvid.errors import BadRequest


class ImageBlkType(DataType):
    settings = SETTINGS

    def __init__(self, vt: VoxelType) -> None:
        self.vt = vt
        self.name = vt.name
        self.url = vt.url
        self.version = vt.version

    def help(self) -> str:
        text = resources.files("dvid.datatypes.imageblk").joinpath("help.txt").read_text()
        return text.format(typename=self.name, blocksize=32, res="8.000000", bpv=self.vt.bytes_per_voxel)

    def init_props(self, settings: dict[str, Any]) -> dict[str, Any]:
        return init_props(settings, self.vt)

    def info(self, instance: Instance, view: VersionedView | None) -> dict[str, Any]:
        e = ext.read_extents(view, instance)
        return {
            "Base": instance.base_json(self.url, self.version),
            "Extended": extended_json(self.vt, instance, e),
            "Extents": {"MinPoint": e[0] if e else None, "MaxPoint": e[1] if e else None},
        }

    def streams_body(self, method: str, keyword: str) -> bool:
        return method == "POST" and keyword == "raw"  # block-aligned 3-d writes encode as they arrive

    def handle(self, ctx: InstanceContext, req: Request) -> Response:
        if req.method not in ("GET", "POST"):
            raise BadRequest(f'Data "{ctx.instance.name}" can only handle GET or POST HTTP verbs')
        endpoints.check_attenuation(req)
        if ctx.instance.props.get("GridStore") and req.method == "POST" and req.keyword in endpoints.WRITES:
            raise BadRequest(f'data instance "{ctx.instance.name}" is a read-only GridStore proxy')
        if req.keyword == "pyramid":
            return pyramid_api.http(self, ctx, req)
        if "scale" in req.query and req.keyword in pyramid_api.SCALED_KEYWORDS:
            ctx = pyramid_api.scaled(ctx, req)  # ?scale=N reads level N: <name>_N
        handler = endpoints.ROUTES.get(req.keyword)
        if handler is None:
            raise BadRequest(f'Bad API call ({req.path}) for data "{ctx.instance.name}".  '
                             f"See API help at http://{ctx.host}/api/help/{self.name}")
        resp = handler(self, ctx, req)
        if req.method == "POST" and req.keyword in ("raw", "blocks"):
            pyramid_auto.after_write(self, ctx)  # O(1): an auto pyramid updates in the background
        return resp

    def command(self, ctx: InstanceContext, args: list[str], settings: dict[str, str]) -> str:
        return commands.run(self, ctx, args, settings)
