"""Persistence across restarts, several worker processes sharing metadata, the CLI's commands and
reply texts, conflict resolution before merge, and shutdown."""

import json
import re

import requests


def test_reload_after_restart(server_factory):
    srv = server_factory()
    uuid = srv.new_repo()
    assert requests.post(f"{srv.url}/api/repo/{uuid}/info", json={"alias": "myGreatAlias",
                                                                   "description": "A super description"}).ok
    assert requests.post(f"{srv.url}/api/node/{uuid}/note", json={"note": "kept"}).ok
    for i in range(4):
        requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": f"g{i}"})
    before = requests.get(f"{srv.url}/api/repos/info").json()
    srv.restart()
    after = requests.get(f"{srv.url}/api/repos/info").json()
    assert list(after) == list(before)
    r = after[uuid]
    assert (r["Alias"], r["Description"]) == ("myGreatAlias", "A super description")
    assert requests.get(f"{srv.url}/api/node/{uuid}/note").json() == {"note": "kept"}
    assert (r["MutationID"], r["SavedMutationID"]) == (1000000100, 1000000200)
    for i in range(4):
        assert requests.get(f"{srv.url}/api/node/{uuid}/g{i}/info").ok
    assert r["DAG"] == before[uuid]["DAG"]


def test_two_workers_see_each_others_metadata(server_factory):
    srv = server_factory(workers=2)
    # fresh connections land on either worker; every change must be visible at the next request
    for i in range(15):
        uuid = requests.post(f"{srv.url}/api/repos", json={"alias": f"r{i}"}).json()["root"]
        assert requests.get(f"{srv.url}/api/repo/{uuid}/info").json()["Alias"] == f"r{i}"
        r = requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"})
        assert r.ok
        assert requests.get(f"{srv.url}/api/node/{uuid}/g/info").ok
        requests.post(f"{srv.url}/api/node/{uuid}/commit", json={})
        assert requests.get(f"{srv.url}/api/node/{uuid}/status").json() == {"Locked": True}
    pids = {requests.get(f"{srv.url}/api/server/info").json()["Host"] for _ in range(3)}
    assert pids


def test_cli_commands_and_texts(server):
    res = server.cli("repos", "new", "clirepo", "made by the CLI", "uuid=0123456789abcdef0123456789abcdef")
    assert res.returncode == 0
    assert res.stdout.strip() == 'New repo "clirepo" created with head node 0123456789abcdef0123456789abcdef'
    uuid = "0123456789abcdef0123456789abcdef"
    res = server.cli("repo", uuid[:8], "new", "uint8blk", "gray", "BlockSize=64,64,64", "VoxelSize=4,4,40")
    assert res.stdout.strip() == f'Data "gray" [uint8blk] added to node {uuid}'
    info = requests.get(f"{server.url}/api/node/{uuid}/gray/info").json()["Extended"]
    assert info["BlockSize"] == [64, 64, 64] and info["VoxelSize"] == [4, 4, 40]
    res = server.cli("repo", uuid, "newversion")
    assert res.returncode == 1 and "can't branch an unlocked node" in res.stderr
    requests.post(f"{server.url}/api/node/{uuid}/commit", json={})
    res = server.cli("repo", uuid, "newversion")
    child = re.match(r"Branch (\w+) added to node " + uuid, res.stdout.strip()).group(1)
    res = server.cli("repo", uuid, "branch", "side")
    side = re.match(r"Branch (\w+) added to node " + uuid, res.stdout.strip()).group(1)
    for n in (child, side):
        requests.post(f"{server.url}/api/node/{n}/commit", json={})
    res = server.cli("repo", child, "merge", side)
    assert res.returncode == 0 and res.stdout.startswith(f"Parents [{child} {side}] merged into node ")
    log = requests.get(f"{server.url}/api/repo/{uuid}/log").json()["log"]
    assert any("repo " + child + " merge " + side in line for line in log)
    res = server.cli("repo", uuid, "rename", "gray", "grey")
    assert res.returncode == 0 and "Renamed data instance" in res.stdout
    assert requests.get(f"{server.url}/api/node/{uuid}/grey/info").ok
    res = server.cli("types")
    assert "uint8blk" in res.stdout
    assert server.cli("frobnicate").returncode == 1
    assert server.cli("node", uuid, "grey", "help").stdout.startswith("API for image block datatypes")
    res = server.cli("repo", uuid, "delete", "grey")
    assert res.stdout.strip() == f'Started deletion of data instance "grey" from repo with root {uuid}'
    assert requests.get(f"{server.url}/api/node/{uuid}/grey/info").status_code == 400
    bad = json.loads(json.dumps(server.cli("-rpc=127.0.0.1:1", "types").returncode))
    assert bad == 1


