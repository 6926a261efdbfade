"""A replicated SeaweedFS topology (master, two volume servers, filer+S3, replication 001): with one
volume server killed, every block of a committed version still reads correctly through the server."""

import numpy as np
import requests

from seaweed import SeaweedCluster


def test_committed_blocks_survive_volume_server_loss(server_factory):
    cluster = SeaweedCluster().start()
    try:
        srv = server_factory(store_section=cluster.toml("replicated", "dvid"))
        uuid = srv.new_repo()
        assert requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"}).ok
        vol = np.random.default_rng(9).integers(0, 256, (64, 96, 96), np.uint8)
        assert requests.post(f"{srv.url}/api/node/{uuid}/g/raw/0_1_2/96_96_64/0_0_0", data=vol.tobytes(), timeout=120).ok
        assert requests.post(f"{srv.url}/api/node/{uuid}/commit", json={}).ok
        cluster.kill("volume2")
        got = requests.get(f"{srv.url}/api/node/{uuid}/g/raw/0_1_2/96_96_64/0_0_0", timeout=120)
        assert got.status_code == 200 and got.content == vol.tobytes()  # all 18 blocks from the surviving replica
        info = requests.get(f"{srv.url}/api/node/{uuid}/g/info", timeout=60).json()
        assert info["Extended"]["MaxPoint"] == [95, 95, 63]
        srv.stop()
    finally:
        cluster.stop()
