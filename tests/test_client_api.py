"""Our own Python client against the real server (it is also what the benchmarks use)."""

import numpy as np
import pytest

from dvid.client import DVIDClient, DVIDError


def test_client_round_trips(server):
    c = DVIDClient(server.url)
    uuid = c.new_repo("client", "client test")
    assert uuid in c.repos_info() and c.repo_info(uuid[:6])["Alias"] == "client"
    c.new_instance(uuid, "uint8blk", "g", BlockSize=(32, 32, 32))
    c.new_instance(uuid, "rgba8blk", "c")
    c.new_instance(uuid, "roi", "r")
    vol = np.random.default_rng(0).integers(0, 256, (32, 64, 64), np.uint8)
    c.post_raw(uuid, "g", vol, (0, 0, 0), mutate=True)
    assert np.array_equal(c.raw(uuid, "g", (64, 64, 32)), vol)
    assert np.array_equal(c.raw(uuid, "g", (10, 20, 5), (3, 4, 5)), vol[5:10, 4:24, 3:13])
    rgba = np.random.default_rng(1).integers(0, 256, (32, 32, 32, 4), np.uint8)
    c.post_raw(uuid, "c", rgba)
    assert np.array_equal(c.raw(uuid, "c", (32, 32, 32)), rgba)
    recs = dict(c.subvolblocks(uuid, "g", (64, 64, 32), (0, 0, 0), compression="uncompressed"))
    assert recs[(1, 1, 0)] == vol[:, 32:, 32:].tobytes()
    assert c.slice(uuid, "g", "xy", (64, 64), (0, 0, 3))[:4] == b"\x89PNG"
    c.post_roi(uuid, "r", [[0, 0, 0, 1]])
    assert c.roi(uuid, "r") == [[0, 0, 0, 1]]
    assert c.commit(uuid, "done") == uuid and c.locked(uuid)
    child = c.newversion(uuid)
    side = c.branch(uuid, "side")
    assert c.branch_versions(child) == [child, uuid] and c.branch_versions(side, "side") == [side, uuid]
    c.commit(child)
    c.commit(side)
    m = c.merge(uuid, [child, side])
    assert len(c.repo_info(m)["DAG"]["Nodes"][m]["Parents"]) == 2
    with pytest.raises(DVIDError) as e:
        c.post_raw(uuid, "g", vol)
    assert e.value.status == 400 and "locked node" in e.value.message
