"""Each byte limit of ``dvid.limits`` at its exact edge, over HTTP (issue 14's "at and past each limit"):
the same request is served by a server whose limit equals its size and refused, with a 400 naming
the ``[server]`` key, by a server whose limit is one byte less. Also the JSON nesting cap at the
deepest document accepted and one level past it, and that requests stopped by ``requestTimeout``,
by a client that disconnects or by one that stops reading give back their read snapshot (LMDB's
reader table, as ``mdb_stat -r`` shows it) and their worker thread. ``tests/test_bounded.py`` has
the other limits' edges; client timeouts here only guard against hangs."""

from __future__ import annotations

import json
import socket
import threading
import time

import lmdb
import numpy as np
import pytest
import requests
from tests.helpers import raw_exchange

T = 30  # client timeout: only a hang would reach it
RECORD = 16 + 32**3  # one uncompressed uint8 block in a block stream: x, y, z, nbytes, then the voxels
REQ = 3 * RECORD  # maxRequestBytes of the "at" server: exactly three such records
HDR = 2048  # maxHeaderBytes of the "at" server
ADMIN = "t"


def _limits(less: int) -> str:
    return (f"maxRequestBytes = {REQ - less}\nmaxHeaderBytes = {HDR - less}\nmaxThrottle = {4 - less}\n"
            f'adminToken = "{ADMIN}"\n')


@pytest.fixture(scope="module")
def edge(server_factory):
    """Two servers, "at" (limits as above) and "past" (each limit one less), each with a repo whose
    uint8blk "g" holds three random blocks along x at the origin."""
    out = {}
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (32, 32, 96), np.uint8)
    for name, less in (("at", 0), ("past", 1)):
        srv = server_factory(extra_toml=_limits(less))
        uuid = srv.new_repo()
        r = requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"},
                          timeout=T)
        assert r.ok, r.text
        base = f"{srv.url}/api/node/{uuid}/g"
        for i in range(3):  # one block per POST: each body is 32 KiB, under both limits
            blk = np.ascontiguousarray(blocks[:, :, 32 * i : 32 * (i + 1)])
            assert requests.post(f"{base}/raw/0_1_2/32_32_32/{32 * i}_0_0", data=blk.tobytes(), timeout=T).ok
        out[name] = (srv, uuid, base)
    return out, blocks


def limited(r: requests.Response, key: str) -> bool:
    return r.status_code == 400 and f"raise [server] {key} to allow it" in r.text


def records(data: bytes) -> list[tuple[int, int, int, int]]:
    out, i = [], 0
    while i < len(data):
        x, y, z, n = (int(v) for v in np.frombuffer(data[i : i + 16], "<i4"))
        out.append((x, y, z, n))
        i += 16 + n
    return out


# ------------------------------------------------------------------------------- maxRequestBytes
@pytest.mark.parametrize("path", ["subvolblocks/96_32_32/0_0_0?compression=uncompressed",
                                  "specificblocks?blocks=0,0,0,1,0,0,2,0,0&compression=uncompressed"])
def test_block_stream_answer_at_and_one_byte_past_the_limit(edge, path):
    (servers, blocks) = edge
    r = requests.get(f"{servers['at'][2]}/{path}", timeout=T)
    assert r.status_code == 200 and len(r.content) == REQ, r.text[:200]
    assert records(r.content) == [(i, 0, 0, 32**3) for i in range(3)]
    assert r.content[16 : 16 + 32**3] == np.ascontiguousarray(blocks[:, :, :32]).tobytes()
    r = requests.get(f"{servers['past'][2]}/{path}", timeout=T)
    assert limited(r, "maxRequestBytes"), r.text
    assert f"block stream answer of {REQ} bytes exceeds the server limit of {REQ - 1} bytes" in r.text


