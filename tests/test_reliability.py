"""Promises under faults and load: crash safety (SIGKILL mid-write and mid-job), committed means
immutable for every mutating endpoint and command, concurrent writers/readers against a model,
limits (body size, stalled uploads, full store), read-only mode and loopback-only commands."""

import concurrent.futures as cf
import hashlib
import json
import socket
import threading
import time

import numpy as np
import requests
from PIL import Image

from helpers import get_raw, new_instance

BS = 32






def blocks_of(vol):
    nz, ny, nx = (s // BS for s in vol.shape)
    return vol.reshape(nz, BS, ny, BS, nx, BS).transpose(0, 2, 4, 1, 3, 5).reshape(nz, ny, nx, -1)


def digest(base, size):
    return hashlib.sha256(get_raw(base, size).tobytes()).hexdigest()


def test_sigkill_during_concurrent_posts_and_load(server_factory, tmp_path):
    srv = server_factory(workers=2)
    uuid = srv.new_repo()
    base = new_instance(srv, uuid, "g")
    size = (256, 256, 64)
    old = np.full(size[::-1], 1, np.uint8)
    assert requests.post(f"{base}/raw/0_1_2/256_256_64/0_0_0", data=old.tobytes()).ok
    requests.post(f"{srv.url}/api/node/{uuid}/commit", json={})
    committed = digest(base, size)
    child = requests.post(f"{srv.url}/api/node/{uuid}/newversion").json()["child"]
    cbase = f"{srv.url}/api/node/{child}/g"
    for k in range(64):  # a stack for a load job that will be interrupted
        Image.fromarray(np.full((256, 256), 200, np.uint8)).save(tmp_path / f"s{k:03d}.png")
    stop = threading.Event()

    def writer(value):
        vol = np.full(size[::-1], value, np.uint8).tobytes()
        while not stop.is_set():
            try:
                requests.post(f"{cbase}/raw/0_1_2/256_256_64/0_0_0", data=vol, timeout=10)
            except requests.RequestException:
                return

    ts = [threading.Thread(target=writer, args=(v,)) for v in (50, 60, 70)]
    for t in ts:
        t.start()
    srv.cli("--no-wait", "node", child, "g", "load", "0,0,64", str(tmp_path / "*.png"))
    time.sleep(0.6)
    srv.kill()
    stop.set()
    for t in ts:
        t.join()
    srv.start()
    # every block of the child is entirely one of the values written, never torn
    got = blocks_of(get_raw(cbase, size))
    for blk in got.reshape(-1, BS**3):
        assert blk.min() == blk.max() and int(blk[0]) in (1, 50, 60, 70)
    loaded = blocks_of(get_raw(cbase, (256, 256, 64), (0, 0, 64)))
    for blk in loaded.reshape(-1, BS**3):
        assert blk.min() == blk.max() and int(blk[0]) in (0, 200)
    assert digest(base, size) == committed  # the committed version is untouched
    e = requests.get(f"{cbase}/info").json()["Extended"]
    assert e["MinPoint"] == [0, 0, 0] and e["MaxPoint"][:2] == [255, 255]
    states = {j["state"] for j in requests.get(f"{srv.url}/api/server/jobs").json()}
    assert states <= {"done", "interrupted", "failed"}
    assert requests.post(f"{cbase}/raw/0_1_2/32_32_32/0_0_0", data=bytes(32768)).ok  # still writable


def test_committed_means_immutable(server, repo, tmp_path):
    g = new_instance(server, repo, "g")
    c = new_instance(server, repo, "c", typename="rgba8blk")
    r = new_instance(server, repo, "r", typename="roi")
    vol = np.random.default_rng(1).integers(0, 256, (32, 64, 64), np.uint8)
    requests.post(f"{g}/raw/0_1_2/64_64_32/0_0_0", data=vol.tobytes())
    requests.post(f"{r}/roi", data="[[0,0,0,1]]")
    assert requests.post(f"{server.url}/api/node/{repo}/commit", json={}).ok

    def state():
        info = requests.get(f"{server.url}/api/repo/{repo}/info").json()
        node = info["DAG"]["Nodes"][repo]
        return (digest(g, (64, 64, 32)), requests.get(f"{r}/roi").content, requests.get(f"{g}/info").json()["Extents"],
                node["Note"], node["Log"], sorted(info["DataInstances"]))

    before = state()
    Image.fromarray(np.full((8, 8), 5, np.uint8)).save(tmp_path / "a.png")
    attempts = [
        ("post", f"{g}/raw/0_1_2/32_32_32/0_0_0", bytes(32768)),
        ("post", f"{g}/blocks/0_0_0/1", bytes(32768)),
        ("post", f"{g}/extents", b'{"MinPoint":[0,0,0],"MaxPoint":[1,1,1]}'),
        ("post", f"{g}/resolution", b"[1,1,1]"),
        ("post", f"{g}/metadata", b""),
        ("post", f"{c}/raw/0_1_2/32_32_32/0_0_0", bytes(32768 * 4)),
        ("post", f"{r}/roi", b"[]"),
        ("delete", f"{r}/roi", b""),
        ("post", f"{server.url}/api/node/{repo}/note", b'{"note":"x"}'),
        ("post", f"{server.url}/api/node/{repo}/log", b'{"log":["x"]}'),
        ("post", f"{server.url}/api/node/{repo}/commit", b"{}"),
        ("post", f"{server.url}/api/repo/{repo}/instance", b'{"typename":"uint8blk","dataname":"new"}'),
    ]
    for method, url, body in attempts:
        resp = requests.request(method, url, data=body)
        assert resp.status_code == 400, (url, resp.status_code)
    for cmd in (["load", "0,0,0", str(tmp_path / "a.png")], ["put", "local", "xy", "0,0,0", str(tmp_path / "a.png")],
                ["roi", "fg", "0"]):
        res = server.cli("node", repo, "g", *cmd)
        assert res.returncode == 1 and "committed" in res.stderr
    assert state() == before


def test_admin_token_and_fullwrite_may_write_committed(server_factory):
    srv = server_factory(extra_toml='adminToken = "s3cret"')
    uuid = srv.new_repo()
    g = new_instance(srv, uuid, "g")
    requests.post(f"{srv.url}/api/node/{uuid}/commit", json={})
    assert requests.post(f"{g}/raw/0_1_2/32_32_32/0_0_0?admintoken=wrong", data=bytes(32768)).status_code == 400
    assert requests.post(f"{g}/raw/0_1_2/32_32_32/0_0_0?admintoken=s3cret", data=bytes(32768)).ok
    full = server_factory(extra_toml='rwMode = "fullwrite"')
    u2 = full.new_repo()
    g2 = new_instance(full, u2, "g")
    requests.post(f"{full.url}/api/node/{u2}/commit", json={})
    assert requests.post(f"{g2}/raw/0_1_2/32_32_32/0_0_0", data=bytes(32768)).ok
    assert json.loads(requests.get(f"{full.url}/api/server/info").content)["Mode"] == "allow writes on committed nodes"


def test_concurrent_writers_and_readers_match_model(server_factory):
    srv = server_factory(workers=2)
    uuid = srv.new_repo()
    g = new_instance(srv, uuid, "g")
    parent_vol = np.random.default_rng(2).integers(0, 256, (64, 128, 128), np.uint8)
    requests.post(f"{g}/raw/0_1_2/128_128_64/0_0_0", data=parent_vol.tobytes())
    requests.post(f"{srv.url}/api/node/{uuid}/commit", json={})
    child = requests.post(f"{srv.url}/api/node/{uuid}/newversion").json()["child"]
    cg = f"{srv.url}/api/node/{child}/g"
    written: dict[tuple[int, int, int], set[int]] = {}
    lock = threading.Lock()

    def writer(seed):
        rng = np.random.default_rng(seed)
        for _ in range(12):
            o = [int(rng.integers(0, 3)) * 32 for _ in range(2)] + [int(rng.integers(0, 2)) * 32]
            value = int(rng.integers(2, 250))
            r = requests.post(f"{cg}/raw/0_1_2/64_64_32/{o[0]}_{o[1]}_{o[2]}", data=bytes([value]) * 64 * 64 * 32)
            assert r.status_code == 200
            with lock:
                for bz in range(o[2] // 32, o[2] // 32 + 1):
                    for by in range(o[1] // 32, o[1] // 32 + 2):
                        for bx in range(o[0] // 32, o[0] // 32 + 2):
                            written.setdefault((bx, by, bz), set()).add(value)

    def reader(_):
        for _ in range(10):
            assert np.array_equal(get_raw(g, (128, 128, 64)), parent_vol)  # committed parent never changes
        return True

    with cf.ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(writer, s) for s in range(3)] + [ex.submit(reader, i) for i in range(3)]
        for f in futs:
            f.result()
    final = blocks_of(get_raw(cg, (128, 128, 64)))
    pblocks = blocks_of(parent_vol)
    for (bz, by, bx), _ in np.ndenumerate(final[..., 0]):
        blk = final[bz, by, bx]
        if (bx, by, bz) in written:
            assert blk.min() == blk.max() and int(blk[0]) in written[(bx, by, bz)]
        else:
            assert np.array_equal(blk, pblocks[bz, by, bx])


def test_limits_and_modes(server_factory):
    srv = server_factory(extra_toml="maxRequestBytes = 400000\nreadTimeout = 1", store_toml="map_size = 4194304")
    uuid = srv.new_repo()
    g = new_instance(srv, uuid, "g")
    r = requests.post(f"{g}/raw/0_1_2/128_128_32/0_0_0", data=bytes(128 * 128 * 32))
    assert r.status_code == 400 and "exceeds the server limit" in r.text
    # a stalled upload is cut off after readTimeout
    host, port = srv.url[7:].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST /api/node/{uuid}/g/raw/0_1_2/32_32_32/0_0_0 HTTP/1.1\r\nHost: x\r\n"
                  "Content-Length: 32768\r\n\r\n".encode() + b"x" * 100)
        t0 = time.time()
        reply = s.recv(1000)
        assert b"400" in reply.split(b"\r\n")[0] and time.time() - t0 < 8
    # a full store: a clear 400, nothing half-written, the server keeps serving
    vols = 0
    for i in range(200):
        body = np.random.default_rng(i).integers(0, 256, 32768 * 3, np.uint8).tobytes()
        r = requests.post(f"{g}/raw/0_1_2/96_32_32/0_0_{32 * i}", data=body)
        if r.status_code != 200:
            break
        vols += 1
    assert r.status_code == 400 and "full" in r.text, r.text
    assert vols > 0
    assert requests.get(f"{srv.url}/api/heartbeat").text == "OK"
    first = get_raw(g, (96, 32, 32))
    assert np.array_equal(first.reshape(-1), np.frombuffer(
        np.random.default_rng(0).integers(0, 256, 32768 * 3, np.uint8).tobytes(), np.uint8).reshape(32, 32, 96).reshape(-1))


def test_readonly_mode_and_loopback_commands(server_factory):
    ro = server_factory(extra_toml='rwMode = "readonly"')
    assert requests.post(f"{ro.url}/api/repos", json={}).status_code == 400
    res = ro.cli("repos", "new", "a", "b")
    assert res.returncode == 1
    r = requests.post(f"{ro.url}/api/node/abc/note", json={"note": "x"})
    assert r.status_code == 400 and "read-only" in r.text
    assert requests.get(f"{ro.url}/api/server/info").json()["Mode"] == "read only"
    # the command listener only listens on loopback
    from dvid.server.rpc import split_address

    assert split_address(":8001", "127.0.0.1") == ("127.0.0.1", 8001)
    assert split_address("localhost:8001", "127.0.0.1") == ("127.0.0.1", 8001)


def test_streamed_uploads_write_nothing_unless_whole(server_factory):
    """Raw POSTs of >= 4 MiB are encoded while they arrive. An upload that stalls, ends early or
    comes to a locked node writes nothing; the connection and the server stay usable."""
    srv = server_factory(extra_toml="readTimeout = 2")
    uuid = srv.new_repo()
    g = new_instance(srv, uuid, "g")
    size = (256, 256, 96)  # 6 MiB, three layers of blocks
    old = np.random.default_rng(1).integers(0, 256, size[::-1], np.uint8)
    new = np.random.default_rng(2).integers(0, 256, size[::-1], np.uint8)
    path = f"/api/node/{uuid}/g/raw/0_1_2/256_256_96/0_0_0"
    assert requests.post(srv.url + path, data=old.tobytes()).status_code == 200
    host, port = srv.url[7:].split(":")
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {new.nbytes}\r\n\r\n").encode()
    # two of three layers arrive, then the client stalls: 400 after readTimeout, nothing written
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(head + new.tobytes()[: new.nbytes * 2 // 3])
        reply = b""
        while b"not received within" not in reply:  # headers and body may come in separate reads
            chunk = s.recv(1000)
            if not chunk:
                break
            reply += chunk
        assert b" 400 " in reply.split(b"\r\n")[0] and b"not received within" in reply
    # half arrives, then the client hangs up
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(head + new.tobytes()[: new.nbytes // 2])
    time.sleep(0.5)
    assert np.array_equal(get_raw(g, size), old)
    # a wrong size is refused before anything is read; the same connection then works
    with requests.Session() as sess:
        r = sess.post(f"{srv.url}/api/node/{uuid}/g/raw/0_1_2/256_256_64/0_0_0", data=new.tobytes())
        assert r.status_code == 400 and "expected 4194304 bytes" in r.text
        assert sess.post(srv.url + path, data=new.tobytes()).status_code == 200
        assert np.array_equal(get_raw(g, size), new)
        # a locked node refuses the upload; the body is drained and the connection still serves
        assert sess.post(f"{srv.url}/api/node/{uuid}/commit", json={"note": "done"}).ok
        r = sess.post(srv.url + path, data=old.tobytes())
        assert r.status_code == 400 and "locked" in r.text
        assert sess.get(f"{srv.url}/api/node/{uuid}/g/info").ok
    assert np.array_equal(get_raw(g, size), new)
