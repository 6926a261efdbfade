"""Scale pyramids built by the server: bit-identical to TensorStore's downsample, missing blocks
stay missing, options and errors, ``?scale=N`` reads."""

import io

import numpy as np
import pytest
import requests
from PIL import Image

from dvid.datatypes.imageblk.downsample import near_isotropic_factors, plan_factors
from pyramid_helpers import extents, make, post, pyramid, read, status, ts_levels, wait_current

BS = 16  # small blocks keep the volumes small while every level still spans several blocks

TYPES = {  # typename -> (numpy dtype, channels, method)
    "uint8blk": (np.uint8, 1, "mean"),
    "uint16blk": (np.uint16, 1, "mean"),
    "float32blk": (np.float32, 1, "mean"),
    "rgba8blk": (np.uint8, 4, "mean"),
    "uint64blk": (np.uint64, 1, "mode"),
}


def volume(rng, shape, dtype, channels):
    shape = shape + ((channels,) if channels > 1 else ())
    if dtype == np.float32:
        return (rng.standard_normal(shape) * 1000).astype(np.float32)
    if dtype == np.uint64:
        return rng.integers(0, 4, shape).astype(np.uint64) * np.uint64(2**61)  # labels: few distinct values
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def stored_blocks(base, lo, hi, bs=BS):
    """Block coordinates stored in the instance inside lo..hi (via subvolblocks)."""
    a = [v // bs * bs for v in lo]
    b = [(v // bs + 1) * bs for v in hi]
    r = requests.get(f"{base}/subvolblocks/{b[0] - a[0]}_{b[1] - a[1]}_{b[2] - a[2]}/{a[0]}_{a[1]}_{a[2]}")
    assert r.status_code == 200, r.text
    out, body, i = set(), r.content, 0
    while i < len(body):
        x, y, z, n = np.frombuffer(body[i : i + 16], "<i4")
        out.add((int(x), int(y), int(z)))
        i += 16 + int(n)
    return out


@pytest.mark.parametrize("typename", list(TYPES))
def test_levels_match_tensorstore_with_missing_blocks(server, repo, typename):
    dtype, channels, method = TYPES[typename]
    base = make(server, repo, "v", typename, BlockSize=f"{BS},{BS},{BS}", VoxelSize="8,8,8")
    rng = np.random.default_rng(11)
    # 6x5x4 blocks, with a hole of missing blocks and a missing corner
    for oz in range(0, 64, 16):
        for oy in range(0, 80, 16):
            if (oz, oy) in ((16, 32), (32, 32), (48, 64)):
                continue
            post(base, volume(rng, (16, 16, 96), dtype, channels), (-16, oy, oz))
    # odd, unaligned extents inside the written blocks: the voxels outside must not count
    lo, hi = [-13, 3, 5], [78, 76, 60]
    assert requests.post(f"{base}/extents", json={"MinPoint": lo, "MaxPoint": hi}).status_code == 200
    pyramid(server, repo, "v")
    st = status(base)
    assert st["Current"] and st["Method"] == method
    factors = [tuple(lv["Factors"]) for lv in st["Levels"]]
    per_level = [factors[0]] + [tuple(b // a for a, b in zip(p, c, strict=True)) for p, c in zip(factors, factors[1:], strict=False)]
    assert per_level == plan_factors(lo, hi, (BS,) * 3, (8, 8, 8), None, None) == [(2, 2, 2)] * 3
    v0 = read(base, lo, hi, dtype, channels)
    prev_blocks = stored_blocks(base, lo, hi)
    for k, (want, origin) in enumerate(ts_levels(v0, lo, per_level, method), start=1):
        lb = f"{server.url}/api/node/{repo}/v_{k}"
        klo, khi = extents(lb)
        assert klo == origin and [a + s - 1 for a, s in zip(origin, want.shape[2::-1], strict=True)] == khi
        got = read(lb, klo, khi, dtype, channels)
        assert np.array_equal(got, want), f"level {k} differs from TensorStore's {method}"
        # an output block exists exactly when one of its source blocks (inside the extents) does
        expect = {(x // 2, y // 2, z // 2) for x, y, z in prev_blocks}
        blocks = stored_blocks(lb, klo, khi)
        assert blocks == expect, f"level {k}: stored {sorted(blocks - expect)} extra, {sorted(expect - blocks)} missing"
        prev_blocks = blocks
    assert all(h - a < BS for a, h in zip(klo, khi, strict=True)), "the top level fits in one block"


def test_anisotropic_default_factors_and_explicit_options(server, repo):
    assert near_isotropic_factors((8, 8, 40)) == (2, 2, 1)
    assert plan_factors([0, 0, 0], [4095, 4095, 255], (64, 64, 64), (8, 8, 40), None, None)[:4] == [
        (2, 2, 1), (2, 2, 1), (2, 2, 2), (2, 2, 2)]
    base = make(server, repo, "an", BlockSize=f"{BS},{BS},{BS}", VoxelSize="8,8,40")
    vol = np.random.default_rng(5).integers(0, 256, (32, 128, 128), dtype=np.uint8)
    post(base, vol, (0, 0, 0))
    pyramid(server, repo, "an")
    st = status(base)
    assert [lv["Factors"] for lv in st["Levels"]] == [[2, 2, 1], [4, 4, 1], [8, 8, 2]]
    assert st["Levels"][0]["VoxelSize"] == [16, 16, 40] and st["Levels"][2]["VoxelSize"] == [64, 64, 80]
    want = ts_levels(vol, [0, 0, 0], [(2, 2, 1), (2, 2, 1), (2, 2, 2)])
    for k in (1, 3):
        lb = f"{server.url}/api/node/{repo}/an_{k}"
        assert np.array_equal(read(lb, *extents(lb)), want[k - 1][0])
    # explicit factors and levels over HTTP (JSON body); a changed setting rebuilds in full
    r = requests.post(f"{base}/pyramid", json={"levels": 2, "factors": [2, 2, 2]})
    assert r.status_code == 400 and "already has 3 pyramid levels" in r.text
    r = requests.post(f"{base}/pyramid?levels=3&factors=2,2,2/4,4,1")
    assert r.status_code == 200, r.text
    server.cli("job", r.json()["job"])
    st = wait_current(base)
    assert [lv["Factors"] for lv in st["Levels"]] == [[2, 2, 2], [8, 8, 2], [32, 32, 2]]
    assert all(lv["mode"] == "full" for lv in st["LastUpdate"]["last"]["levels"])
    want = ts_levels(vol, [0, 0, 0], [(2, 2, 2), (4, 4, 1), (4, 4, 1)])
    lb = f"{server.url}/api/node/{repo}/an_2"
    assert np.array_equal(read(lb, *extents(lb)), want[1][0])


def test_scale_query_reads_the_level(server, repo):
    base = make(server, repo, "sq", BlockSize=f"{BS},{BS},{BS}")
    vol = np.random.default_rng(9).integers(0, 256, (64, 64, 64), dtype=np.uint8)
    post(base, vol, (0, 0, 0))
    pyramid(server, repo, "sq", "levels=2")
    l1 = f"{server.url}/api/node/{repo}/sq_1"
    assert np.array_equal(read(base, [3, 4, 5], [20, 30, 31], scale=1), read(l1, [3, 4, 5], [20, 30, 31]))
    assert np.array_equal(read(base, [0, 0, 0], [9, 9, 9], scale=0), vol[:10, :10, :10])
    png = requests.get(f"{base}/raw/xy/16_16/0_0_3", params={"scale": 2})
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
    l2 = read(f"{server.url}/api/node/{repo}/sq_2", [0, 0, 3], [15, 15, 3])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.content))), l2[0])
    blk = requests.get(f"{base}/subvolblocks/16_16_16/0_0_0", params={"scale": 1, "compression": "uncompressed"})
    assert blk.content[16:] == read(l1, [0, 0, 0], [15, 15, 15]).tobytes()
    for q, msg in (({"scale": 3}, "no scale level 3"), ({"scale": "x"}, "scale must be"), ({"scale": -1}, "scale must be")):
        r = requests.get(f"{base}/raw/0_1_2/8_8_8/0_0_0", params=q)
        assert r.status_code == 400 and msg in r.text, r.text
    r = requests.post(f"{base}/raw/0_1_2/16_16_16/0_0_0", params={"scale": 1}, data=bytes(16**3))
    assert r.status_code == 400 and "reads only" in r.text


def test_bad_requests_change_nothing(server, repo):
    base = make(server, repo, "e", BlockSize=f"{BS},{BS},{BS}")
    res = server.cli("node", repo, "e", "pyramid")
    assert res.returncode == 1 and "no extents" in res.stderr
    post(base, np.ones((16, 16, 32), np.uint8), (0, 0, 0))
    for opts, msg in ((["levels=x"], "levels must be"), (["factors=1,1,1"], "not all 1"),
                      (["method=median"], "method must be"), (["colour=red"], "unknown pyramid option"),
                      (["extra"], "only key=value")):
        res = server.cli("node", repo, "e", "pyramid", *opts)
        assert res.returncode == 1 and msg in res.stderr, res.stderr
    f = make(server, repo, "f", "float32blk", BlockSize=f"{BS},{BS},{BS}")
    post(f, np.ones((16, 16, 16), np.float32), (0, 0, 0))
    r = requests.post(f"{f}/pyramid", json={"method": "mode"})
    assert r.status_code == 400 and "integer voxels" in r.text
    # an instance named like a level but not made by the pyramid is never overwritten silently
    mine = make(server, repo, "e_1", BlockSize=f"{BS},{BS},{BS}")
    post(mine, np.full((16, 16, 16), 7, np.uint8), (0, 0, 0))
    res = server.cli("node", repo, "e", "pyramid")
    assert res.returncode == 1 and "was not made by this pyramid" in res.stderr
    assert read(mine, [0, 0, 0], [0, 0, 0])[0, 0, 0] == 7
    assert "e_2" not in requests.get(f"{server.url}/api/repo/{repo}/info").json()["DataInstances"]
    pyramid(server, repo, "e", "overwrite=true")
    assert read(mine, [0, 0, 0], [15, 7, 7]).tolist() == np.ones((8, 8, 16), np.uint8).tolist()
    r = requests.post(f"{base}/pyramid/extra")
    assert r.status_code == 400
