"""What an imageblk handler is given: the request, its instance context and the voxel source.

Handlers are plain functions ``handler(call, **route_params)`` (``routes.py``), so they read like
the endpoint's spec and can be called in a unit test on a memory-engine view without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvid.datatypes.base import Call as BaseCall
from dvid.datatypes.imageblk.layout import Layout
from dvid.datatypes.imageblk.source import VoxelSource
from dvid.errors import BadRequest
from dvid.limits import Limits

if TYPE_CHECKING:
    from dvid.datatypes.imageblk.types import ImageBlkType


@dataclass
class Call(BaseCall):
    dt: ImageBlkType
    src: VoxelSource

    @property
    def layout(self) -> Layout:
        return self.src.layout

    @property
    def limits(self) -> Limits:
        return self.ctx.limits

    def check_writable(self) -> None:
        """Handlers that change this instance's voxels or settings call this first."""
        if not self.src.writable:
            raise BadRequest(f'data instance "{self.ctx.instance.name}" is a read-only GridStore proxy')

    @property
    def throttled(self) -> bool:
        """``throttle=true|on``: the handler runs holding a throttle slot, so it never streams."""
        return self.req.query.get("throttle") in ("true", "on")
