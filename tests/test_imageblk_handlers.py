"""imageblk handlers called without HTTP: the route table on a memory-engine view, and handlers
given typed arguments directly (issue 17: handlers that read like the spec and test on their own)."""

from types import SimpleNamespace

import numpy as np
import pytest

from dvid.datastore.instance import Instance
from dvid.datastore.view import Ancestry, VersionedView
from dvid.datatypes.base import Request
from dvid.datatypes.imageblk import blocks, read
from dvid.datatypes.imageblk.call import Call
from dvid.datatypes.imageblk.props import VOXEL_TYPES, init_props
from dvid.datatypes.imageblk.routes import ROUTES
from dvid.datatypes.imageblk.source import StoredBlocks
from dvid.datatypes.imageblk.types import ImageBlkType
from dvid.errors import BadRequest
from dvid.geometry import Box
from dvid.limits import DEFAULT
from dvid.routing import Unmatched
from dvid.storage.memory import MemoryEngine

UINT8 = ImageBlkType(VOXEL_TYPES[0])


def context(settings=None):
    inst = Instance(name="g", typename="uint8blk", data_uuid="d", instance_id=7, repo_uuid="r",
                    props=init_props(settings or {"blocksize": "8,8,8"}, VOXEL_TYPES[0]))
    view = VersionedView(MemoryEngine(), 7, Ancestry(1, {1: []}))
    return SimpleNamespace(instance=inst, view=view, uuid="r", version=1, host="localhost:8000", limits=DEFAULT,
                           save_instance=lambda *a: None, other_instance=None, cached=lambda key, make: make())


def request(method, *parts, body=b"", query=None):
    p = ["node", "r", "g", *parts]
    return Request(method, "/api/" + "/".join(p), p, query or {}, body)


def test_post_then_get_through_the_route_table():
    ctx = context()
    vol = np.arange(16 * 16 * 8, dtype=np.uint32).astype(np.uint8).reshape(8, 16, 16)
    assert UINT8.handle(ctx, request("POST", "raw", "0_1_2", "16_16_8", "0_0_0", body=vol.tobytes())).body == b""
    got = UINT8.handle(ctx, request("GET", "raw", "0_1_2", "10_9_8", "3_2_0"))
    assert np.array_equal(np.frombuffer(got.body, np.uint8).reshape(8, 9, 10), vol[:, 2:11, 3:13])
    png = UINT8.handle(ctx, request("GET", "raw", "xy", "16_16", "0_0_3", "png"))
    assert png.content_type == "image/png"


def test_handlers_take_typed_arguments():
    ctx = context()
    src = StoredBlocks(ctx.view, UINT8.layout(ctx.instance))
    call = Call(UINT8, ctx, request("GET", "raw"), src)
    empty = read.get_subvolume(call, shape=(0, 1, 2), box=Box((0, 0, 0), (4, 4, 4)), format="")
    assert bytes(empty.body) == bytes(64)
    assert blocks.get_subvolblocks(call, box=Box((0, 0, 0), (2**31 - 8, 2**31 - 8, 8))).body == b""
    with pytest.raises(BadRequest, match="non-block aligned"):
        blocks.get_subvolblocks(call, box=Box((1, 0, 0), (8, 8, 8)))


def test_route_table_decides_streaming_writes_and_throttle():
    m = ROUTES.match("POST", ["raw", "0_1_2", "32_32_32", "0_0_0"])
    assert m.route.streams_body and m.route.changes_data("POST") and m.params["box"] == Box((0, 0, 0), (32, 32, 32))
    m = ROUTES.match("GET", ["raw", "xz", "10_20", "1_2_3", "jpg:90"])
    assert m.route.handler is read.get_slice and m.params["box"][1] == (10, 20) and m.params["format"] == "jpg:90"
    assert ROUTES.match("GET", ["subvolblocks", "32_32_32", "0_0_0"]).route.throttleable
    assert not ROUTES.streams_body("POST", "blocks") and ROUTES.streams_body("POST", "raw")
    assert ROUTES.writes("POST", "raw") and not ROUTES.writes("GET", "raw")
    with pytest.raises(BadRequest, match='"raw" must be followed by shape/size/offset'):
        ROUTES.match("GET", ["raw", "xy", "1_1"])
    with pytest.raises(BadRequest, match="Unknown data shape specification"):
        ROUTES.match("GET", ["raw", "xyz", "1_1_1", "0_0_0"])
    with pytest.raises(Unmatched):
        ROUTES.match("GET", ["nosuch"])


@pytest.mark.parametrize("method,parts,message", [
    ("POST", ("info",), "info endpoint only supports GET HTTP verb"),
    ("GET", ("extents",), "extents endpoint only supports POST HTTP verb"),
    ("POST", ("raw", "xy", "4_4", "0_0_0"), "DVID does not permit 2d mutations"),
    ("POST", ("isotropic", "0_1_2", "8_8_8", "0_0_0"), "can only POST 'raw' not 'isotropic' images"),
    ("POST", ("subvolblocks", "8_8_8", "0_0_0"), "DVID does not accept the post action on the 'subvolblocks'"),
    ("DELETE", ("raw", "0_1_2", "8_8_8", "0_0_0"), 'Data "g" can only handle GET or POST HTTP verbs'),
    ("GET", ("nosuch",), 'Bad API call (/api/node/r/g/nosuch) for data "g"'),
    ("GET", ("pyramid", "x"), "pyramid takes no further path elements"),
    ("POST", ("pyramid", "x", "y"), "pyramid takes no further path elements"),
])
def test_refusals_keep_dvid_texts(method, parts, message):
    with pytest.raises(BadRequest) as e:
        UINT8.handle(context(), request(method, *parts))
    assert message in str(e.value)
