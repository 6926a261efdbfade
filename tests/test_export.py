"""Export to zarr v3 / neuroglancer precomputed and import back, as jobs through the CLI."""

import json

import numpy as np
import pytest
import requests
import tensorstore as ts
from PIL import Image

from helpers import get_raw, new_instance


@pytest.mark.parametrize("fmt", ["zarr3", "precomputed"])
def test_round_trip_unaligned_extent(server, repo, tmp_path, fmt):
    base = new_instance(server, repo, "g")
    stack = np.random.default_rng(7).integers(1, 256, (21, 45, 70), dtype=np.uint8)  # 70 x 45 x 21 at (-5, 3, 40)
    for i, sl in enumerate(stack):
        Image.fromarray(sl).save(tmp_path / f"s{i:02d}.png")
    assert server.cli("node", repo, "g", "load", "-5,3,40", str(tmp_path / "s*.png")).returncode == 0
    requests.post(f"{base}/extents", json={"MinPoint": [-5, 3, 40], "MaxPoint": [64, 47, 60]})
    requests.post(f"{server.url}/api/node/{repo}/commit", json={})  # export reads, so a committed node is fine
    dest = tmp_path / f"out.{fmt}"
    res = server.cli("node", repo, "g", "export", str(dest), f"format={fmt}")
    assert res.returncode == 0, res.stderr
    if fmt == "zarr3":
        t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(dest)}}).result()
        assert t.shape == (21, 45, 70) and np.array_equal(t.read().result(), stack)
        assert t.spec().to_json()["metadata"]["attributes"]["dvid_offset"] == [-5, 3, 40]
    else:
        t = ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(dest)}}).result()
        assert [int(t.domain[i].inclusive_min) for i in range(3)] == [-5, 3, 40]
        assert np.array_equal(t.read().result()[..., 0].transpose(2, 1, 0), stack)
    child = requests.post(f"{server.url}/api/node/{repo}/newversion").json()["child"]
    cbase = new_instance(server, child, "copy")
    res = server.cli("node", child, "copy", "import", str(dest))
    assert res.returncode == 0, res.stderr
    assert np.array_equal(get_raw(cbase, (70, 45, 21), (-5, 3, 40)), stack)
    assert requests.get(f"{cbase}/info").json()["Extended"]["MinPoint"] == [-5, 3, 40]
    res = server.cli("node", child, "copy", "import", str(dest), "offset=100,0,0")
    assert res.returncode == 0
    assert np.array_equal(get_raw(cbase, (70, 45, 21), (100, 0, 0)), stack)


def test_rgba_export_and_errors(server, repo, tmp_path):
    base = new_instance(server, repo, "c", typename="rgba8blk")
    vol = np.random.default_rng(8).integers(0, 256, (32, 32, 64, 4), np.uint8)
    requests.post(f"{base}/raw/0_1_2/64_32_32/0_0_0", data=vol.tobytes())
    dest = tmp_path / "c.zarr"
    assert server.cli("node", repo, "c", "export", str(dest)).returncode == 0
    t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(dest)}}).result()
    assert np.array_equal(t.read().result(), vol)
    new_instance(server, repo, "empty")
    res = server.cli("node", repo, "empty", "export", str(tmp_path / "e"))
    assert res.returncode == 1 and "no extents" in res.stderr
    assert server.cli("node", repo, "c", "export", str(tmp_path / "x"), "format=hdf5").returncode == 1
    res = server.cli("node", repo, "empty", "import", str(tmp_path / "nothing"))
    assert res.returncode == 1 and "format" in res.stderr
    g = new_instance(server, repo, "g8")
    res = server.cli("node", repo, "g8", "import", str(dest))  # 4 channels into a 1-channel type
    assert res.returncode == 1
    assert requests.get(f"{g}/info").json()["Extended"]["MinPoint"] is None


