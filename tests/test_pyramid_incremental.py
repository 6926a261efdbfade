"""Pyramid updates: only what a version changed since the last run, versions apart, committed
versions refused, and the automatic mode with two worker processes sharing the store."""

import numpy as np
import pytest
import requests

from pyramid_helpers import extents, last_levels, make, post, pyramid, read, status, ts_levels, wait_current

BS = 16


def levels_of(server, uuid, name, n):
    out = []
    for k in range(1, n + 1):
        lb = f"{server.url}/api/node/{uuid}/{name}_{k}"
        out.append(read(lb, *extents(lb)))
    return out


def test_incremental_update_touches_only_affected_blocks(server, repo):
    rng = np.random.default_rng(21)
    vol = rng.integers(0, 256, (64, 128, 128), dtype=np.uint8)  # 8x8x4 blocks -> levels of 16, 2, 1 blocks
    inc = make(server, repo, "inc", BlockSize=f"{BS},{BS},{BS}")
    post(inc, vol, (0, 0, 0))
    pyramid(server, repo, "inc")
    assert [lv["written"] for lv in last_levels(inc).values()] == [32, 4, 1]
    assert status(inc)["Current"]
    # one block-aligned 16³ POST: one block per level is recomputed, nothing else is read or written
    patch = rng.integers(0, 256, (16, 16, 16), dtype=np.uint8)
    post(inc, patch, (48, 32, 16))
    st = status(inc)
    assert not st["Current"] and st["PendingChanges"] == 1 and st["PendingBlocks"] == 1
    res = pyramid(server, repo, "inc")
    assert "level 1 (incremental): 1 computed, 1 written, 0 deleted" in res.stdout
    lv = last_levels(inc)
    assert [(lv[k]["dirty"], lv[k]["computed"], lv[k]["written"]) for k in (1, 2, 3)] == [(1, 1, 1)] * 3
    assert status(inc)["Current"] and status(inc)["PendingChanges"] == 0
    # the same result as a full rebuild of the same data
    vol[16:32, 32:48, 48:64] = patch
    full = make(server, repo, "full", BlockSize=f"{BS},{BS},{BS}")
    post(full, vol, (0, 0, 0))
    pyramid(server, repo, "full")
    for a, b, (want, _) in zip(levels_of(server, repo, "inc", 3), levels_of(server, repo, "full", 3),
                               ts_levels(vol, [0, 0, 0], [(2, 2, 2)] * 3), strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, want)
    # rewriting a block with the same voxels recomputes level 1's block, which comes out equal and stops there
    post(inc, patch, (48, 32, 16))
    pyramid(server, repo, "inc")
    lv = last_levels(inc)
    assert (lv[1]["computed"], lv[1]["written"], lv[2]["dirty"], lv[3]["dirty"]) == (1, 0, 0, 0)
    # nothing pending: an update does nothing
    pyramid(server, repo, "inc")
    assert [lv["dirty"] for lv in last_levels(inc).values()] == [0, 0, 0]


def test_extents_moving_off_the_window_grid_recomputes_the_edge(server, repo):
    rng = np.random.default_rng(22)
    vol = rng.integers(0, 256, (32, 64, 64), dtype=np.uint8)
    g = make(server, repo, "edge", BlockSize=f"{BS},{BS},{BS}")
    post(g, vol, (0, 0, 0))
    requests.post(f"{g}/extents", json={"MinPoint": [0, 0, 0], "MaxPoint": [60, 63, 31]})
    pyramid(server, repo, "edge")
    # grow x by 2 voxels with no block written: level 1's windows at x=60..61 now hold two voxels
    requests.post(f"{g}/extents", json={"MinPoint": [0, 0, 0], "MaxPoint": [62, 63, 31]})
    assert not status(g)["Current"]
    pyramid(server, repo, "edge")
    lv = last_levels(g)
    assert lv[1]["dirty"] == 2 * 1  # the x-edge plane of level 1: 1 block column x 2 rows in y x 1 layer
    sub = vol[:, :, :63]
    for k, (want, _) in enumerate(ts_levels(sub, [0, 0, 0], [(2, 2, 2)] * 2), start=1):
        lb = f"{server.url}/api/node/{repo}/edge_{k}"
        assert extents(lb)[1] == [want.shape[2] - 1, want.shape[1] - 1, want.shape[0] - 1]
        assert np.array_equal(read(lb, *extents(lb)), want)


