"""Getting data in: ``load`` and ``put local`` as server jobs, ``put remote`` from the CLI, with
read-modify-write of partly covered blocks, extents, job records and error reporting."""

import json
import time

import numpy as np
import pytest
import requests
from PIL import Image

from helpers import get_raw, new_instance


def write_stack(tmp_path, stack, fmt="png", prefix="img"):
    paths = []
    for i, sl in enumerate(stack):
        p = tmp_path / f"{prefix}{i:04d}.{fmt}"
        Image.fromarray(sl).save(p)
        paths.append(p)
    return paths


def job_of(stdout):
    line = [ln for ln in stdout.splitlines() if ln.startswith("job ")]
    return line[-1].split()[1] if line else None


def test_load_unaligned_stack_read_modify_write(server, repo, tmp_path):
    base = new_instance(server, repo, "g")
    rng = np.random.default_rng(0)
    old = rng.integers(0, 256, (64, 64, 96), dtype=np.uint8)  # existing data around the stack
    assert requests.post(f"{base}/raw/0_1_2/96_64_64/0_0_0", data=old.tobytes()).ok
    stack = rng.integers(0, 256, (40, 37, 50), dtype=np.uint8)  # 40 files of 50x37 at (10,20,5)
    write_stack(tmp_path, stack)
    res = server.cli("node", repo, "g", "load", "10,20,5", str(tmp_path / "img*.png"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f'Asynchronously loading 40 files into data instance "g" @ node {repo}')
    expect = old.copy()
    expect[5:45, 20:57, 10:60] = stack
    assert np.array_equal(get_raw(base, (96, 64, 64), (0, 0, 0)), expect)
    e = requests.get(f"{base}/info").json()["Extended"]
    assert e["MinPoint"] == [0, 0, 0] and e["MaxPoint"] == [95, 63, 63]
    rec = requests.get(f"{server.url}/api/server/jobs/{job_of(res.stdout)}").json()
    assert rec["state"] == "done" and rec["files_done"] == rec["files_total"] == 40 and rec["blocks_done"] > 0
    log = requests.get(f"{server.url}/api/node/{repo}/log").json()["log"]
    assert any("load 10,20,5" in line for line in log)


def test_load_extents_and_tiff16(server, repo, tmp_path):
    base = new_instance(server, repo, "g16", typename="uint16blk")
    stack = np.random.default_rng(1).integers(0, 65535, (8, 30, 20), dtype=np.uint16)
    for i, sl in enumerate(stack):
        Image.fromarray(sl).save(tmp_path / f"s{i:02d}.tif")
    res = server.cli("node", repo, "g16", "load", "-5,0,100", str(tmp_path / "*.tif"))
    assert res.returncode == 0, res.stderr
    assert np.array_equal(get_raw(base, (20, 30, 8), (-5, 0, 100), dtype=np.uint16), stack)
    e = requests.get(f"{base}/info").json()["Extended"]
    assert e["MinPoint"] == [-5, 0, 100] and e["MaxPoint"] == [14, 29, 107]


def test_load_rgb_into_rgba_and_refusals(server, repo, tmp_path):
    base = new_instance(server, repo, "c", typename="rgba8blk")
    rgb = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    write_stack(tmp_path, rgb, prefix="rgb")
    assert server.cli("node", repo, "c", "load", "0,0,0", str(tmp_path / "rgb*.png")).returncode == 0
    got = get_raw(base, (16, 16, 3), (0, 0, 0), channels=4)
    assert np.array_equal(got[..., :3], rgb) and (got[..., 3] == 255).all()
    # RGB into uint8blk is refused per file with a clear message; the job fails, the CLI exits 1
    new_instance(server, repo, "g")
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "rgb*.png"))
    assert res.returncode == 1 and "grayscale" in res.stderr and "rgb0000.png" in res.stderr
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "nothing*.png"))
    assert res.returncode == 1 and "Couldn't find any files to add." in res.stderr
    (tmp_path / "vol.h5").write_bytes(b"x")
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "vol.h5"))
    assert res.returncode == 1 and "HDF5" in res.stderr