@pytest.mark.parametrize("chunked", [False, True])
def test_request_body_at_and_one_byte_past_the_limit(edge, chunked):
    """An ROI POST of exactly maxRequestBytes (span JSON padded with spaces) is stored; the same body
    to the server whose limit is one byte less is refused and stores nothing. ``chunked``: sent
    without a Content-Length, so the server counts the body as it arrives."""
    servers, _ = edge
    spans = [[z, 0, 0, 31] for z in range(0, 4000, 2)]
    text = json.dumps(spans, separators=(",", ":")).encode()
    body = text + b" " * (REQ - len(text))
    assert len(body) == REQ

    def send():
        return (body[i : i + 20000] for i in range(0, REQ, 20000)) if chunked else body

    for name in ("at", "past"):
        srv, uuid, _ = servers[name]
        roi = f"{srv.url}/api/node/{uuid}/body{int(chunked)}"
        r = requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                          json={"typename": "roi", "dataname": f"body{int(chunked)}"}, timeout=T)
        assert r.ok, r.text
        r = requests.post(f"{roi}/roi", data=send(), timeout=T)
        if name == "at":
            assert r.status_code == 200, r.text
        else:
            assert limited(r, "maxRequestBytes"), r.text
            if not chunked:
                assert f"request body of {REQ} bytes exceeds the server limit of {REQ - 1} bytes" in r.text
        assert requests.get(f"{roi}/roi", timeout=T).json() == (spans if name == "at" else [])


# -------------------------------------------------------------------------------- maxHeaderBytes
def _raw_get(srv, path: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return raw_exchange(srv, head.encode(), timeout=T)


def _counted(path: str, headers: list[tuple[str, str]]) -> int:
    """What maxHeaderBytes counts: the URL and each header line (name, ": ", value, CRLF)."""
    return len(path) + sum(len(k) + len(v) + 4 for k, v in headers)


@pytest.mark.parametrize("where", ["header", "query"])
def test_header_bytes_at_and_one_past_the_limit(edge, where):
    servers, _ = edge
    for name in ("at", "past"):
        srv = servers[name][0]
        base = [("Host", "x"), ("Connection", "close")]
        path, headers = "/api/heartbeat", base + [("X-Pad", "")]
        pad = HDR - _counted(path, headers)
        if where == "header":
            headers = base + [("X-Pad", "p" * pad)]
        else:
            path = f"/api/heartbeat?pad={'p' * (pad - 5)}"
        assert _counted(path, headers) == HDR
        status, reply = _raw_get(srv, path, headers)
        if name == "at":
            assert status == 200, reply[:200]
        else:
            assert status == 400 and b"raise [server] maxHeaderBytes to allow it" in reply, reply[:300]
    # and one byte more than the "at" server's limit is refused by it too
    status, reply = _raw_get(servers["at"][0], "/api/heartbeat", base + [("X-Pad", "p" * (pad + 1))])
    assert status == 400 and b"maxHeaderBytes" in reply


# ----------------------------------------------------------------------------------- maxThrottle
def test_throttle_setting_at_and_one_past_the_limit(edge):
    servers, _ = edge
    for name in ("at", "past"):
        url = f"{servers[name][0].url}/api/server/settings?admintoken={ADMIN}"
        r = requests.post(url, json={"throttle": "4"}, timeout=T)
        if name == "at":
            assert r.status_code == 200, r.text
        else:
            assert limited(r, "maxThrottle") and "throttle setting of 4 exceeds the server limit of 3" in r.text
        assert requests.post(url, json={"throttle": "1"}, timeout=T).status_code == 200  # the default


# ------------------------------------------------------------------------------------ JSON depth
def _deepest_accepted(url: str, body) -> tuple[int, list[int]]:
    """The deepest nesting the server parses at ``url`` (bisection), and every status seen."""
    lo, hi, seen = 1, 4096, []
    while lo < hi:
        mid = (lo + hi + 1) // 2
        r = requests.post(url, data=body(mid), timeout=T)
        seen.append(r.status_code)
        if r.status_code == 400 and "nested too deeply" in r.text:
            hi = mid - 1
        else:
            lo = mid
    return lo, seen


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path,wrap,served", [
    ("/api/repos", lambda d: '{"alias":"deep","x":' + _nested(d - 1) + "}", True),
    ("/api/node/{uuid}/g/extents", lambda d: '{"x":' + _nested(d - 1) + "}", True),
    ("/api/node/{uuid}/log", lambda d: '{"log":' + _nested(d - 1) + "}", False),
    ("/api/node/{uuid}/branch", _nested, False),
])
def test_json_depth_at_the_deepest_accepted_and_one_past(edge, path, wrap, served):
    """Depth is capped by the parser (Python's recursion limit, so the cap is about 1,000 levels and
    differs by a few between endpoints): the deepest document accepted is parsed (and served where
    the endpoint accepts such a document), one level deeper is a 400, and nothing is a 5xx."""
    servers, _ = edge
    srv, uuid, _ = servers["at"]
    url = srv.url + path.format(uuid=uuid)
    depth, seen = _deepest_accepted(url, wrap)
    assert all(s < 500 for s in seen), seen
    assert 500 <= depth < 4096, depth
    at = requests.post(url, data=wrap(depth), timeout=T)
    assert "nested too deeply" not in at.text and at.status_code == (200 if served else 400), at.text[:200]
    past = requests.post(url, data=wrap(depth + 1), timeout=T)
    assert past.status_code == 400 and "JSON nested too deeply" in past.text, past.text[:200]
    assert json.loads(requests.get(f"{srv.url}/api/server/info", timeout=T).text)


