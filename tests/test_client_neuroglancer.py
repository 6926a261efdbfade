"""neuroglancer (npm @janelia-flyem/neuroglancer, standalone build) in headless Chromium.

The viewer is served by a static server on one port; it talks to the DVID server through a
logging reverse proxy on another port, so every request is cross-origin (CORS exercised) and
recorded.  Assertions: what the client asked for and what we answered, no chunk errors in the
browser console, and pixels of the rendered slice in the screenshot (saved in test-artifacts/).
"""

from __future__ import annotations

import re

import pytest
import requests

from clients.data import DARK, LIGHT, checkerboard, quadrants
from clients.proxy import LoggingProxy, StaticServer
from clients.runner import require_browser
from clients.viewer import make_uint8blk, post_raw, screenshot, viewer_url

pytestmark = pytest.mark.slow

TOL = 18  # JPEG + display rounding; LIGHT and DARK are 160 apart


@pytest.fixture(scope="module")
def browser():
    return require_browser()


@pytest.fixture(scope="module")
def viewer(browser):
    with StaticServer(browser[1]) as static:
        yield static


@pytest.fixture
def proxy(server):
    with LoggingProxy(server.url) as p:
        yield p


def chunk_requests(proxy, instance, kind):
    pat = re.compile(rf"^/api/node/[^/]+/{re.escape(instance)}/{kind}/")
    return [e for e in proxy.exchanges() if e.method == "GET" and pat.match(e.path)]


def assert_metadata_and_cors(proxy, viewer):
    infos = [e for e in proxy.exchanges() if e.path.split("?")[0] == "/api/repos/info"]
    assert infos, "neuroglancer never asked for /api/repos/info"
    for e in proxy.exchanges():
        assert e.origin == viewer.url, f"request not cross-origin from the viewer: {e}"
        assert e.allow_origin in ("*", viewer.url), f"no CORS header on {e.path}: {e}"
        assert e.status == 200, f"{e.method} {e.path} -> {e.status}"


def assert_level_drawn(proxy, viewer, shot, instance, pixels):
    """neuroglancer read the level ``instance`` (every chunk with data), logged no chunk error,
    and drew ``pixels`` ({(dx, dy) from the centre: gray})."""
    assert_metadata_and_cors(proxy, viewer)
    chunks = chunk_requests(proxy, instance, "subvolblocks")
    assert chunks, f"no request to {instance}: {[e.path for e in proxy.exchanges()]}"
    assert all(e.length > 16 for e in chunks), chunks
    assert not shot.chunk_errors(), shot.chunk_errors()
    assert shot.ready
    for (dx, dy), want in pixels.items():
        got = shot.gray(dx, dy)
        assert abs(got - want) <= TOL, f"pixel at {dx},{dy} from centre is {got}, want {want} ({shot.path})"


def test_jpeg_checkerboard_subvolblocks_short_prefix(server, repo, proxy, viewer, browser):
    make_uint8blk(server.url, repo, "grayjpeg", "jpeg", checkerboard((128, 128, 128)))
    prefix = repo[:8]
    url = viewer_url(viewer.url, proxy.url, prefix, "grayjpeg", [64, 64, 32.5], 1)
    shot = screenshot(browser[0], url, "ng-jpeg-checkerboard")

    assert_metadata_and_cors(proxy, viewer)
    chunks = chunk_requests(proxy, "grayjpeg", "subvolblocks")
    assert chunks, [e.path for e in proxy.exchanges()]
    for e in chunks:
        assert e.path.startswith(f"/api/node/{prefix}/grayjpeg/subvolblocks/64_64_64/"), e.path
        assert "app=Neuroglancer" in e.path
        assert e.length > 16, f"empty chunk for a written block: {e}"
    # the slice at z=32 needs the four z=0 blocks
    seen = {e.path.split("?")[0].rsplit("/", 1)[1] for e in chunks}
    assert {"0_0_0", "64_0_0", "0_64_0", "64_64_0"} <= seen, seen
    assert not shot.chunk_errors(), shot.chunk_errors()
    assert not shot.severe(), shot.severe()
    assert shot.ready, "neuroglancer never reported all visible chunks loaded"
    # x right, y down; block (0,0,0) is LIGHT
    for (dx, dy), want in {(-32, -32): LIGHT, (32, -32): DARK, (-32, 32): DARK, (32, 32): LIGHT}.items():
        got = shot.gray(dx, dy)
        assert abs(got - want) <= TOL, f"pixel at {dx},{dy} from centre is {got}, want {want} ({shot.path})"


def test_lz4_raw_jpeg_uuid_master(server, repo, proxy, viewer, browser):
    make_uint8blk(server.url, repo, "grayraw", "lz4", quadrants((128, 128, 128)))
    node = f"{repo}:master"
    url = viewer_url(viewer.url, proxy.url, node, "grayraw", [64, 64, 32.5], 1)
    shot = screenshot(browser[0], url, "ng-lz4-quadrants")

    assert_metadata_and_cors(proxy, viewer)
    chunks = chunk_requests(proxy, "grayraw", "raw")
    assert chunks, [e.path for e in proxy.exchanges()]
    for e in chunks:
        assert re.match(rf"^/api/node/{repo}:master/grayraw/raw/0_1_2/64_64_64/\d+_\d+_\d+/jpeg\?", e.path), e.path
        assert e.content_type and "jpeg" in e.content_type, e
        assert e.length > 0
    assert not shot.chunk_errors(), shot.chunk_errors()
    assert not shot.severe(), shot.severe()
    assert shot.ready
    # quadrants(): 20 + 160*bx + 40*by at z block 0
    for (dx, dy), want in {(-32, -32): 20, (32, -32): 180, (-32, 32): 60, (32, 32): 220}.items():
        got = shot.gray(dx, dy)
        assert abs(got - want) <= TOL, f"pixel at {dx},{dy} from centre is {got}, want {want} ({shot.path})"


