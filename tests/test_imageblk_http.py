"""imageblk over HTTP against a real server: DVID's Go tests (imageblk.md §8.1-8.2), the
recommended conformance cases (§8.3), versioning, and bad input writing nothing."""

import concurrent.futures as cf
import io
import json
import struct

import lz4.block
import numpy as np
import requests
from PIL import Image

from helpers import get_raw, new_instance, post_raw, xyz

XD = np.array([0x01, 0x07, 0xAF, 0xFF, 0x70], np.uint8)
YD = np.array([0x33, 0xB2, 0x77, 0xD0, 0x4F], np.uint8)
ZD = np.array([0x5C, 0x89, 0x40, 0x13, 0xCA], np.uint8)


#: the whole module runs against LMDB and against S3 on a real SeaweedFS (conftest.py)
STORES = ("lmdb", "s3")


def make_volume(offset, size):
    """DVID's test pattern: value(x,y,z) = xdata[x%5] ^ ydata[y%5] ^ zdata[z%5], [z, y, x] order."""
    x = np.arange(offset[0], offset[0] + size[0]) % 5
    y = np.arange(offset[1], offset[1] + size[1]) % 5
    z = np.arange(offset[2], offset[2] + size[2]) % 5
    return ZD[z][:, None, None] ^ YD[y][None, :, None] ^ XD[x][None, None, :]










def info(base):
    return requests.get(f"{base}/info", timeout=30).json()


def test_instance_creation_settings(server, repo):
    base = new_instance(server, repo, "grayscale", blocksize="64,43,28", VoxelSize="13.1, 14.2, 15.3",
                        VoxelUnits="picometers,nanometers,microns")
    r = requests.get(f"{base}/info", timeout=30)
    assert r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert list(doc) == ["Base", "Extended", "Extents"]
    assert doc["Base"]["Name"] == "grayscale" and doc["Base"]["TypeName"] == "uint8blk"
    ext = doc["Extended"]
    assert ext["BlockSize"] == [64, 43, 28] and ext["VoxelSize"] == [13.1, 14.2, 15.3]
    assert ext["VoxelUnits"] == ["picometers", "nanometers", "microns"]
    assert ext["MinPoint"] is None and doc["Extents"] == {"MinPoint": None, "MaxPoint": None}
    assert b'"VoxelSize":[13.1,14.2,15.3]' in r.content
    for bad in ({"BlockSize": 32}, {"BlockSize": "32"}, {"Background": "300"}, {"Compression": "jpeg:80"},
                {"VoxelSize": "a,b,c"}):
        body = {"typename": "uint8blk", "dataname": "bad", **bad}
        assert requests.post(f"{server.url}/api/repo/{repo}/instance", json=body, timeout=30).status_code == 400


def test_extents_and_resolution(server, repo):
    base = new_instance(server, repo, "g")
    assert requests.post(f"{base}/extents", json={"MinPoint": [68, 127, 210], "MaxPoint": [1023, 4811, 12187]}).ok
    assert requests.post(f"{base}/resolution", data="[4.0,4.0,4.0]").ok
    e = info(base)["Extended"]
    assert e["MinPoint"] == [68, 127, 210] and e["MaxPoint"] == [1023, 4811, 12187]
    assert e["MinIndex"] == [2, 3, 6] and e["MaxIndex"] == [31, 150, 380] and e["VoxelSize"] == [4, 4, 4]
    assert requests.get(f"{base}/extents").status_code == 400
    assert requests.post(f"{base}/resolution", data="[4,4]").status_code == 400
    assert requests.post(f"{base}/info").status_code == 400


def test_direct_round_trip_and_unaligned_reads(server, repo):
    base = new_instance(server, repo, "g")
    off, size = (512, 32, 1024), (128, 96, 64)
    vol = make_volume(off, size)
    assert post_raw(base, vol, off).status_code == 200
    r = requests.get(f"{base}/raw/0_1_2/{xyz(size)}/{xyz(off)}", timeout=30)
    assert r.headers["Content-Type"] == "application/octet-stream" and r.content == vol.tobytes()
    sub = get_raw(base, (50, 37, 21), (530, 40, 1030))
    assert np.array_equal(sub, vol[6:27, 8:45, 18:68])
    # partly outside the written region: zeros, even with a background value set
    part = get_raw(base, (40, 40, 40), (500, 20, 1010))
    assert part[:14].sum() == 0 and part[:, :12].sum() == 0 and part[:, :, :12].sum() == 0
    e = info(base)["Extended"]
    assert e["MinPoint"] == [512, 32, 1024] and e["MaxPoint"] == [639, 127, 1087]


