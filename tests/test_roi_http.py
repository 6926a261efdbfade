"""roi over HTTP against a real server: DVID's roi_test.go (roi.md §7) and the extra cases."""

import json

import numpy as np
import pytest
import requests

SPANS = [[100, 101, 200, 210], [100, 102, 200, 210], [100, 103, 201, 212], [101, 101, 201, 213],
         [101, 102, 202, 215], [101, 103, 202, 216], [102, 101, 200, 210], [102, 103, 201, 216],
         [102, 104, 203, 217], [103, 101, 200, 210], [103, 103, 200, 210], [103, 105, 201, 212]]


#: the whole module runs against LMDB and against S3 on a real SeaweedFS (conftest.py)
STORES = ("lmdb", "s3")


def make_roi(server, uuid, name="roi", **settings):
    r = requests.post(f"{server.url}/api/repo/{uuid}/instance", json={"typename": "roi", "dataname": name, **settings})
    assert r.status_code == 200, r.text
    return f"{server.url}/api/node/{uuid}/{name}"


@pytest.fixture
def roi(server, repo):
    base = make_roi(server, repo)
    assert requests.post(f"{base}/roi", data=json.dumps(SPANS)).status_code == 200
    return base


def test_requests(roi):
    r = requests.get(f"{roi}/roi")
    assert r.headers["Content-Type"] == "application/json" and r.json() == SPANS
    assert r.content == json.dumps(SPANS, separators=(",", ":")).encode()
    pts = [[6400, 3232, 3167], [6400, 3232, 3200], [6719, 3232, 3200], [6720, 3232, 3200],
           [6720, 4100, 3263], [6720, 3233, 3201], [6720, 3234, 3200]]
    r = requests.post(f"{roi}/ptquery", data=json.dumps(pts))
    assert r.content == b"[false,true,true,true,false,true,true]"
    m = requests.get(f"{roi}/mask/0_1_2/100_100_100/10_40_70").content
    assert len(m) == 10**6 and not any(m)
    m = np.frombuffer(requests.get(f"{roi}/mask/0_1_2/100_100_100/6350_3232_3200").content, np.uint8)
    m = m.reshape(100, 100, 100)
    z0 = m[0]
    assert not z0[:, :50].any() and z0[:64, 50:].all()
    assert not z0[64:96, :82].any() and z0[64:96, 82:].all()
    z32 = m[32]
    assert not z32[:, :82].any() and z32[:32, 82:].all() and not z32[32:].any()
    z96 = m[96]
    assert not z96[:, :50].any() and z96[:32, 50:].all() and not z96[32:64].any()
    assert z96[64:96, 50:].all() and not z96[96:].any()


def test_post_and_delete_versioned(server, repo, roi):
    assert requests.post(f"{server.url}/api/node/{repo}/commit", json={}).ok
    assert requests.post(f"{roi}/roi", data="[]").status_code == 400  # committed
    assert requests.delete(f"{roi}/roi").status_code == 400
    assert requests.post(f"{roi}/ptquery", data="[[0,0,0]]").status_code == 200
    child = requests.post(f"{server.url}/api/node/{repo}/newversion").json()["child"]
    cbase = f"{server.url}/api/node/{child}/roi"
    assert requests.get(f"{cbase}/roi").json() == SPANS  # inherited
    assert requests.delete(f"{cbase}/roi").status_code == 200
    assert requests.get(f"{roi}/roi").json() == SPANS
    assert requests.get(f"{cbase}/roi").content == b"[]"
    assert requests.get(f"{server.url}/api/node/{repo[:8]}:master/roi/roi").content == b"[]"


def test_partitions(roi):
    doc = requests.get(f"{roi}/partition?batchsize=5&optimized=true").json()
    assert (doc["NumTotalBlocks"], doc["NumActiveBlocks"], doc["NumSubvolumes"]) == (450, 152, 3)
    assert doc["ROI"] == {"MinChunk": [0, 0, 100], "MaxChunk": [217, 105, 103]}
    got = [(s["MinChunk"], s["MaxChunk"], s["TotalBlocks"], s["ActiveBlocks"]) for s in doc["Subvolumes"]]
    assert got == [([200, 101, 100], [205, 105, 104], 150, 61), ([206, 101, 100], [211, 105, 104], 150, 67),
                   ([212, 101, 100], [217, 105, 104], 150, 24)]
    assert doc["Subvolumes"][0]["MinPoint"] == [6400, 3232, 3200] and doc["Subvolumes"][0]["MaxPoint"] == [6591, 3391, 3359]
    r = requests.get(f"{roi}/partition?batchsize=5")
    assert r.text.startswith('{\n    "NumTotalBlocks": 1375')
    doc = r.json()
    assert (doc["NumActiveBlocks"], doc["NumSubvolumes"]) == (152, 10)
    assert all(s["TotalBlocks"] == 125 for s in doc["Subvolumes"])
    assert [s["ActiveBlocks"] for s in doc["Subvolumes"]] == [25, 40, 30, 8, 5, 5, 5, 11, 15, 8]
    assert doc["Subvolumes"][0]["MinPoint"] == [6368, 3168, 3136]
    assert requests.get(f"{roi}/partition").status_code == 400
    assert requests.get(f"{roi}/partition?batchsize=0").status_code == 400