def test_versions_parent_unchanged_child_follows(server, repo):
    rng = np.random.default_rng(23)
    vol = rng.integers(0, 256, (32, 64, 64), dtype=np.uint8)
    base = make(server, repo, "ver", BlockSize=f"{BS},{BS},{BS}")
    post(base, vol, (0, 0, 0))
    pyramid(server, repo, "ver")
    before = levels_of(server, repo, "ver", 2)
    post(base, np.zeros((16, 16, 16), np.uint8), (0, 0, 0))  # written but not downsampled before the commit
    assert requests.post(f"{server.url}/api/node/{repo}/commit", json={"note": "v1"}).status_code == 200
    # committed: refused like any write, over the command channel and over HTTP
    res = server.cli("node", repo, "ver", "pyramid")
    assert res.returncode == 1 and "committed" in res.stderr
    r = requests.post(f"{base}/pyramid")
    assert r.status_code == 400 and "locked" in r.text
    child = requests.post(f"{server.url}/api/node/{repo}/newversion", json={}).json()["child"]
    cbase = f"{server.url}/api/node/{child}/ver"
    st = status(cbase)
    assert not st["Current"] and st["PendingChanges"] == 1  # the parent's unprocessed write
    assert all(np.array_equal(a, b) for a, b in zip(levels_of(server, child, "ver", 2), before, strict=True))
    patch = rng.integers(0, 256, (16, 16, 16), dtype=np.uint8)
    post(cbase, patch, (48, 48, 16))
    pyramid(server, child, "ver")
    assert status(cbase)["Current"] and status(cbase)["PendingChanges"] == 0
    assert last_levels(cbase)[1]["computed"] == 2  # the parent's pending block and the child's
    cvol = vol.copy()
    cvol[:16, :16, :16] = 0
    cvol[16:32, 48:64, 48:64] = patch
    for got, (want, _) in zip(levels_of(server, child, "ver", 2), ts_levels(cvol, [0, 0, 0], [(2, 2, 2)] * 2),
                              strict=True):
        assert np.array_equal(got, want)
    # the parent still shows its own pyramid, and still knows its write was never downsampled
    assert all(np.array_equal(a, b) for a, b in zip(levels_of(server, repo, "ver", 2), before, strict=True))
    assert status(base)["PendingChanges"] == 1 and not status(base)["Current"]


@pytest.fixture(scope="module")
def two_workers(server_factory):
    return server_factory(workers=2)


def test_auto_pyramid_with_two_workers(two_workers):
    srv = two_workers
    uuid = srv.new_repo()
    base = make(srv, uuid, "auto", BlockSize=f"{BS},{BS},{BS}")
    rng = np.random.default_rng(24)
    vol = np.zeros((48, 64, 64), np.uint8)
    vol[:16] = rng.integers(0, 256, (16, 64, 64), dtype=np.uint8)
    post(base, vol[:16], (0, 0, 0))
    r = requests.post(f"{base}/pyramid", json={"auto": True, "debounce": 0.2})
    assert r.status_code == 200, r.text
    wait_current(base)
    # many small writes, spread over both workers; each worker schedules updates on its own
    for i in range(12):
        z, y, x = 16 + 16 * (i % 2), 16 * (i // 4), 16 * (i % 4)
        blk = rng.integers(0, 256, (16, 16, 16), dtype=np.uint8)
        vol[z : z + 16, y : y + 16, x : x + 16] = blk
        post(base, blk, (x, y, z))
    st = wait_current(base)
    assert st["Auto"] and st["PendingChanges"] == 0
    lo, hi = extents(base)
    assert (lo, hi) == ([0, 0, 0], [63, 63, 47])
    for k, (want, _) in enumerate(ts_levels(vol, lo, [(2, 2, 2)] * 2), start=1):
        lb = f"{srv.url}/api/node/{uuid}/auto_{k}"
        assert np.array_equal(read(lb, *extents(lb)), want), f"level {k}"
    # turning it off: writes stay pending until someone runs the command
    assert requests.post(f"{base}/pyramid", json={"auto": False}).status_code == 200
    wait_current(base)
    post(base, np.ones((16, 16, 16), np.uint8), (0, 0, 0))
    assert status(base)["PendingChanges"] == 1 and not status(base)["Auto"]


@pytest.fixture(scope="module")
def bricks_server(server_factory):
    """The object-store layout (bricks + per-version indexes), over the in-memory engine."""
    return server_factory(store_section='engine = "memory"\nlayout = "bricks"\n')


def test_pyramid_on_the_object_store_layout(bricks_server):
    srv = bricks_server
    uuid = srv.new_repo()
    base = make(srv, uuid, "ob", BlockSize=f"{BS},{BS},{BS}")
    rng = np.random.default_rng(25)
    vol = rng.integers(0, 256, (32, 64, 64), dtype=np.uint8)
    post(base, vol, (0, 0, 0))
    pyramid(srv, uuid, "ob")
    patch = rng.integers(0, 256, (16, 16, 16), dtype=np.uint8)
    post(base, patch, (16, 32, 16))
    pyramid(srv, uuid, "ob")
    assert [lv["computed"] for lv in last_levels(base).values()] == [1, 1]
    assert status(base)["Current"] and status(base)["PendingChanges"] == 0
    vol[16:32, 32:48, 16:32] = patch
    assert requests.post(f"{srv.url}/api/node/{uuid}/commit", json={}).status_code == 200
    child = requests.post(f"{srv.url}/api/node/{uuid}/newversion", json={}).json()["child"]
    cbase = f"{srv.url}/api/node/{child}/ob"
    post(cbase, np.zeros((16, 16, 16), np.uint8), (0, 0, 0))
    pyramid(srv, child, "ob")
    cvol = vol.copy()
    cvol[:16, :16, :16] = 0
    for k, ((want, _), (pwant, _)) in enumerate(zip(ts_levels(cvol, [0, 0, 0], [(2, 2, 2)] * 2),
                                                  ts_levels(vol, [0, 0, 0], [(2, 2, 2)] * 2), strict=True), start=1):
        assert np.array_equal(read(f"{srv.url}/api/node/{child}/ob_{k}", *extents(f"{cbase}_{k}")), want)
        assert np.array_equal(read(f"{base}_{k}", *extents(f"{base}_{k}")), pwant)