def test_extents_grow_and_blocks_post_leaves_them(server, repo):
    base = new_instance(server, repo, "g")
    post_raw(base, np.ones((64, 64, 64), np.uint8), (0, 0, 0))
    e = info(base)["Extended"]
    assert (e["MinPoint"], e["MaxPoint"], e["MinIndex"], e["MaxIndex"]) == ([0, 0, 0], [63, 63, 63], [0, 0, 0], [1, 1, 1])
    post_raw(base, np.ones((32, 32, 32), np.uint8), (-32, 64, 0))
    e = info(base)["Extended"]
    assert (e["MinPoint"], e["MaxPoint"], e["MinIndex"], e["MaxIndex"]) == ([-32, 0, 0], [63, 95, 63], [-1, 0, 0], [1, 2, 1])
    requests.post(f"{base}/blocks/10_10_10/1", data=bytes(32768))
    assert info(base)["Extended"]["MaxPoint"] == [63, 95, 63]
    requests.post(f"{base}/extents", json={"MinPoint": [0, 0, 0], "MaxPoint": [1, 1, 1]})
    assert info(base)["Extended"]["MaxPoint"] == [1, 1, 1]
    md = requests.get(f"{base}/metadata")
    assert md.headers["Content-Type"] == "application/vnd.dvid-nd-data+json" and md.text.endswith("\n")
    assert md.json()["Axes"][0] == {"Label": "X", "Resolution": 8, "Units": "nanometers", "Size": 2, "Offset": 0}


def test_misaligned_and_wrong_length_writes_change_nothing(server, repo):
    base = new_instance(server, repo, "g")
    vol = make_volume((0, 0, 0), (64, 64, 64))
    post_raw(base, vol, (0, 0, 0))
    before = info(base)
    r = post_raw(base, np.zeros((100, 100, 100), np.uint8), (5, 35, 61))
    assert r.status_code == 400 and "non-block aligned" in r.text
    r = requests.post(f"{base}/raw/0_1_2/64_64_64/0_0_0", data=bytes(1000))
    assert r.status_code == 400 and "expected 262144 bytes" in r.text
    assert requests.post(f"{base}/raw/0_1_2/250_250/0_0_0", data=b"").status_code == 400
    assert requests.post(f"{base}/raw/xy/64_64/0_0_0", data=bytes(4096)).status_code == 400
    assert requests.post(f"{base}/isotropic/0_1_2/64_64_64/0_0_0", data=vol.tobytes()).status_code == 400
    assert np.array_equal(get_raw(base, (64, 64, 64), (0, 0, 0)), vol)
    assert info(base) == before


def test_background_raw_vs_blocks(server, repo):
    base = new_instance(server, repo, "g", Background="7")
    assert get_raw(base, (10, 10, 10), (100, 100, 100)).max() == 0
    r = requests.get(f"{base}/blocks/3_3_3/2")
    assert len(r.content) == 2 * 32768 and set(r.content) == {7}
    assert requests.get(f"{base}/blocks/0_0_0/0").content == b""


def test_block_api_round_trip_across_batches(server, repo):
    base = new_instance(server, repo, "g")
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, 1001 * 32768, dtype=np.uint8).tobytes()
    x, y, z = 2**31 - 1002, 12345, -77
    assert requests.post(f"{base}/blocks/{x}_{y}_{z}/1001", data=data, timeout=60).status_code == 200
    assert requests.get(f"{base}/blocks/{x}_{y}_{z}/1001", timeout=60).content == data
    empty = requests.get(f"{base}/blocks/{x}_{y}_{z + 1}/1001", timeout=60).content
    assert len(empty) == len(data) and not any(empty[::4096])
    r = requests.post(f"{base}/blocks/0_0_0/3", data=bytes(32768 * 2))
    assert r.status_code == 400 and "ceased" in r.text
    assert requests.get(f"{base}/blocks/0_0_0/1").content == bytes(32768)


