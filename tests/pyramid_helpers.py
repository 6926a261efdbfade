"""Shared helpers for the pyramid tests: instances, raw reads/writes, TensorStore references."""

from __future__ import annotations

import json
import time

import numpy as np
import requests
import tensorstore as ts


def make(server, uuid, name, typename="uint8blk", **settings):
    body = {"typename": typename, "dataname": name, **{k: str(v) for k, v in settings.items()}}
    r = requests.post(f"{server.url}/api/repo/{uuid}/instance", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return f"{server.url}/api/node/{uuid}/{name}"


def post(base, vol, off, **params):
    z, y, x = vol.shape[:3]
    r = requests.post(f"{base}/raw/0_1_2/{x}_{y}_{z}/{off[0]}_{off[1]}_{off[2]}", params=params,
                      data=np.ascontiguousarray(vol).tobytes(), timeout=60)
    assert r.status_code == 200, r.text


def read(base, lo, hi, dtype=np.uint8, channels=1, **params):
    size = [h - l_ + 1 for l_, h in zip(lo, hi, strict=True)]
    r = requests.get(f"{base}/raw/0_1_2/{size[0]}_{size[1]}_{size[2]}/{lo[0]}_{lo[1]}_{lo[2]}", params=params,
                     timeout=60)
    assert r.status_code == 200, r.text
    shape = (size[2], size[1], size[0]) + ((channels,) if channels > 1 else ())
    return np.frombuffer(r.content, dtype).reshape(shape)


def info(base):
    return requests.get(f"{base}/info", timeout=30).json()


def extents(base):
    e = info(base)["Extended"]
    return e["MinPoint"], e["MaxPoint"]


def pyramid(server, uuid, name, *opts):
    """Run the pyramid command through the CLI (it follows the job to its end)."""
    res = server.cli("node", uuid, name, "pyramid", *opts)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def status(base):
    r = requests.get(f"{base}/pyramid", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def last_levels(base):
    return {lv["level"]: lv for lv in status(base)["LastUpdate"]["last"]["levels"]}


def wait_current(base, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(base)
        if st["Current"] and not st["Updating"]:
            return st
        time.sleep(0.2)
    raise AssertionError(f"pyramid never became current: {json.dumps(status(base))}")


def ts_levels(vol_zyx, lo, factors, method="mean"):
    """TensorStore's chained downsample of the level-0 voxels ``vol_zyx`` (first voxel at ``lo``,
    x, y, z): level k is its downsample of level k-1. Returns [(array, lo_xyz), ...] for k >= 1."""
    extra = vol_zyx.shape[3:]
    t = ts.array(np.ascontiguousarray(vol_zyx)).translate_to[(lo[2], lo[1], lo[0]) + (0,) * len(extra)]
    out = []
    for f in factors:
        t = ts.downsample(t, [f[2], f[1], f[0]] + [1] * len(extra), method)
        arr = t.read().result()
        origin = [int(t.domain[2].inclusive_min), int(t.domain[1].inclusive_min), int(t.domain[0].inclusive_min)]
        out.append((arr, origin))
        t = ts.array(arr).translate_to[(origin[2], origin[1], origin[0]) + (0,) * len(extra)]
    return out
