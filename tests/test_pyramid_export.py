"""A whole pyramid exported as one multi-scale volume (precomputed scales, OME-Zarr multiscale
group) and imported back into ``<name>`` and ``<name>_k``."""

import json

import numpy as np
import pytest
import requests
import tensorstore as ts

from pyramid_helpers import extents, last_levels, make, post, pyramid, read, status

BS = 16


def levels(server, uuid, name, n, channels=1):
    out = []
    for k in range(n + 1):
        base = f"{server.url}/api/node/{uuid}/{name}" + (f"_{k}" if k else "")
        lo, hi = extents(base)
        out.append((lo, hi, read(base, lo, hi, np.uint8, channels)))
    return out


@pytest.fixture
def built(server, repo):
    base = make(server, repo, "g", BlockSize=f"{BS},{BS},{BS}", VoxelSize="4,4,40")
    vol = np.random.default_rng(31).integers(0, 256, (32, 96, 112), dtype=np.uint8)
    post(base, vol, (-16, 0, 0))
    assert requests.post(f"{base}/extents", json={"MinPoint": [-11, 2, 1], "MaxPoint": [90, 94, 30]}).status_code == 200
    pyramid(server, repo, "g", "levels=3")
    return base, levels(server, repo, "g", 3)


@pytest.mark.parametrize("fmt", ["precomputed", "zarr3"])
def test_round_trip_of_a_pyramid(server, repo, tmp_path, built, fmt):
    base, want = built
    vs = [[4, 4, 40], [8, 8, 40], [16, 16, 40], [32, 32, 40]]  # near-isotropic: 2,2,1 until x, y near z
    dest = tmp_path / f"g.{fmt}"
    res = server.cli("node", repo, "g", "export", str(dest), f"format={fmt}")
    assert res.returncode == 0, res.stderr
    if fmt == "precomputed":
        info = json.loads((dest / "info").read_text())
        assert [s["resolution"] for s in info["scales"]] == vs
        for k, (lo, hi, data) in enumerate(want):
            sc = info["scales"][k]
            assert sc["voxel_offset"] == lo and sc["size"] == [h - a + 1 for a, h in zip(lo, hi, strict=True)]
            t = ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(dest)},
                         "scale_index": k}).result()
            assert np.array_equal(t.read().result()[..., 0].transpose(2, 1, 0), data), f"scale {k}"
    else:
        group = json.loads((dest / "zarr.json").read_text())
        ms = group["attributes"]["ome"]["multiscales"][0]
        assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"] and ms["axes"][0]["unit"] == "nanometer"
        for k, (lo, _hi, data) in enumerate(want):
            d = ms["datasets"][k]
            scale, trans = (t_[key] for t_, key in zip(d["coordinateTransformations"], ("scale", "translation"),
                                                         strict=True))
            assert scale == vs[k][::-1] and trans == [a * v for a, v in zip(lo[::-1], vs[k][::-1], strict=True)]
            t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(dest / d["path"])}}).result()
            assert t.domain.labels == ("z", "y", "x") and np.array_equal(t.read().result(), data), f"scale {k}"
    # import into another instance of a child version: <name> and <name>_k, adopted as its pyramid
    requests.post(f"{server.url}/api/node/{repo}/commit", json={})
    child = requests.post(f"{server.url}/api/node/{repo}/newversion", json={}).json()["child"]
    cbase = make(server, child, "copy", BlockSize=f"{BS},{BS},{BS}", VoxelSize="4,4,40")
    res = server.cli("node", child, "copy", "import", str(dest))
    assert res.returncode == 0, res.stderr
    for (lo, hi, data), (clo, chi, cdata) in zip(want, levels(server, child, "copy", 3), strict=True):
        assert (clo, chi) == (lo, hi) and np.array_equal(cdata, data)
    st = status(cbase)
    assert st["Current"] and [lv["VoxelSize"] for lv in st["Levels"]] == vs[1:]
    # ... so a later write updates only what it touched
    post(cbase, np.zeros((16, 16, 16), np.uint8), (16, 16, 16))  # inside the extents but for z (factor 1)
    pyramid(server, child, "copy")
    assert [lv["computed"] for lv in last_levels(cbase).values()] == [1, 1, 1], last_levels(cbase)


def test_rgba_pyramid_as_ome_zarr_with_channels_first(server, repo, tmp_path):
    base = make(server, repo, "c", "rgba8blk", BlockSize=f"{BS},{BS},{BS}")
    vol = np.random.default_rng(32).integers(0, 256, (32, 32, 64, 4), dtype=np.uint8)
    post(base, vol, (0, 0, 0))
    pyramid(server, repo, "c")
    want = levels(server, repo, "c", 2, channels=4)
    dest = tmp_path / "c.zarr"
    assert server.cli("node", repo, "c", "export", str(dest)).returncode == 0
    ms = json.loads((dest / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]
    assert [a["type"] for a in ms["axes"]] == ["channel", "space", "space", "space"]
    for k, (_, _, data) in enumerate(want):
        t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(dest / str(k))}}).result()
        assert t.domain.labels == ("c", "z", "y", "x") and np.array_equal(np.moveaxis(t.read().result(), 0, 3), data)
    # only level 0, the plain array as before
    flat = tmp_path / "flat.zarr"
    assert server.cli("node", repo, "c", "export", str(flat), "pyramid=false").returncode == 0
    t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(flat)}}).result()
    assert np.array_equal(t.read().result(), vol)
    # importing a pyramid into an instance whose level name is taken by another type is refused
    make(server, repo, "d", "rgba8blk", BlockSize=f"{BS},{BS},{BS}")
    make(server, repo, "d_1", "uint8blk", BlockSize=f"{BS},{BS},{BS}")
    res = server.cli("node", repo, "d", "import", str(dest))
    assert res.returncode == 1 and "cannot take this scale" in res.stderr
    assert extents(f"{server.url}/api/node/{repo}/d") == (None, None)
