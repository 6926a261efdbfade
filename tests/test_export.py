"""Export to zarr v3 / neuroglancer precomputed and import back, as jobs through the CLI."""

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