def test_resolve_conflicts_then_merge(server, repo):
    base = f"{server.url}/api/node"
    assert requests.post(f"{server.url}/api/repo/{repo}/instance", json={"typename": "uint8blk", "dataname": "g"}).ok
    requests.post(f"{base}/{repo}/g/raw/0_1_2/64_32_32/0_0_0", data=bytes([1]) * 65536)
    requests.post(f"{base}/{repo}/commit", json={})
    a = requests.post(f"{base}/{repo}/newversion").json()["child"]
    b = requests.post(f"{base}/{repo}/branch", json={"branch": "b"}).json()["child"]
    requests.post(f"{base}/{a}/g/raw/0_1_2/32_32_32/0_0_0", data=bytes([2]) * 32768)
    requests.post(f"{base}/{b}/g/raw/0_1_2/32_32_32/0_0_0", data=bytes([3]) * 32768)  # conflict
    requests.post(f"{base}/{b}/g/raw/0_1_2/32_32_32/32_0_0", data=bytes([4]) * 32768)  # one-sided
    for n in (a, b):
        requests.post(f"{base}/{n}/commit", json={})
    m = requests.post(f"{server.url}/api/repo/{repo}/merge", json={"mergeType": "conflict-free", "parents": [a, b]})
    r = requests.get(f"{base}/{m.json()['child']}/g/raw/0_1_2/64_32_32/0_0_0")
    assert r.status_code == 400 and "found multiple kv" in r.text  # DVID's lazy conflict detection
    res = requests.post(f"{server.url}/api/repo/{repo}/resolve", json={"data": ["g"], "parents": [a, b], "note": "fix"})
    assert res.status_code == 200, res.text
    merged = requests.get(f"{base}/{res.json()['child']}/g/raw/0_1_2/64_32_32/0_0_0").content
    assert merged[:32] == bytes([2]) * 32 and merged[32:64] == bytes([4]) * 32


def test_shutdown_command(server_factory):
    srv = server_factory()
    res = srv.cli("shutdown")
    assert res.returncode == 0 and res.stdout.strip() == f"DVID server at {srv.rpc} is being shutdown..."
    assert srv.proc.wait(20) == 0  # exits by itself, cleanly (wait raises if it is still running)


def test_admin_gate_and_cors_domains(server_factory):
    """adminRequiredForRepoCreation refuses repo creation without the token (400, nothing created);
    corsDomains narrows Access-Control-Allow-Origin to the listed registrable domains."""
    srv = server_factory(extra_toml='adminToken = "s3cret"\nadminRequiredForRepoCreation = true\n'
                                    'corsDomains = ["janelia.org"]')
    r = requests.post(srv.url + "/api/repos", json={"alias": "a"}, timeout=30)
    assert r.status_code == 400 and "admin" in r.text
    assert requests.get(srv.url + "/api/repos/info", timeout=30).json() == {}
    r = requests.post(srv.url + "/api/repos?admintoken=wrong", json={"alias": "a"}, timeout=30)
    assert r.status_code == 400
    r = requests.post(srv.url + "/api/repos?admintoken=s3cret", json={"alias": "a"}, timeout=30)
    assert r.status_code == 200 and len(r.json()["root"]) == 32
    ok = requests.get(srv.url + "/api/heartbeat", headers={"Origin": "https://emdata.janelia.org"}, timeout=30)
    assert ok.headers.get("Access-Control-Allow-Origin") == "https://emdata.janelia.org"
    bad = requests.get(srv.url + "/api/heartbeat", headers={"Origin": "https://evil.example.com"}, timeout=30)
    assert "Access-Control-Allow-Origin" not in bad.headers
    for origin in ("https://janelia.org.evil.com", "https://notjanelia.org"):  # not a subdomain
        r = requests.get(srv.url + "/api/heartbeat", headers={"Origin": origin}, timeout=30)
        assert "Access-Control-Allow-Origin" not in r.headers, origin