def test_2d_slices(server, repo):
    base = new_instance(server, repo, "g")
    off, size = (0, 0, 0), (128, 128, 64)
    vol = make_volume(off, size)
    post_raw(base, vol, off)
    for dims, o, expect in [("xy", (10, 20, 30), vol[30, 20:120, 10:110]),
                            ("0_1", (10, 20, 30), vol[30, 20:120, 10:110]),
                            ("xz", (3, 40, 0), vol[0:64, 40, 3:103]),
                            ("yz", (5, 7, 0), vol[0:64, 7:107, 5])]:
        h = 64 if dims in ("xz", "yz") else 100
        r = requests.get(f"{base}/raw/{dims}/100_{h}/{xyz(o)}")
        assert r.headers["Content-Type"] == "image/png"
        im = Image.open(io.BytesIO(r.content))
        assert im.mode == "L" and np.array_equal(np.asarray(im), expect), dims
    r = requests.get(f"{base}/raw/xy/64_64/0_0_0/jpg:75")
    assert r.headers["Content-Type"] == "image/jpeg"
    assert requests.get(f"{base}/raw/xy/64_64/0_0_0/tif").headers["Content-Type"] == "image/tiff"
    assert requests.get(f"{base}/raw/xy/64_64/0_0_0/bmp").headers["Content-Type"] == "image/bmp"
    for bad in ("JPG", "png:x", "gif"):
        assert requests.get(f"{base}/raw/xy/64_64/0_0_0/{bad}").status_code == 400
    assert requests.get(f"{base}/raw/arb/64_64/0_0_0").status_code == 400
    assert requests.get(f"{base}/raw/qq/64_64/0_0_0").status_code == 400
    assert requests.get(f"{base}/raw/xy/0_64/0_0_0").status_code == 400
    # 3-d jpeg stacks z slices vertically; jpg:90 is octet-stream as in DVID
    r = requests.get(f"{base}/raw/0_1_2/32_16_4/0_0_0/jpg")
    assert r.headers["Content-Type"] == "image/jpeg" and Image.open(io.BytesIO(r.content)).size == (32, 64)
    r = requests.get(f"{base}/raw/0_1_2/32_16_4/0_0_0/jpg:90")
    assert r.headers["Content-Type"] == "application/octet-stream" and len(r.content) == 32 * 16 * 4
    for suffix in ("nD", "octet-stream", "png"):
        assert requests.get(f"{base}/raw/0_1_2/8_8_8/0_0_0/{suffix}").content == vol[:8, :8, :8].tobytes()