def test_second_scale_from_name_1_instance(server, repo, proxy, viewer, browser):
    # level 0: 256x256x64 checkerboard of 64-voxel squares; level 1 ("ms_1"): the INVERTED
    # checkerboard at half resolution, so the screenshot shows which level was drawn.
    make_uint8blk(server.url, repo, "ms", "jpeg", checkerboard((64, 256, 256)))
    make_uint8blk(server.url, repo, "ms_1", "jpeg", checkerboard((64, 128, 128), square=32, invert=True))
    url = viewer_url(viewer.url, proxy.url, repo[:10], "ms", [128, 128, 32.5], 2)
    shot = screenshot(browser[0], url, "ng-multiscale")

    # at 2 voxels per pixel a 64-voxel square is 32 px; the centre is at (128,128): the square
    # up-left of it is level-0 block (1,1) = LIGHT, drawn from level 1 as DARK.
    assert_level_drawn(proxy, viewer, shot, "ms_1",
                       {(-16, -16): DARK, (16, -16): LIGHT, (-16, 16): LIGHT, (16, 16): DARK})


def test_sparse_volume_missing_blocks(server, repo, proxy, viewer, browser):
    # 3x3x1 blocks of extent, only blocks (0,0,0) and (2,2,0) written
    block = checkerboard((64, 64, 64))  # one block: all LIGHT
    make_uint8blk(server.url, repo, "sparse", "jpeg", block)
    post_raw(server.url, repo, "sparse", block, offset_zyx=(0, 128, 128))
    url = viewer_url(viewer.url, proxy.url, repo[:8], "sparse", [96, 96, 32.5], 1)
    # the chunks of missing blocks fail, so neuroglancer never reports ready: do not wait 60 s for it
    shot = screenshot(browser[0], url, "ng-sparse", timeout=12)

    assert_metadata_and_cors(proxy, viewer)
    chunks = {e.path.split("?")[0].rsplit("/", 1)[1]: e for e in chunk_requests(proxy, "sparse", "subvolblocks")}
    assert {"0_0_0", "128_128_0", "64_64_0"} <= set(chunks), sorted(chunks)
    for key, e in chunks.items():
        written = key in ("0_0_0", "128_128_0")
        assert (e.length > 16) == written, f"{e.path}: {e.length} bytes (written={written})"
        if not written:
            assert e.length == 0, f"missing block must give an empty 200 body, got {e.length} bytes"
    # neuroglancer cannot decode an empty body as JPEG: those chunks (and only those) fail
    errors = shot.chunk_errors()
    assert all("SOI" in m for m in errors), errors
    assert errors, "expected neuroglancer to fail decoding the empty bodies of missing blocks"
    assert abs(shot.gray(-64, -64) - LIGHT) <= TOL, shot.path
    assert abs(shot.gray(64, 64) - LIGHT) <= TOL, shot.path
    # missing blocks: nothing drawn, the background shows
    for dx, dy in [(0, 0), (64, -64), (-64, 64), (0, -64)]:
        assert shot.background(dx, dy), f"{dx},{dy}: {shot.rgb(dx, dy)} ({shot.path})"
    # and outside the volume too
    assert shot.background(-150, 0), shot.path


def test_zoomed_out_reads_the_servers_pyramid(server, repo, proxy, viewer, browser):
    # 512x512x64 voxels, a checkerboard of 128-voxel squares; the server builds gz_1 ... gz_3
    make_uint8blk(server.url, repo, "gz", "jpeg", checkerboard((64, 512, 512), square=128))
    res = server.cli("node", repo, "gz", "pyramid")
    assert res.returncode == 0, res.stderr
    info = requests.get(f"{server.url}/api/repo/{repo}/info").json()["DataInstances"]
    assert {"gz_1", "gz_2", "gz_3"} <= set(info) and "gz_4" not in info
    # 8 voxels per screen pixel: neuroglancer reads level 3, where a square is 16 voxels = 16 px
    url = viewer_url(viewer.url, proxy.url, repo[:8], "gz", [256, 256, 32.5], 8)
    shot = screenshot(browser[0], url, "ng-pyramid-zoomed-out")

    # the centre is voxel (256, 256); square (i, j) is LIGHT where i + j is even
    assert_level_drawn(proxy, viewer, shot, "gz_3",
                       {(-8, -8): LIGHT, (8, -8): DARK, (-8, 8): DARK, (8, 8): LIGHT,
                        (-24, -24): LIGHT, (-24, -8): DARK, (24, -8): LIGHT, (24, 24): LIGHT})
    assert not chunk_requests(proxy, "gz", "subvolblocks"), "zoomed out, yet full-resolution blocks were read"
    assert not shot.severe(), shot.severe()
    assert shot.background(0, -40), f"outside the volume nothing is drawn ({shot.path})"