def test_bad_file_midway_keeps_other_slices(server, repo, tmp_path):
    base = new_instance(server, repo, "g")
    stack = np.random.default_rng(3).integers(1, 256, (4, 32, 32), dtype=np.uint8)
    paths = write_stack(tmp_path, stack)
    paths[2].write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "img*.png"))
    assert res.returncode == 1 and "img0002.png" in res.stderr
    got = get_raw(base, (32, 32, 4), (0, 0, 0))
    assert np.array_equal(got[[0, 1, 3]], stack[[0, 1, 3]]) and not got[2].any()
    rec = requests.get(f"{server.url}/api/server/jobs/{job_of(res.stdout)}").json()
    assert rec["state"] == "failed" and rec["errors"][0]["file"].endswith("img0002.png")


def test_put_local_planes(server, repo, tmp_path):
    base = new_instance(server, repo, "g")
    xz = np.random.default_rng(4).integers(0, 256, (3, 20, 40), dtype=np.uint8)  # height z, width x
    write_stack(tmp_path, xz, prefix="xz")
    res = server.cli("node", repo, "g", "put", "local", "xz", "5,7,9", str(tmp_path / "xz*.png"))
    assert res.returncode == 0, res.stderr
    got = get_raw(base, (40, 3, 20), (5, 7, 9))
    assert np.array_equal(got.transpose(1, 0, 2), xz)
    assert requests.get(f"{base}/info").json()["Extended"]["MaxPoint"] == [44, 9, 28]


def test_put_remote_from_client_disk(server, repo, tmp_path):
    base = new_instance(server, repo, "g")
    old = np.full((32, 64, 64), 9, np.uint8)
    requests.post(f"{base}/raw/0_1_2/64_64_32/0_0_0", data=old.tobytes())
    stack = np.random.default_rng(5).integers(0, 256, (10, 30, 40), dtype=np.uint8)
    write_stack(tmp_path, stack)
    res = server.cli(f"--http={server.url}", "node", repo, "g", "put", "remote", "xy", "3,4,28", str(tmp_path / "img*.png"))
    assert res.returncode == 0, res.stderr
    assert f"put 10 files into g @ {repo}" in res.stdout
    got = get_raw(base, (64, 64, 40), (0, 0, 0))
    expect = np.zeros((40, 64, 64), np.uint8)
    expect[:32] = 9
    expect[28:38, 4:34, 3:43] = stack
    assert np.array_equal(got, expect)
    # without --http the CLI asks the server for its HTTP address
    res = server.cli("node", repo, "g", "put", "remote", "xy", "3,4,28", str(tmp_path / "img000*.png"))
    assert res.returncode == 0, res.stderr


def test_commands_refused_on_committed_node(server, repo, tmp_path):
    new_instance(server, repo, "g")
    write_stack(tmp_path, np.zeros((1, 8, 8), np.uint8))
    requests.post(f"{server.url}/api/node/{repo}/commit", json={})
    res = server.cli("node", repo, "g", "load", "0,0,0", str(tmp_path / "img*.png"))
    assert res.returncode == 1 and "committed" in res.stderr


def test_jobs_listing_and_no_wait(server, repo, tmp_path):
    new_instance(server, repo, "g")
    write_stack(tmp_path, np.ones((40, 64, 64), np.uint8))
    res = server.cli("--no-wait", "node", repo, "g", "load", "0,0,0", str(tmp_path / "img*.png"))
    assert res.returncode == 0 and job_of(res.stdout)
    jid = job_of(res.stdout)
    deadline = time.time() + 60
    while time.time() < deadline:
        rec = json.loads(server.cli("--json", "job", jid).stdout)
        if rec["state"] != "running":
            break
        time.sleep(0.2)
    assert rec["state"] == "done"
    assert any(j["id"] == jid for j in requests.get(f"{server.url}/api/server/jobs").json())
    assert requests.get(f"{server.url}/api/server/jobs/nosuchjob").status_code == 400


@pytest.mark.parametrize("bad", [["load"], ["load", "1,2"], ["load", "a,b,c", "*.png"], ["put", "local", "qq", "0,0,0", "*.png"],
                                 ["frobnicate"]])
def test_bad_commands(server, repo, bad):
    new_instance(server, repo, "g")
    res = server.cli("node", repo, "g", *bad)
    assert res.returncode == 1 and res.stderr.strip()