def test_isotropic_and_arb(server, repo):
    base = new_instance(server, repo, "g", VoxelSize="4,4,40")
    vol = make_volume((0, 0, 0), (64, 64, 64))
    post_raw(base, vol, (0, 0, 0))
    r = requests.get(f"{base}/isotropic/xz/64_64/0_5_0")
    im = np.asarray(Image.open(io.BytesIO(r.content)))
    src = vol[0:6, 5, 0:64]  # round(64*4/40) = 6 source rows, box-stretched to 64
    big = src[np.arange(64 * 6) // 64].astype(np.uint64)
    assert np.array_equal(im, (big.reshape(64, 6, 64).sum(axis=1) // 6).astype(np.uint8))
    xy = requests.get(f"{base}/isotropic/xy/40_40/3_3_3").content
    assert xy == requests.get(f"{base}/raw/xy/40_40/3_3_3").content
    # arb: integral sample points reproduce the xy slice z=2 (VoxelSize 4,4,40 -> z=80 is slice 2)
    r = requests.get(f"{base}/arb/0_0_80/124_0_80/0_124_80/4")
    a = np.asarray(Image.open(io.BytesIO(r.content)))
    assert a.shape == (32, 32) and np.array_equal(a, vol[2, :32, :32])
    assert requests.get(f"{base}/arb/0_0_80/124_0_80/0_124_80/0").status_code == 400
    assert requests.get(f"{base}/arb/0_0_80/124_0_80").status_code == 400


def test_subvolblocks_and_specificblocks(server, repo):
    base = new_instance(server, repo, "g")
    vol = make_volume((0, 0, 0), (64, 64, 32))
    post_raw(base, vol, (0, 0, 0))
    r = requests.get(f"{base}/subvolblocks/96_64_32/0_0_0?compression=uncompressed")
    recs = parse_records(r.content)
    assert [c for c, _ in recs] == [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)]
    assert recs[1][1] == vol[:, 0:32, 32:64].tobytes()
    r = requests.get(f"{base}/subvolblocks/32_32_32/32_0_0")
    (_, payload), = parse_records(r.content)
    assert struct.unpack("<I", payload[:4])[0] == 32768 and lz4.block.decompress(payload) == vol[:, :32, 32:].tobytes()
    assert requests.get(f"{base}/subvolblocks/32_32_32/0_0_0?compression=jpeg").status_code == 400
    assert requests.get(f"{base}/subvolblocks/32_32_32/0_0_0?compression=gzip").status_code == 400
    assert requests.get(f"{base}/subvolblocks/30_32_32/0_0_0").status_code == 400
    assert requests.get(f"{base}/subvolblocks").status_code == 400
    assert requests.get(f"{base}/subvolblocks/32_32_32/320_0_0").content == b""
    r = requests.get(f"{base}/specificblocks?blocks=1,1,0,0,0,0,9,9,9&compression=uncompressed")
    recs = parse_records(r.content)
    assert sorted(c for c, _ in recs) == [(0, 0, 0), (1, 1, 0)]
    assert requests.get(f"{base}/specificblocks?blocks=1,1,0&prefetch=true").content == b""
    assert requests.get(f"{base}/specificblocks?blocks=1,1,0,2").status_code == 400
    assert requests.get(f"{base}/specificblocks").content == b""
    assert requests.post(f"{base}/specificblocks?blocks=1,1,0").status_code == 400


def test_jpeg_instance_streams_jpeg(server, repo):
    base = new_instance(server, repo, "gj", Compression="jpeg", BlockSize="64,64,64")
    vol = np.repeat(np.array([40, 200], np.uint8), 64)[None, None, :].repeat(64, 0).repeat(64, 1)
    post_raw(base, np.ascontiguousarray(vol), (0, 0, 0))
    assert info(base)["Base"]["Compression"] == "jpeg compression, level 64"
    (coord, payload), = parse_records(requests.get(f"{base}/subvolblocks/64_64_64/0_0_0?compression=jpeg").content)
    im = Image.open(io.BytesIO(payload))
    assert im.size == (64, 64 * 64) and im.mode == "L"
    got = get_raw(base, (128, 64, 64), (0, 0, 0)).astype(int)
    assert np.abs(got - vol.astype(int)).mean() < 4


def parse_records(data):
    out, i = [], 0
    while i < len(data):
        x, y, z, n = struct.unpack_from("<iiii", data, i)
        out.append(((x, y, z), data[i + 16 : i + 16 + n]))
        i += 16 + n
    return out


def test_versioning_random_boxes(server, repo):
    """Random aligned writes in parent, child and a sibling branch, random unaligned reads, all
    compared with numpy reference volumes."""
    base_of = lambda u: f"{server.url}/api/node/{u}/g"  # noqa: E731
    new_instance(server, repo, "g")
    rng = np.random.default_rng(11)
    shape = (96, 96, 128)
    refs = {repo: np.zeros(shape, np.uint8)}

    def write(u, n):
        for _ in range(n):
            o = [int(rng.integers(0, s // 32)) * 32 for s in (128, 96, 96)]
            sz = [min(32 * int(rng.integers(1, 3)), lim - oo) for oo, lim in zip(o, (128, 96, 96), strict=True)]
            v = rng.integers(0, 256, (sz[2], sz[1], sz[0]), dtype=np.uint8)
            assert post_raw(base_of(u), v, o).status_code == 200
            refs[u][o[2] : o[2] + sz[2], o[1] : o[1] + sz[1], o[0] : o[0] + sz[0]] = v

    def check(u):
        for _ in range(4):
            o = [int(rng.integers(-10, s - 20)) for s in (128, 96, 96)]
            sz = [int(rng.integers(1, 60)) for _ in range(3)]
            got = get_raw(base_of(u), sz, o)
            ref = np.zeros((sz[2], sz[1], sz[0]), np.uint8)
            lo = [max(0, -oo) for oo in o]
            src = [max(0, oo) for oo in o]
            ext = [max(0, min(oo + ss, lim) - max(oo, 0)) for oo, ss, lim in zip(o, sz, (128, 96, 96), strict=True)]
            ref[lo[2] : lo[2] + ext[2], lo[1] : lo[1] + ext[1], lo[0] : lo[0] + ext[0]] = refs[u][
                src[2] : src[2] + ext[2], src[1] : src[1] + ext[1], src[0] : src[0] + ext[0]]
            assert np.array_equal(got, ref), (u, o, sz)

    write(repo, 4)
    requests.post(f"{server.url}/api/node/{repo}/commit", json={})
    child = requests.post(f"{server.url}/api/node/{repo}/newversion").json()["child"]
    sib = requests.post(f"{server.url}/api/node/{repo}/branch", json={"branch": "side"}).json()["child"]
    refs[child], refs[sib] = refs[repo].copy(), refs[repo].copy()
    write(child, 3)
    write(sib, 3)
    for u in (repo, child, sib):
        check(u)
    r = post_raw(base_of(repo), np.zeros((32, 32, 32), np.uint8), (0, 0, 0))
    assert r.status_code == 400 and 'Cannot do POST on endpoint "raw" of locked node' in r.text
    assert requests.post(f"{base_of(repo)}/raw/0_1_2/32_32_32/0_0_0?admintoken=", data=bytes(32768)).status_code == 400
    check(repo)


def test_rgba8(server, repo):
    base = new_instance(server, repo, "c", typename="rgba8blk")
    vol = np.random.default_rng(3).integers(0, 256, (32, 32, 64, 4), dtype=np.uint8)
    vol[..., 3] = 255
    assert post_raw(base, vol, (0, 0, 0)).status_code == 200
    assert np.array_equal(get_raw(base, (64, 32, 32), (0, 0, 0), channels=4), vol)
    im = Image.open(io.BytesIO(requests.get(f"{base}/raw/xy/64_32/0_0_5").content))
    assert im.mode == "RGB" and np.array_equal(np.asarray(im), vol[5, :, :, :3])
    vol[5, 0, 0, 3] = 10
    post_raw(base, vol, (0, 0, 0))
    im = Image.open(io.BytesIO(requests.get(f"{base}/raw/xy/64_32/0_0_5").content))
    assert im.mode == "RGBA" and np.array_equal(np.asarray(im), vol[5])
    # POST blocks uses 4 bytes per voxel (DVID bug Q6 fixed)
    blk = vol[:, :, :32].tobytes()
    assert requests.post(f"{base}/blocks/5_0_0/1", data=blk).status_code == 200
    assert requests.get(f"{base}/blocks/5_0_0/1").content == blk
    e = info(base)["Extended"]
    assert [v["Label"] for v in e["Values"]] == ["red", "green", "blue", "alpha"]
    # arb on rgba8 indexes correctly (DVID bug Q7 fixed)
    a = np.asarray(Image.open(io.BytesIO(requests.get(f"{base}/arb/0_0_16/248_0_16/0_248_16/8").content)))
    assert a.shape[:2] == (32, 32) and np.array_equal(a[..., :3], vol[2, :32, :32, :3])


def test_roi_masking(server, repo):
    r = requests.post(f"{server.url}/api/repo/{repo}/instance", json={"typename": "roi", "dataname": "myroi"})
    assert r.ok
    assert requests.post(f"{server.url}/api/node/{repo}/myroi/roi", data="[[2,3,10,10],[2,4,12,13]]").ok
    base = new_instance(server, repo, "g")
    masked = new_instance(server, repo, "gm")
    off, size = (288, 64, 64), (160, 128, 32)
    vol = make_volume(off, size)
    post_raw(base, vol, off)
    post_raw(masked, vol, off, "?roi=myroi")
    img = np.asarray(Image.open(io.BytesIO(requests.get(f"{base}/raw/xy/100_100/312_87_67?roi=myroi").content)))
    assert img[0, 0] == 0  # block (9,2,2) is outside
    v = get_raw(base, (1, 1, 1), (10 * 32 + 1, 3 * 32 + 1, 67), query="?roi=myroi")
    assert v[0, 0, 0] == make_volume((321, 97, 67), (1, 1, 1))[0, 0, 0]
    full = get_raw(masked, size, off)
    inside = np.zeros_like(full, bool)
    inside[:, 32:64, 32:64] = True   # block (10,3,2)
    inside[:, 64:96, 96:160] = True  # blocks (12..13,4,2)
    assert np.array_equal(full[inside], vol[inside]) and not full[~inside].any()
    assert requests.get(f"{base}/raw/0_1_2/8_8_8/0_0_0?roi=nosuch").status_code == 400
    for att, code in (("3", 200), ("9", 400), ("x", 400)):
        assert requests.get(f"{base}/info?roi=myroi&attenuation={att}").status_code == code


def test_throttle(server_factory):
    srv = server_factory(extra_toml="adminToken = \"tok\"")
    uuid = srv.new_repo()
    base = new_instance(srv, uuid, "g")
    post_raw(base, make_volume((0, 0, 0), (256, 256, 128)), (0, 0, 0))

    def fetch(_):
        return requests.get(f"{base}/raw/0_1_2/256_256_128/0_0_0?throttle=true", timeout=60)

    with cf.ThreadPoolExecutor(6) as ex:
        codes = [r.status_code for r in ex.map(fetch, range(6))]
    assert 200 in codes
    busy = [r for r in codes if r == 503]
    assert set(codes) <= {200, 503}
    if busy:  # the message is DVID's
        r = None
        with cf.ThreadPoolExecutor(6) as ex:
            for resp in ex.map(fetch, range(6)):
                if resp.status_code == 503:
                    r = resp
        if r is not None:
            assert r.text == "Server already running 1 throttled operations (max = 1)\n"
    # without the flag, never refused
    with cf.ThreadPoolExecutor(4) as ex:
        assert all(r.status_code == 200 for r in ex.map(
            lambda _: requests.get(f"{base}/raw/0_1_2/64_64_64/0_0_0", timeout=60), range(8)))
    r = requests.post(f"{srv.url}/api/server/settings?admintoken=tok", json={"throttle": "0"})
    assert r.text == "Maximum throttled ops set to 0 from 1\n"
    r = requests.get(f"{base}/raw/0_1_2/64_64_64/0_0_0?throttle=on", timeout=60)
    assert r.status_code == 503 and r.text == "Server already running 0 throttled operations (max = 0)\n"
    assert requests.get(f"{base}/subvolblocks/64_64_64/0_0_0?throttle=true").status_code == 503
    assert requests.get(f"{base}/raw/0_1_2/64_64_64/0_0_0", timeout=60).status_code == 200
    assert requests.get(f"{base}/raw/xy/64_64/0_0_0?throttle=true", timeout=60).status_code == 200
    assert requests.post(f"{srv.url}/api/server/settings?admintoken=tok", json={"throttle": 3}).status_code == 400


def test_error_statuses(server, repo):
    base = new_instance(server, repo, "g")
    assert requests.delete(f"{base}/raw/0_1_2/8_8_8/0_0_0").status_code == 400
    assert requests.get(f"{base}/nosuchkeyword").status_code == 400
    assert requests.get(f"{base}/rawkey?x=1&y=2&z=3").content == b""
    helped = requests.get(f"{base}/help")
    assert helped.headers["Content-Type"] == "text/plain"
    assert "physical units" in helped.text and "nm by default" in helped.text  # arb's corners are not voxels
    for path in ("raw/0_1_2/8_8/0_0_0", "raw/0_1_2/a_b_c/0_0_0", "raw/0_1_2/8_8_8/0_0_99999999999",
                 "raw/0_1_2/-8_8_8/0_0_0", "raw/0_1_2/100000_100000_100000/0_0_0", "blocks/0_0/1", "blocks/0_0_0/x",
                 "raw"):
        assert requests.get(f"{base}/{path}").status_code == 400, path
    assert requests.post(f"{base}/extents", data="{").status_code == 400
    assert json.loads(requests.get(f"{base}/info").content)["Extended"]["MinPoint"] is None


def test_large_reads_stream_layer_by_layer(server, repo):
    """Reads of >= 4 MiB are sent one layer of blocks at a time; the bytes must be the same as a
    whole-array gather: unaligned offsets, missing blocks, ROI masking and RGBA."""
    from dvid.datatypes.imageblk.read import STREAM_MIN_BYTES

    base = new_instance(server, repo, "big")
    off, size = (-32, 0, 32), (320, 256, 96)  # 32 block layers-worth of rows; a gap is left below
    vol = make_volume(off, size)
    assert post_raw(base, vol, off).ok
    q_off, q_size = (-45, -7, 3), (333, 270, 150)  # unaligned in x, y, z, reaching past the data
    assert q_size[0] * q_size[1] * q_size[2] >= STREAM_MIN_BYTES
    r = requests.get(f"{base}/raw/0_1_2/{xyz(q_size)}/{xyz(q_off)}", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/octet-stream"
    assert int(r.headers["Content-Length"]) == len(r.content) == q_size[0] * q_size[1] * q_size[2]
    got = np.frombuffer(r.content, np.uint8).reshape(q_size[2], q_size[1], q_size[0])
    ref = np.zeros_like(got)
    lo = [off[a] - q_off[a] for a in range(3)]
    ref[lo[2]:lo[2] + size[2], lo[1]:lo[1] + size[1], lo[0]:lo[0] + size[0]] = vol
    assert np.array_equal(got, ref)

    requests.post(f"{server.url}/api/repo/{repo}/instance", json={"typename": "roi", "dataname": "bigroi"})
    assert requests.post(f"{server.url}/api/node/{repo}/bigroi/roi", data="[[2,3,0,4]]").ok  # z=2, y=3, x 0..4
    masked = get_raw(base, (256, 256, 64), (0, 0, 64), query="?roi=bigroi")
    keep = np.zeros(masked.shape, bool)
    keep[:32, 96:128, 0:160] = True  # block layer z=3 is outside the ROI
    expect = vol[32:96, :, 32:288]
    assert np.array_equal(masked[keep], expect[keep]) and not masked[~keep].any()

    rgba = new_instance(server, repo, "bigrgba", typename="rgba8blk")
    cvol = np.random.default_rng(3).integers(0, 256, (64, 128, 160, 4), dtype=np.uint8)
    assert post_raw(rgba, cvol, (0, 0, 0)).ok
    got = get_raw(rgba, (150, 120, 60), (5, 3, 2), channels=4)
    assert np.array_equal(got, cvol[2:62, 3:123, 5:155])


def test_client_leaving_mid_stream_leaves_server_healthy(server, repo):
    """A client that closes the connection in the middle of a streamed read stops the producer;
    the server keeps answering and writing, and the same read still works."""
    import socket
    from urllib.parse import urlsplit

    base = new_instance(server, repo, "leave")
    vol = make_volume((0, 0, 0), (256, 256, 96))
    assert post_raw(base, vol, (0, 0, 0)).ok
    u = urlsplit(base)
    for _ in range(5):
        with socket.create_connection((u.hostname, u.port), timeout=30) as s:
            s.sendall(f"GET {u.path}/raw/0_1_2/256_256_96/0_0_0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert s.recv(65536)  # headers and a first piece, then hang up
    assert post_raw(base, vol[:32], (0, 0, 96)).ok
    assert np.array_equal(get_raw(base, (256, 256, 96), (0, 0, 0)), vol)
    assert np.array_equal(get_raw(base, (256, 256, 32), (0, 0, 96)), vol[:32])
