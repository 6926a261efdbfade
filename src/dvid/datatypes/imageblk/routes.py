"""The imageblk route table (imageblk.md §1): method + path template -> handler, with DVID's texts
for requests too short to match and for methods an endpoint refuses."""

from __future__ import annotations

from dvid.converters import CONVERTERS
from dvid.datatypes.base import Response
from dvid.datatypes.imageblk import blocks, meta, pyramid_api, read, write
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.meta import refusal
from dvid.routing import Route, Router

NOT_2D = "DVID does not permit 2d mutations, only 3d block-aligned stores"


def pyramid_status(c: Call) -> Response:
    """``GET`` the scale pyramid's status (``pyramid_api``)."""
    return pyramid_api.get_status(c.dt, c.ctx)


def pyramid_update(c: Call) -> Response:
    """``POST`` starts a pyramid update (``pyramid_api``)."""
    return pyramid_api.post_update(c.dt, c.ctx, c.req)


ROUTES = Router([
    Route("*", "help", meta.help_),
    Route("GET", "info", meta.info, quick=True),
    Route("POST", "info", refusal("info endpoint only supports GET HTTP verb")),
    Route("GET", "metadata", meta.metadata),
    Route("POST", "metadata", meta.metadata),
    Route("POST", "extents", meta.post_extents),
    Route("GET", "extents", refusal("extents endpoint only supports POST HTTP verb")),
    Route("POST", "resolution", meta.post_resolution),
    Route("GET", "resolution", refusal("resolution endpoint only supports POST HTTP verb")),
    Route("*", "rawkey", meta.rawkey),

    Route("GET", "raw/{shape:plane}/{box:slice}[/{format:image}]", read.get_slice),
    Route("GET", "raw/{shape:volume}/{box:subvolume}[/{format}]", read.get_subvolume, throttleable=True),
    Route("POST", "raw/{shape:plane}/{box:slice}", refusal(NOT_2D)),
    Route("POST", "raw/{shape:volume}/{box:subvolume}[/{format}]", write.post_subvolume, streams_body=True),
    Route("GET", "isotropic/{shape:plane}/{box:slice}[/{format:image}]", read.get_isotropic_slice),
    Route("GET", "isotropic/{shape:volume}/{box:subvolume}[/{format}]", read.get_subvolume, throttleable=True),
    Route("POST", "isotropic/{shape:plane}/{box:slice}", refusal(NOT_2D)),
    Route("POST", "isotropic/{shape:volume}/{box:subvolume}", refusal("can only POST 'raw' not 'isotropic' images")),
    Route("GET", "arb/{tl:point3f}/{tr:point3f}/{bl:point3f}/{res:float}[/{format:image}]", read.get_arb,
          throttleable=True),
    Route("POST", "arb/{tl:point3f}/{tr:point3f}/{bl:point3f}/{res:float}[/{format:image}]", read.get_arb,
          throttleable=True),  # DVID answers a POST like a GET

    Route("GET", "blocks/{block:block}/{span:int}", blocks.get_blocks),
    Route("POST", "blocks/{block:block}/{span:int}", write.post_blocks),
    Route("GET", "specificblocks", blocks.get_specificblocks, quick=blocks.few_listed_blocks),
    Route("POST", "specificblocks",
          refusal("DVID does not accept the post action on the 'specificblocks' endpoint")),
    Route("GET", "subvolblocks/{box:subvolume}", blocks.get_subvolblocks, throttleable=True,
          quick=blocks.few_stored_blocks),
    Route("POST", "subvolblocks/{box:subvolume}", blocks.post_subvolblocks),
    Route("GET", "pyramid/{extra}", refusal(pyramid_api.NO_PATH_ARGS)),
    Route("GET", "pyramid", pyramid_status),
    Route("POST", "pyramid/{extra}", refusal(pyramid_api.NO_PATH_ARGS)),
    Route("POST", "pyramid", pyramid_update),
], CONVERTERS, usage={
    "raw": '"raw" must be followed by shape/size/offset',
    "isotropic": '"isotropic" must be followed by shape/size/offset',
    "arb": "'arb' must be followed by top left, top right, bottom left, and resolution",
    "blocks": '"blocks" must be followed by block-coord/span-x',
    "subvolblocks": '"subvolblocks" must be followed by size/offset',
})