# ------------------------------------------------------------------- nothing pinned after aborts
ARB_SLOW = "arb/0_0_0/131064_0_0/0_131064_0/8"  # 16384² pixels: stopped by the 1 s requestTimeout
STALLED = 8  # more than the server's default thread pool (min(32, cores + 4) threads on 2 cores)


def active_readers(srv) -> int:
    """Read transactions open in the server's LMDB store, from the store's reader table."""
    env = lmdb.open(str(srv.data_dir / "db"), readonly=True, lock=True, max_readers=1024)
    try:
        table = env.readers().splitlines()
    finally:
        env.close()
    return sum(1 for line in table[1:] if line.split() and line.split()[-1] != "-")


def _wait_for(cond, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_aborted_requests_release_snapshots_and_threads(server_factory):
    """Clients that stop reading a streamed answer, requests stopped by requestTimeout and clients
    that disconnect: afterwards no read transaction is left open and more concurrent requests than
    the server has threads are all answered (throttled ones too)."""
    srv = server_factory(extra_toml="requestTimeout = 1")
    uuid = srv.new_repo()
    requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"}, timeout=T)
    base = f"{srv.url}/api/node/{uuid}/g"
    assert requests.post(f"{base}/raw/0_1_2/32_32_32/0_0_0", data=bytes(range(256)) * 128, timeout=T).ok
    port = int(srv.url.rsplit(":", 1)[1])
    assert _wait_for(lambda: active_readers(srv) == 0)
    # clients that ask for a 256 MiB streamed answer, read its head and then stop reading
    stalled = []
    for _ in range(STALLED):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(T)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET /api/node/{uuid}/g/raw/0_1_2/1024_1024_256/0_0_0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert s.recv(12) == b"HTTP/1.1 200"
        stalled.append(s)
    # requests stopped by requestTimeout, and a client that disconnects from one
    slow: list[int] = []
    runs = [threading.Thread(target=lambda: slow.append(requests.get(f"{base}/{ARB_SLOW}", timeout=T).status_code))
            for _ in range(3)]
    for t in runs:
        t.start()
    gone = socket.create_connection(("127.0.0.1", port))
    gone.sendall(f"GET /api/node/{uuid}/g/{ARB_SLOW}?throttle=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.3)
    gone.close()
    for t in runs:
        t.join()
    assert slow == [400] * 3
    throttled = f"{base}/arb/0_0_0/80_0_0/0_80_0/8?throttle=true"
    try:
        # the stalled streams' snapshots are let go once their requests run past the time limit
        assert _wait_for(lambda: active_readers(srv) == 0), active_readers(srv)
        # the abandoned request ends at its next strip (its client's close is seen) and lets the slot go
        assert _wait_for(lambda: requests.get(throttled, timeout=T).status_code == 200)
        answers: list[int] = []

        def normal(i: int) -> None:
            r = requests.get(f"{base}/arb/0_0_0/80_0_0/0_80_0/8", timeout=T)
            answers.append(r.status_code)

        many = [threading.Thread(target=normal, args=(i,)) for i in range(3 * STALLED)]
        for t in many:
            t.start()
        for t in many:
            t.join()
        assert answers == [200] * len(many)
    finally:
        for s in stalled:
            s.close()
    assert _wait_for(lambda: active_readers(srv) == 0)
    log = (srv.data_dir / "server.log").read_text()
    assert "Exception in ASGI application" not in log and "without completing response" not in log
    assert "internal error" not in log
