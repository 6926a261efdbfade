"""Every limit of ``dvid.limits`` over HTTP: a request at the limit is served, one past it gets a 400
naming the ``[server]`` key that raises it, and nothing is written; requests whose work is bounded by
what is stored answer at once however large their box; hostile bodies, URLs and connections get
4xx, never a 5xx or a hang (issue 14). Timeouts on the client side only guard against hangs."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import numpy as np
import pytest
import requests
from PIL import Image

LIMITS = """
maxRequestBytes = 1048576
maxImagePixels = 65536
maxJSONBytes = 4096
maxHeaderBytes = 8192
maxQueryParams = 8
maxRequestBlocks = 64
maxPartitionSubvolumes = 100
maxThrottle = 4
headerTimeout = 1
"""
T = 30  # client timeout: only a hang would reach it


@pytest.fixture(scope="module")
def small(server_factory):
    """A server with small limits, a repo, a 64³ uint8blk "g" holding one 32³ block at the origin and
    a block far away, and an roi "r"."""
    srv = server_factory(extra_toml=LIMITS)
    uuid = srv.new_repo()
    for name, typ in (("g", "uint8blk"), ("r", "roi")):
        assert requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": typ, "dataname": name},
                             timeout=T).ok
    base = f"{srv.url}/api/node/{uuid}"
    blk = np.arange(32**3, dtype=np.uint32).astype(np.uint8)
    assert requests.post(f"{base}/g/raw/0_1_2/32_32_32/0_0_0", data=blk.tobytes(), timeout=T).ok
    assert requests.post(f"{base}/g/raw/0_1_2/32_32_32/320000_3200000_32000000", data=blk.tobytes(),
                         timeout=T).ok
    return srv, uuid, base, blk


def limited(r: requests.Response, key: str) -> bool:
    return r.status_code == 400 and f"raise [server] {key}" in r.text


def instance(srv, uuid: str, typename: str, name: str) -> str:
    r = requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": typename, "dataname": name}, timeout=T)
    assert r.ok, r.text
    return f"{srv.url}/api/node/{uuid}/{name}"


# ------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("path", ["/api/repos", "/api/node/{uuid}/branch", "/api/node/{uuid}/newversion",
                                  "/api/node/{uuid}/r/roi", "/api/node/{uuid}/r/ptquery",
                                  "/api/node/{uuid}/g/extents", "/api/node/{uuid}/log",
                                  "/api/repo/{uuid}/instance"])
def test_deep_json_is_400_not_500(server, path):
    uuid = server.new_repo()
    for name, typ in (("g", "uint8blk"), ("r", "roi")):
        requests.post(f"{server.url}/api/repo/{uuid}/instance", json={"typename": typ, "dataname": name}, timeout=T)
    for body in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        r = requests.post(server.url + path.format(uuid=uuid), data=body, timeout=T)
        assert r.status_code == 400 and "nested too deeply" in r.text, (path, r.status_code, r.text[:200])
    assert requests.get(f"{server.url}/api/heartbeat", timeout=T).text == "OK"


def test_json_size_limit_at_and_past(small):
    srv, uuid, base, _ = small
    roi = instance(srv, uuid, "roi", "json_limit")
    spans = json.dumps([[0, 0, i * 2, i * 2] for i in range(200)], separators=(",", ":"))
    at = spans + " " * (4096 - len(spans))
    assert requests.post(f"{roi}/roi", data=at, timeout=T).status_code == 200
    r = requests.post(f"{roi}/roi", data="[]" + " " * 4095, timeout=T)
    assert limited(r, "maxJSONBytes") and "JSON body of 4097 bytes" in r.text
    assert len(requests.get(f"{roi}/roi", timeout=T).json()) == 200  # the refused POST changed nothing
    r = requests.post(f"{srv.url}/api/repos", data=b'{"alias": "' + b"a" * 5000 + b'"}', timeout=T)
    assert limited(r, "maxJSONBytes")


def test_header_size_limit_at_and_past(small):
    srv, *_ = small
    assert requests.get(f"{srv.url}/api/heartbeat", headers={"X-Pad": "a" * 7000}, timeout=T).text == "OK"
    r = requests.get(f"{srv.url}/api/heartbeat", headers={"X-Pad": "a" * 9000}, timeout=T)
    assert limited(r, "maxHeaderBytes")
    r = requests.get(f"{srv.url}/api/heartbeat?" + "q" * 9000, timeout=T)
    assert limited(r, "maxHeaderBytes")
    many = {f"X-{i}": "v" for i in range(2000)}
    assert limited(requests.get(f"{srv.url}/api/heartbeat", headers=many, timeout=T), "maxHeaderBytes")


def test_query_parameters_bounded_and_never_repeated(small):
    srv, *_ = small
    ok = "&".join(f"k{i}=1" for i in range(8))
    assert requests.get(f"{srv.url}/api/heartbeat?{ok}", timeout=T).text == "OK"
    assert limited(requests.get(f"{srv.url}/api/heartbeat?{ok}&k8=1", timeout=T), "maxQueryParams")
    r = requests.get(f"{srv.url}/api/heartbeat?u=a&u=b", timeout=T)
    assert r.status_code == 400 and 'query parameter "u" is given more than once' in r.text


def test_odd_bytes_in_request_line_are_400(small):
    srv, uuid, *_ = small
    port = int(srv.url.rsplit(":", 1)[1])
    for path in (b"/api/node/" + uuid.encode() + b"/g/in\xfffo", b"/api/he\x00artbeat", b"/api/%ff%fe/x",
                 b"/api/node/" + uuid.encode() + b"/%00/info", b"/" + b"%" * 100):
        with socket.create_connection(("127.0.0.1", port), timeout=T) as s:
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = s.recv(4096).split(b"\r\n", 1)[0]
        status = int(head.split()[1])
        assert 400 <= status < 500, (path, head)


# ------------------------------------------------------------------------------ bounded work
def test_huge_subvolblocks_box_answers_with_what_is_stored(small):
    srv, uuid, base, blk = small
    url = f"{base}/g/subvolblocks/2147483616_2147483616_32/0_96_32"  # issue 14: ~10^15 rows of blocks
    assert requests.get(url, timeout=T).content == b""
    # the negative half of the int32 space, throttled twice in a row: both answer (the slot is free)
    for _ in range(2):
        r = requests.get(f"{base}/g/subvolblocks/2147483616_2147483616_2147483616/"
                         "-2147483648_-2147483648_-2147483648?throttle=true", timeout=T)
        assert r.status_code == 200 and r.content == b""
    r = requests.get(f"{base}/g/subvolblocks/2147483616_2147483616_2147483616/0_0_0?throttle=true", timeout=T)
    assert r.status_code == 200
    coords = []
    data = r.content
    i = 0
    while i < len(data):
        x, y, z, n = np.frombuffer(data[i : i + 16], "<i4")
        coords.append((int(x), int(y), int(z)))
        i += 16 + int(n)
    assert coords == [(0, 0, 0), (10000, 100000, 1000000)]


def test_block_stream_answers_bounded_by_bytes(small):
    srv, uuid, base, blk = small
    g = instance(srv, uuid, "uint8blk", "stream_limit")
    rng = np.random.default_rng(1)
    for y in range(2):  # 2 rows of 32 incompressible 32 KiB blocks: 2 MiB stored
        assert requests.post(f"{g}/blocks/0_{y}_0/32", data=rng.bytes(32 * 32**3), timeout=T).ok
    assert requests.get(f"{g}/subvolblocks/992_32_32/0_0_0", timeout=T).status_code == 200
    assert limited(requests.get(f"{g}/subvolblocks/1024_64_32/0_0_0", timeout=T), "maxRequestBytes")


def test_specificblocks_and_blocks_span_limits(small):
    srv, uuid, base, _ = small
    at = ",".join(["0,0,0"] * 64)
    assert requests.get(f"{base}/g/specificblocks?blocks={at}", timeout=T).status_code == 200
    assert limited(requests.get(f"{base}/g/specificblocks?blocks={at},0,0,0", timeout=T), "maxRequestBlocks")
    r = requests.get(f"{base}/g/specificblocks?blocks=0,0,99999999999", timeout=T)
    assert r.status_code == 400 and "32-bit" in r.text
    assert requests.get(f"{base}/g/blocks/0_0_0/32", timeout=T).status_code == 200  # 32 × 32 KiB = 1 MiB
    assert limited(requests.get(f"{base}/g/blocks/0_0_0/33", timeout=T), "maxRequestBytes")
    assert limited(requests.get(f"{base}/g/blocks/0_0_0/65", timeout=T), "maxRequestBlocks")
    r = requests.get(f"{base}/g/blocks/2147483000_0_0/1000", timeout=T)
    assert r.status_code == 400 and "largest block coordinate" in r.text


def test_raw_limits_and_huge_empty_boxes(small):
    srv, uuid, base, blk = small
    assert requests.get(f"{base}/g/raw/0_1_2/64_64_256/0_0_0", timeout=T).status_code == 200  # exactly 1 MiB
    assert limited(requests.get(f"{base}/g/raw/0_1_2/64_64_257/0_0_0", timeout=T), "maxRequestBytes")
    # a thin box of 1 MiB crossing 1024 rows of blocks, all but one empty: rows are skipped, not walked
    r = requests.get(f"{base}/g/raw/0_1_2/1_1024_1024/0_0_0", timeout=T)
    vol = np.frombuffer(r.content, np.uint8).reshape(1024, 1024)
    assert (vol[:32, :32] == blk.reshape(32, 32, 32)[:, :, 0]).all() and not vol[32:].any()


@pytest.mark.parametrize("path,key", [
    ("raw/xy/256_256/0_0_0", None), ("raw/xy/256_257/0_0_0", "maxImagePixels"),
    ("raw/xz/65536_2/0_0_0", "maxImagePixels"), ("isotropic/xy/256_256/0_0_0", None),
    ("isotropic/xy/100000_100000/0_0_0", "maxImagePixels"), ("raw/0_1_2/256_256_1/0_0_0/jpg", None),
    ("raw/0_1_2/256_256_2/0_0_0/jpg", "maxImagePixels"),
    ("arb/0_0_0/2040_0_0/0_2040_0/8", None),  # 256 x 256 pixels, corners in nm at 8 nm voxels
    ("arb/0_0_0/2048_0_0/0_2048_0/8", "maxImagePixels"),
    ("arb/0_0_0/400000_0_0/0_400000_0/8", "maxImagePixels"),  # issue 14: 50000 x 50000
])
def test_image_pixel_limits(small, path, key):
    srv, uuid, base, _ = small
    r = requests.get(f"{base}/g/{path}", timeout=T)
    if key is None:
        assert r.status_code == 200, r.text
        assert Image.open(io.BytesIO(r.content)).size == (256, 256)
    else:
        assert limited(r, key), r.text


@pytest.mark.parametrize("corner", ["inf_0_0", "nan_0_0", "1e308_0_0"])
def test_arb_with_unusable_corners_is_400(small, corner):
    srv, uuid, base, _ = small
    r = requests.get(f"{base}/g/arb/0_0_0/{corner}/0_8_0/1", timeout=T)
    assert r.status_code == 400


def test_partition_limits(small):
    srv, uuid, base, _ = small
    roi = instance(srv, uuid, "roi", "partition_limit")
    spans = [[-(2**31), -(2**31), -(2**31), -(2**31) + 3], [0, 0, 0, 0], [2**31 - 1, 2**31 - 1, 2**31 - 40, 2**31 - 1]]
    assert requests.post(f"{roi}/roi", json=spans, timeout=T).ok
    r = requests.get(f"{roi}/partition?batchsize=1", timeout=T)  # far apart: answers at once
    assert r.status_code == 200 and r.json()["NumSubvolumes"] == 4 + 1 + 40
    assert requests.get(f"{roi}/partition?batchsize=1&optimized=true", timeout=T).status_code == 200
    assert requests.get(f"{roi}/partition?batchsize=2147483647", timeout=T).status_code == 200
    assert requests.get(f"{roi}/partition?batchsize=99999999999", timeout=T).status_code == 400
    assert requests.post(f"{roi}/roi", json=[[0, 0, 0, 99]], timeout=T).ok
    assert requests.get(f"{roi}/partition?batchsize=1", timeout=T).json()["NumSubvolumes"] == 100  # at the limit
    assert requests.post(f"{roi}/roi", json=[[0, 0, 0, 100]], timeout=T).ok
    assert limited(requests.get(f"{roi}/partition?batchsize=1", timeout=T), "maxPartitionSubvolumes")


def test_roi_mask_limit(small):
    srv, uuid, base, _ = small
    assert requests.get(f"{base}/r/mask/0_1_2/64_64_256/0_0_0", timeout=T).status_code == 200
    assert limited(requests.get(f"{base}/r/mask/0_1_2/64_64_257/0_0_0", timeout=T), "maxRequestBytes")


def test_throttle_setting_limit(server_factory):
    srv = server_factory(extra_toml='adminToken = "t"\nmaxThrottle = 4')
    ok = requests.post(f"{srv.url}/api/server/settings?admintoken=t", json={"throttle": "4"}, timeout=T)
    assert ok.status_code == 200
    r = requests.post(f"{srv.url}/api/server/settings?admintoken=t", json={"throttle": "1000000000"}, timeout=T)
    assert limited(r, "maxThrottle")


# -------------------------------------------------------------------- connections and time
def test_idle_and_slow_connections_do_not_stop_others(small):
    srv, *_ = small
    port = int(srv.url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    for s in slow:
        s.sendall(b"GET /api/heartbeat HTTP/1.1\r\nHo")
    try:
        for _ in range(20):
            assert requests.get(f"{srv.url}/api/heartbeat", timeout=T).text == "OK"
        time.sleep(2.5)  # past headerTimeout = 1 s: the server has closed them all
        for s in idle + slow:
            s.settimeout(T)
            assert s.recv(100) == b""
    finally:
        for s in idle + slow:
            s.close()


ARB_SLOW = "arb/0_0_0/131064_0_0/0_131064_0/8"  # 16384² pixels: many strips, each checks the budget


def test_request_time_limit_releases_the_throttle_slot(server_factory):
    srv = server_factory(extra_toml="requestTimeout = 1")
    uuid = srv.new_repo()
    requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"}, timeout=T)
    base = f"{srv.url}/api/node/{uuid}/g"
    r = requests.get(f"{base}/{ARB_SLOW}?throttle=true", timeout=T)
    assert limited(r, "requestTimeout") and "longer than the server limit of 1 s" in r.text
    assert requests.get(f"{base}/arb/0_0_0/80_0_0/0_80_0/8?throttle=true", timeout=T).status_code == 200


def test_client_disconnect_releases_the_throttle_slot(server_factory):
    srv = server_factory()
    uuid = srv.new_repo()
    requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"}, timeout=T)
    base = f"{srv.url}/api/node/{uuid}/g"
    port = int(srv.url.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {base[len(srv.url):]}/{ARB_SLOW}?throttle=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.5)
    busy = requests.get(f"{base}/arb/0_0_0/80_0_0/0_80_0/8?throttle=true", timeout=T)
    assert busy.status_code == 503  # the slow request holds the only slot
    s.close()
    deadline = time.time() + 20
    while time.time() < deadline:
        r = requests.get(f"{base}/arb/0_0_0/80_0_0/0_80_0/8?throttle=true", timeout=T)
        if r.status_code == 200:
            break
        time.sleep(0.1)
    assert r.status_code == 200  # the abandoned request stopped at its next strip and let the slot go


# ---------------------------------------------------------------------------- 1×N slices (500s)
TYPES = {"uint8blk": (np.uint8, 1), "uint16blk": (np.uint16, 1), "uint32blk": (np.uint32, 1),
         "uint64blk": (np.uint64, 1), "float32blk": (np.float32, 1), "rgba8blk": (np.uint8, 4)}


@pytest.mark.parametrize("typename", sorted(TYPES))
def test_one_pixel_wide_slices_of_every_type_and_alpha(server, typename):
    dtype, ch = TYPES[typename]
    uuid = server.new_repo()
    requests.post(f"{server.url}/api/repo/{uuid}/instance", json={"typename": typename, "dataname": "v"}, timeout=T)
    base = f"{server.url}/api/node/{uuid}/v"
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, 32**3 * np.dtype(dtype).itemsize * ch, dtype=np.uint8)
    view = raw.view(np.uint8).reshape(32, 32, 32, -1)
    view[:, :, :16, 3 if view.shape[3] >= 4 else 0] = 255  # opaque alpha (4th byte) on half the voxels
    view[:, :, 16:24, 3 if view.shape[3] >= 4 else 0] = 0
    assert requests.post(f"{base}/raw/0_1_2/32_32_32/0_0_0", data=raw.tobytes(), timeout=T).ok
    for plane in ("xy", "xz", "yz"):
        for w, h in ((1, 1), (1, 7), (7, 1)):
            for x in (3, 20, 30):  # opaque, transparent and mixed 4th bytes
                r = requests.get(f"{base}/raw/{plane}/{w}_{h}/{x}_2_5/png", timeout=T)
                assert r.status_code == 200, (plane, w, h, x, r.text)
                img = Image.open(io.BytesIO(r.content))
                assert img.size == (w, h)
        assert requests.get(f"{base}/isotropic/{plane}/1_1/3_2_5", timeout=T).status_code == 200


def test_one_pixel_png_of_opaque_rgba_is_rgb_with_the_voxel(server):
    uuid = server.new_repo()
    requests.post(f"{server.url}/api/repo/{uuid}/instance", json={"typename": "rgba8blk", "dataname": "c"}, timeout=T)
    base = f"{server.url}/api/node/{uuid}/c"
    vol = np.zeros((32, 32, 32, 4), np.uint8)
    vol[5, 2, 3] = (10, 20, 30, 255)
    assert requests.post(f"{base}/raw/0_1_2/32_32_32/0_0_0", data=vol.tobytes(), timeout=T).ok
    img = Image.open(io.BytesIO(requests.get(f"{base}/raw/xy/1_1/3_2_5/png", timeout=T).content))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (10, 20, 30)


def test_concurrent_hostile_requests_leave_the_server_serving(small):
    srv, uuid, base, _ = small
    bad = [f"{base}/g/subvolblocks/2147483616_2147483616_32/0_96_32?throttle=true",
           f"{base}/g/raw/0_1_2/1_1024_1024/0_0_0", f"{base}/g/arb/0_0_0/400000_0_0/0_400000_0/8",
           f"{base}/r/partition?batchsize=1", f"{base}/g/isotropic/xz/256_256/0_0_0"]
    errors: list[str] = []

    def hit(url):
        for _ in range(5):
            r = requests.get(url, timeout=T)
            busy = r.status_code == 503 and "throttle=true" in url  # DVID's answer while the slot is held
            if r.status_code >= 500 and not busy:
                errors.append(f"{url}: {r.status_code}")

    threads = [threading.Thread(target=hit, args=(u,)) for u in bad * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert requests.get(f"{srv.url}/api/heartbeat", timeout=T).text == "OK"
