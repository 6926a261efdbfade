"""The server on the S3 engine against a real SeaweedFS: the HTTP API works unchanged, and two
``dvid serve`` front ends on one bucket see each other's repos, versions and blocks without losing
concurrent metadata updates."""

import concurrent.futures as cf
import uuid as uuidlib

import numpy as np
import pytest
import requests

from helpers import new_instance
from test_imageblk_http import make_volume

pytest_plugins = ["seaweed"]


@pytest.fixture(scope="module")
def front_ends(server_factory, seaweed):
    prefix = uuidlib.uuid4().hex
    section = seaweed.toml("dvidtest", prefix)
    a = server_factory(store_section=section)
    b = server_factory(store_section=section)
    return a, b


def test_http_api_on_s3(front_ends):
    a, _ = front_ends
    uuid = a.new_repo("s3", "on seaweedfs")
    new_instance(a, uuid, "g")
    vol = make_volume((0, 0, 0), (96, 64, 64))
    assert requests.post(f"{a.url}/api/node/{uuid}/g/raw/0_1_2/96_64_64/0_0_0", data=vol.tobytes()).ok
    r = requests.get(f"{a.url}/api/node/{uuid}/g/raw/0_1_2/50_40_30/10_5_7")
    assert r.content == vol[7:37, 5:45, 10:60].tobytes()
    info = requests.get(f"{a.url}/api/node/{uuid}/g/info").json()
    assert info["Base"]["KVStore"].startswith("s3 @ ") and info["Extended"]["MaxPoint"] == [95, 63, 63]
    requests.post(f"{a.url}/api/node/{uuid}/commit", json={})
    child = requests.post(f"{a.url}/api/node/{uuid}/newversion").json()["child"]
    requests.post(f"{a.url}/api/node/{child}/g/raw/0_1_2/32_32_32/0_0_0", data=bytes(32768))
    assert requests.get(f"{a.url}/api/node/{uuid}/g/raw/0_1_2/32_32_32/0_0_0").content == vol[:32, :32, :32].tobytes()
    assert requests.get(f"{a.url}/api/node/{child}/g/raw/0_1_2/32_32_32/0_0_0").content == bytes(32768)
    recs = requests.get(f"{a.url}/api/node/{uuid}/g/subvolblocks/96_64_64/0_0_0?compression=uncompressed").content
    assert len(recs) == 12 * (16 + 32768)


def test_two_front_ends_share_everything(front_ends):
    a, b = front_ends
    uuid = a.new_repo("shared", "two front ends")
    assert b.cli("repos", "new", "fromb", "x").returncode == 0
    roots_a = set(requests.get(f"{a.url}/api/repos/info").json())
    assert uuid in set(requests.get(f"{b.url}/api/repos/info").json()) and roots_a == set(
        requests.get(f"{b.url}/api/repos/info").json())
    new_instance(b, uuid, "fromb")
    assert "fromb" in requests.get(f"{a.url}/api/repo/{uuid}/info").json()["DataInstances"]
    requests.post(f"{a.url}/api/node/{uuid}/commit", json={})
    assert requests.get(f"{b.url}/api/node/{uuid}/commit").json() == {"Locked": True}
    child = requests.post(f"{b.url}/api/node/{uuid}/branch", json={"branch": "viab"}).json()["child"]
    assert requests.get(f"{a.url}/api/node/{uuid[:8]}:viab/status").status_code == 200

    # concurrent metadata updates through both front ends are all kept
    def log(args):
        srv, i = args
        return requests.post(f"{srv.url}/api/repo/{uuid}/log", json={"log": [f"line {i}"]}).status_code

    with cf.ThreadPoolExecutor(6) as ex:
        assert set(ex.map(log, [(a if i % 2 else b, i) for i in range(24)])) == {200}
    lines = requests.get(f"{a.url}/api/repo/{uuid}/log").json()["log"]
    assert sorted(int(x.rsplit(" ", 1)[1]) for x in lines if "  line " in x) == list(range(24))

    # block writes through both are readable from both
    new_instance(a, child, "g2")
    va = np.full((32, 32, 32), 11, np.uint8)
    vb = np.full((32, 32, 32), 22, np.uint8)
    requests.post(f"{a.url}/api/node/{child}/g2/raw/0_1_2/32_32_32/0_0_0", data=va.tobytes())
    requests.post(f"{b.url}/api/node/{child}/g2/raw/0_1_2/32_32_32/32_0_0", data=vb.tobytes())
    for srv in (a, b):
        got = requests.get(f"{srv.url}/api/node/{child}/g2/raw/0_1_2/64_32_32/0_0_0").content
        assert got == np.concatenate([va, vb], axis=2).tobytes()