def test_create_serialize_and_persistence(server, repo):
    make_roi(server, repo, "a")
    b = make_roi(server, repo, "b", BlockSize="15,16,17")
    info = requests.get(f"{b}/info").json()
    assert info["Extended"] == {"BlockSize": [15, 16, 17], "MinZ": 2147483647, "MaxZ": -2147483648}
    assert info["Base"]["TypeName"] == "roi" and info["Base"]["Versioned"] is True
    spans = [[z, 1, 2, 3] for z in (13, 500, 3098)]
    assert requests.post(f"{b}/roi", data=json.dumps(spans)).ok
    server.restart()
    assert requests.get(f"{b}/info").json()["Extended"] == {"BlockSize": [15, 16, 17], "MinZ": 13, "MaxZ": 3098}
    assert requests.get(f"{b}/roi").json() == spans
    for bad in ('"32"', "32"):
        r = requests.post(f"{server.url}/api/repo/{repo}/instance", data='{"typename":"roi","dataname":"c","BlockSize":' + bad + "}")
        assert r.status_code == 400


def test_extra_cases(server, repo):
    base = make_roi(server, repo)
    requests.post(f"{base}/roi", data="[[0,0,5,9],[0,0,5,7],[3,1,1,1],[0,0,5,7]]")
    assert requests.get(f"{base}/roi").json() == [[0, 0, 5, 7], [0, 0, 5, 9], [3, 1, 1, 1]]
    r = requests.post(f"{base}/roi", data="[[0,0,5,4]]")
    assert r.status_code == 400 and r.text.startswith("Got weird span [0, 0, 5, 4].  span[3] (X1) < span[2] (X0)")
    assert requests.get(f"{base}/roi").json() == [[0, 0, 5, 7], [0, 0, 5, 9], [3, 1, 1, 1]]  # unchanged
    r = requests.post(f"{base}/roi", data="{}")
    assert r.status_code == 400 and r.text.startswith("Error trying to parse POSTed JSON:")
    assert requests.post(f"{base}/ptquery", data="[[-1,-1,-1]]").content == b"[false]"
    requests.post(f"{base}/roi", data="[[-1,-1,-1,-1]]")
    assert requests.post(f"{base}/ptquery", data="[[-1,-1,-1],[0,0,0]]").content == b"[true,false]"
    assert requests.get(f"{base}/ptquery").status_code == 400
    assert requests.post(f"{base}/mask/0_1_2/1_1_1/0_0_0").status_code == 400
    assert requests.get(f"{base}/mask/xy/1_1/0_0_0").status_code == 400
    assert requests.get(f"{base}/mask/0_1_2/0_1_1/0_0_0").status_code == 400
    m = requests.get(f"{base}/mask/0_1_2/40_40_40/-35_-35_-35").content  # floor division (Q9)
    m = np.frombuffer(m, np.uint8).reshape(40, 40, 40)
    assert m[3:35, 3:35, 3:35].all() and m.sum() == 32**3  # exactly block (-1,-1,-1): voxels -32..-1
    assert requests.post(f"{base}/roi", data="[]").ok and requests.get(f"{base}/roi").content == b"[]"
    assert requests.get(f"{base}/erode").status_code == 400
    assert requests.post(f"{base}/info").status_code == 200


def test_foreground_roi_command(server, repo):
    r = requests.post(f"{server.url}/api/repo/{repo}/instance", json={"typename": "uint8blk", "dataname": "grayscale"})
    assert r.ok
    vol = np.zeros((128, 128, 128), np.uint8)
    vol[64:] = 255
    vol[32:96, 32:96, 32:96] = 128
    r = requests.post(f"{server.url}/api/node/{repo}/grayscale/raw/0_1_2/128_128_128/160_64_128", data=vol.tobytes())
    assert r.ok
    res = server.cli("node", repo, "grayscale", "roi", "foreground", "0,255")
    assert res.returncode == 0, res.stderr
    assert "job" in res.stdout
    got = requests.get(f"{server.url}/api/node/{repo}/foreground/roi").content
    assert got == b"[[5,3,6,7],[5,4,6,7],[6,3,6,7],[6,4,6,7]]"
