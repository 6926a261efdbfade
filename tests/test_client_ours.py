"""Our dvid.client checked against the third-party clients on the same data: what intern and
dvision wrote, dvid.client reads identically (and what dvision reads as a slice, we read too)."""

import numpy as np
import pytest

from clients.data import DARK, LIGHT, checkerboard, gradient
from clients.proxy import LoggingProxy, StaticServer
from clients.runner import require_browser, run_script, venv_python
from clients.viewer import screenshot, viewer_url
from dvid.client import DVIDClient
from test_client_dvision import dvision_run  # noqa: F401  (module-scoped fixture reused here)
from test_client_intern import intern_run  # noqa: F401


def test_reads_what_intern_wrote(server, intern_run):  # noqa: F811
    c = DVIDClient(server.url)
    uuid, name = intern_run["uuid"], intern_run["name"]
    vol = gradient((64, 64, 64), seed=3)
    assert np.array_equal(c.raw(uuid, name, (64, 64, 64)), vol)
    assert np.array_equal(c.raw(uuid, name, (20, 10, 5), (7, 9, 11)), vol[11:16, 9:19, 7:27])
    info = c.info(uuid, name)
    assert info["Extended"]["MinPoint"] == [0, 0, 0] and info["Extended"]["MaxPoint"] == [63, 63, 63]


def test_reads_what_dvision_wrote(server, dvision_run):  # noqa: F811
    c = DVIDClient(server.url)
    uuid = dvision_run["uuid"]
    vol = gradient((64, 64, 64), seed=5)
    assert np.array_equal(c.raw(uuid, "grayscale", (64, 64, 64)), vol)
    # the size-1 slice dvision asked for (10_10_1 at z=3) is the same through our client
    assert np.array_equal(c.raw(uuid, "grayscale", (10, 10, 1), (0, 0, 3))[0], vol[3, :10, :10])


# ---- the other direction: what dvid.client wrote, the third-party clients read identically


def _client_io(client, payload):
    import base64

    out = run_script(venv_python(client), "client_io.py", {"client": client, **payload})
    if "data" in out:
        return np.frombuffer(base64.b64decode(out["data"]), np.uint8).reshape(out["shape"])
    return out


def test_intern_and_dvision_read_what_we_wrote(server):
    c = DVIDClient(server.url)
    uuid = c.new_repo("ours", "dvid.client writes, others read")
    c.new_instance(uuid, "uint8blk", "ours", BlockSize=(32, 32, 32))
    vol = gradient((64, 96, 128), seed=7)  # z, y, x
    c.post_raw(uuid, "ours", vol)
    box = [[5, 9, 17], [50, 90, 111]]  # unaligned, [z0, y0, x0], [z1, y1, x1]
    (z0, y0, x0), (z1, y1, x1) = box
    want = vol[z0:z1, y0:y1, x0:x1]
    ours = c.raw(uuid, "ours", (x1 - x0, y1 - y0, z1 - z0), (x0, y0, z0))
    assert np.array_equal(ours, want)
    for client in ("intern", "dvision"):
        got = _client_io(client, {"url": server.url, "uuid": uuid, "name": "ours", "op": "read", "box": box})
        assert got.shape == want.shape and np.array_equal(got, want), client
    # a size-1 z slice, as dvision asks for it with an integer index
    got = _client_io("dvision", {"url": server.url, "uuid": uuid, "name": "ours", "op": "read",
                                 "box": [[33, 0, 0], [34, 96, 128]]})
    assert np.array_equal(got, vol[33:34])


def test_we_read_what_intern_and_dvision_wrote_into_our_instance(server):
    c = DVIDClient(server.url)
    uuid = c.new_repo("mixed", "intern and dvision write into an instance we made")
    c.new_instance(uuid, "uint8blk", "mixed", BlockSize=(32, 32, 32))
    boxes = {"intern": [[0, 0, 0], [32, 64, 64]], "dvision": [[32, 0, 0], [64, 64, 64]]}
    for seed, (client, box) in enumerate(boxes.items(), start=11):
        assert _client_io(client, {"url": server.url, "uuid": uuid, "name": "mixed", "op": "write",
                                   "box": box, "seed": seed})["ok"]
    got = c.raw(uuid, "mixed", (64, 64, 64))
    assert np.array_equal(got[:32], gradient((32, 64, 64), (0, 0, 0), seed=11))
    assert np.array_equal(got[32:], gradient((32, 64, 64), (32, 0, 0), seed=12))
    info = c.info(uuid, "mixed")
    assert info["Extended"]["MinPoint"] == [0, 0, 0] and info["Extended"]["MaxPoint"] == [63, 63, 63]


@pytest.mark.slow
def test_neuroglancer_shows_what_we_wrote_and_our_subvolblocks_agree(server):
    """dvid.client writes a JPEG instance; neuroglancer renders it, and the JPEG blocks our client
    reads back decode to the same light/dark squares the browser shows."""
    import io

    from PIL import Image

    browser_py, ng_dir = require_browser()
    c = DVIDClient(server.url)
    uuid = c.new_repo("ng", "dvid.client -> neuroglancer")
    c.new_instance(uuid, "uint8blk", "cb", Compression="jpeg", BlockSize=(64, 64, 64), VoxelSize=(8, 8, 8))
    c.post_raw(uuid, "cb", checkerboard((128, 128, 128)))
    blocks = dict(c.subvolblocks(uuid, "cb", (128, 128, 64), (0, 0, 0)))
    assert set(blocks) == {(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)}
    means = {k: float(np.asarray(Image.open(io.BytesIO(v))).mean()) for k, v in blocks.items()}
    with StaticServer(ng_dir) as static, LoggingProxy(server.url) as proxy:
        shot = screenshot(browser_py, viewer_url(static.url, proxy.url, uuid[:6], "cb", [64, 64, 32.5], 1), "ng-ours")
    assert not shot.chunk_errors(), shot.chunk_errors()
    for (bx, by), (dx, dy) in {(0, 0): (-32, -32), (1, 0): (32, -32), (0, 1): (-32, 32), (1, 1): (32, 32)}.items():
        want = LIGHT if (bx + by) % 2 == 0 else DARK
        assert abs(means[(bx, by, 0)] - want) <= 3, (bx, by, means)
        assert abs(shot.gray(dx, dy) - means[(bx, by, 0)]) <= 18, (bx, by, shot.gray(dx, dy), shot.path)