def _smooth(shape, seed):
    """Smooth grayscale with mild noise: what JPEG is for (uniform noise would make every error large)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    img = 128 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0) + 20 * np.sin(z / 7.0) + rng.normal(0, 3, shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _open_precomputed(path, scale=0):
    return ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(path)},
                    "scale_index": scale}).result()


def test_precomputed_export_of_a_jpeg_instance_writes_jpeg_chunks(server, repo, tmp_path):
    base = new_instance(server, repo, "j", BlockSize="64,64,64", Compression="jpeg")
    vol = _smooth((64, 64, 128), 3)
    requests.post(f"{base}/raw/0_1_2/128_64_64/0_0_0", data=vol.tobytes(), timeout=60).raise_for_status()
    served = get_raw(base, (128, 64, 64))  # what we serve: our own JPEG blocks, decoded
    dest = tmp_path / "j.precomputed"
    res = server.cli("node", repo, "j", "export", str(dest), "format=precomputed")
    assert res.returncode == 0, res.stderr
    info = json.loads((dest / "info").read_text())
    assert info["scales"][0]["encoding"] == "jpeg" and info["scales"][0]["jpeg_quality"] == 80
    chunk = (dest / info["scales"][0]["key"] / "0-64_0-64_0-64").read_bytes()
    assert chunk[:2] == b"\xff\xd8"  # a JPEG file, as nginx would send it
    got = _open_precomputed(dest).read().result()[..., 0].transpose(2, 1, 0)
    assert got.shape == served.shape
    err = np.abs(got.astype(np.int16) - served.astype(np.int16))
    assert err.mean() < 3 and np.abs(got.astype(np.int16) - vol.astype(np.int16)).mean() < 4, err.mean()
    raw_dest = tmp_path / "raw.precomputed"
    res = server.cli("node", repo, "j", "export", str(raw_dest), "format=precomputed", "encoding=raw")
    assert res.returncode == 0, res.stderr
    assert json.loads((raw_dest / "info").read_text())["scales"][0]["encoding"] == "raw"
    assert np.array_equal(_open_precomputed(raw_dest).read().result()[..., 0].transpose(2, 1, 0), served)


def test_jpeg_export_of_a_pyramid_and_refusals(server, repo, tmp_path):
    base = new_instance(server, repo, "p", BlockSize="32,32,32")  # lz4 blocks: raw unless asked
    requests.post(f"{base}/raw/0_1_2/128_64_64/0_0_0", data=_smooth((64, 64, 128), 4).tobytes(), timeout=60)
    assert server.cli("node", repo, "p", "pyramid", "levels=1").returncode == 0
    dest = tmp_path / "p.precomputed"
    assert server.cli("node", repo, "p", "export", str(dest), "format=precomputed").returncode == 0
    assert [s["encoding"] for s in json.loads((dest / "info").read_text())["scales"]] == ["raw", "raw"]
    res = server.cli("node", repo, "p", "export", str(dest), "format=precomputed", "encoding=jpeg")
    assert res.returncode == 0, res.stderr
    scales = json.loads((dest / "info").read_text())["scales"]
    assert [(s["encoding"], s["jpeg_quality"]) for s in scales] == [("jpeg", 80), ("jpeg", 80)]
    level1 = _open_precomputed(dest, 1).read().result()[..., 0].transpose(2, 1, 0)
    served1 = get_raw(f"{server.url}/api/node/{repo}/p_1", (64, 32, 32))
    assert np.abs(level1.astype(np.int16) - served1.astype(np.int16)).mean() < 4
    c = new_instance(server, repo, "c", typename="rgba8blk")
    requests.post(f"{c}/raw/0_1_2/32_32_32/0_0_0", data=bytes(32 * 32 * 32 * 4), timeout=60)
    for inst, opts, words in [("c", ["format=precomputed", "encoding=jpeg"], "1-channel uint8"),
                              ("p", ["encoding=jpeg"], "format=precomputed"),
                              ("p", ["format=precomputed", "encoding=png"], "raw, jpeg")]:
        res = server.cli("node", repo, inst, "export", str(tmp_path / "bad"), *opts)
        assert res.returncode == 1 and words in res.stderr, (opts, res.stderr)
    assert not (tmp_path / "bad").exists()
