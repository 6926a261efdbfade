"""The roi DataType: settings, info JSON and dispatch."""

from __future__ import annotations

from importlib import resources
from typing import Any

from dvid.datastore.instance import Instance
from dvid.datastore.settings import string_setting
from dvid.datastore.view import VersionedView
from dvid.datatypes.base import DataType
from dvid.datatypes.roi.endpoints import ROUTES
from dvid.errors import BadRequest
from dvid.limits import INT32_MAX, INT32_MIN


def _parse_int32(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 32)`` with its error texts, which DVID passes through."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise BadRequest(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not INT32_MIN <= value <= INT32_MAX:
        raise BadRequest(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


class RoiType(DataType):
    routes = ROUTES
    name = "roi"
    url = "github.com/janelia-flyem/dvid/datatype/roi"
    version = "0.1"
    settings = ("BlockSize",)

    def help(self) -> str:
        return resources.files("dvid.datatypes.roi").joinpath("help.txt").read_text()

    def init_props(self, settings: dict[str, Any]) -> dict[str, Any]:
        bs = [32, 32, 32]
        v = string_setting(settings, "blocksize", "BlockSize")
        if v is not None:
            parts = v.split(",")
            if len(parts) == 1:
                raise BadRequest(f"cannot convert '{v}' into a Point.")
            if len(parts) != 3:
                raise BadRequest(f"BlockSize must be 3d, not {len(parts)}d")
            bs = [_parse_int32(p.strip()) for p in parts]
            if any(b <= 0 for b in bs):
                raise BadRequest(f"BlockSize must be positive, got '{v}'")
        return {"BlockSize": bs, "MinZ": INT32_MAX, "MaxZ": INT32_MIN}

    def info(self, instance: Instance, view: VersionedView | None) -> dict[str, Any]:
        p = instance.props
        return {"Base": instance.base_json(self.url, self.version),
                "Extended": {"BlockSize": list(p["BlockSize"]), "MinZ": p["MinZ"], "MaxZ": p["MaxZ"]}}
