"""Hostile-input fuzzing of the live server from the real route grammar (hypothesis).

Every request must be answered within ``SLOW`` seconds (time to its headers and first MiB) without a
5xx. Sizes and offsets take huge and negative values on every axis of every endpoint; bodies include
deep and wide JSON; query strings are long, crowded and repeat parameters; some request lines carry
odd bytes sent over a raw socket. Phase one aims everything at a committed node and checks that a
content hash of all its data and metadata is unchanged: no request answered with 4xx (nor any
other) may change a committed version. Phase two lets mutations hit an open node and checks only
that the server keeps its promises (no 5xx, bounded answers).
"""

import hashlib
import json
import os
import time

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import raw_exchange

N_LOCKED = int(os.environ.get("DVID_FUZZ_EXAMPLES", "2000"))
N_OPEN = N_LOCKED // 2
TIMEOUT = 20
SLOW = 5.0  # seconds: no request may take longer to be answered (headers + first MiB)

KEYWORDS = ["raw", "isotropic", "arb", "blocks", "specificblocks", "subvolblocks", "info", "metadata", "extents",
            "resolution", "rawkey", "help", "roi", "mask", "ptquery", "partition", "blobstore", "tags", "sync",
            "nosuch", "", ".."]
SHAPES = ["xy", "xz", "yz", "0_1", "0_2", "1_2", "0_1_2", "vol", "arb", "XY", "qq", "", "0_1_2_3"]
NUMS = ["0", "1", "-1", "31", "32", "64", "-32", "100", "2147483647", "-2147483648", "99999999999", "x", "1.5",
        " 7", "", "1e3", "০"]
HUGE = ["2147483616", "-2147483616", "2147483647", "-2147483648", "1073741824", "65536", "32768", "4096", "-1",
        "0", "1", "1e308", "inf", "nan", "-0"]
FORMATS = ["png", "jpg", "jpg:75", "jpeg", "tif", "bmp", "JPG", "png:x", "gif", "jpg:", "nD", "octet-stream", ""]


VALID = ["32_32_32", "64_64_32", "0_0_0", "16_16_16", "5_7_9", "64_64", "100_100", "0_0", "-32_0_0",
         "2048_2048_1024", "0_0_80", "248_0_80", "0_248_80", "8"]


def triple():
    return st.one_of(st.sampled_from(VALID), st.sampled_from(VALID),
                     st.lists(st.sampled_from(NUMS), min_size=1, max_size=4).map("_".join),
                     st.lists(st.sampled_from(HUGE + ["32", "64"]), min_size=2, max_size=3).map("_".join))


def _nested(depth: int, wide: bool) -> bytes:
    if wide:
        return b"[" + b"[0,0,0,1]," * depth + b"[0,0,0,1]]"
    return b"[" * depth + b"]" * depth


ODD_PATHS = [b"/api/node/%s/grayscale/in\xfffo", b"/api/he\x00artbeat", b"/api/%ff%fe", b"/api/node/%s/%00/info",
             b"/api/node/%s/grayscale/raw/xy/\x7f_1/0_0_0", b"/" + b"%" * 50, b"/api/node/%s/../../etc/passwd",
             b"/api/node/%s/grayscale/raw/0_1_2/32_32_32/0_0_0?roi=%ff", b"//api//node//", b"/api/node/%s/\xc3\x28/info"]


@st.composite
def request_spec(draw, uuids, names):
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "HEAD", "GET", "POST"]))
    kind = draw(st.sampled_from(["instance"] * 6 + ["node", "repo", "server", "repos", "junk"]))
    uuid = draw(st.sampled_from(uuids + ["", "zzzz", ":master", ":nosuch", "a:b:c", "..", "%2e%2e", "é"]))
    if kind == "instance":
        name = draw(st.sampled_from(names + ["nosuch", "..", "ü", ""]))
        kw = draw(st.sampled_from(KEYWORDS))
        parts = ["api", "node", uuid, name, kw]
        n = draw(st.integers(0, 5)) if kw not in ("raw", "isotropic") else draw(st.integers(2, 4))
        for _ in range(n):
            parts.append(draw(st.one_of(st.sampled_from(SHAPES), triple(), st.sampled_from(FORMATS + NUMS))))
        if kw in ("raw", "isotropic") and draw(st.booleans()):
            parts[5] = draw(st.sampled_from(SHAPES))
    elif kind == "node":
        parts = ["api", "node", uuid, draw(st.sampled_from(["note", "log", "commit", "status", "newversion",
                                                             "branch", "tag", "x"]))]
    elif kind == "repo":
        parts = ["api", "repo", uuid, draw(st.sampled_from(["info", "instance", "log", "merge", "resolve",
                                                             "branch-versions", ""]))]
    elif kind == "server":
        parts = ["api", "server", draw(st.sampled_from(["info", "note", "types", "compiled-types", "settings",
                                                         "jobs", "load", "x"]))]
    elif kind == "repos":
        parts = ["api", "repos", draw(st.sampled_from(["info", "", "x"]))]
    else:
        parts = ["api", draw(st.text(max_size=12))]
    qkeys = ["throttle", "roi", "attenuation", "compression", "blocks", "prefetch", "mutate", "batchsize",
             "optimized", "admintoken", "u", "app", "replace", "scale"]
    value = st.one_of(st.sampled_from(NUMS + HUGE + ["true", "on", "jpeg", "uncompressed", "gzip", "myroi", "nosuch",
                                                    "1,2,3", "1,2", "0,0,0,2147483647,2147483647,2147483647"]),
                      st.text(max_size=8), st.integers(1, 3000).map(lambda n: "9," * n + "9"),
                      st.integers(1, 4000).map(lambda n: "a" * n))
    query = draw(st.lists(st.tuples(st.sampled_from(qkeys), value), max_size=3))  # keys may repeat
    if draw(st.integers(0, 30)) == 0:
        query += [(f"k{i}", "1") for i in range(draw(st.integers(50, 300)))]
    body = draw(st.one_of(
        st.just(b""),
        st.binary(max_size=300),
        st.sampled_from([b"{", b"[]", b"{}", b"null", b'{"log": 5}', b'{"note": []}', b"[[0,0,5,4]]",
                         b'{"typename":"uint8blk","dataname":"new"}', b'{"MinPoint":[1,2,3]}', b"[4,4]",
                         b'{"parents":["a","b"],"mergeType":"conflict-free"}', b'{"branch":"b","uuid":"xyz"}',
                         b'{"throttle":"x"}', b"[[1,2,3]]", b'"\\ud800"']),
        st.integers(0, 64).map(lambda k: bytes(32 * 32 * k)),
        st.tuples(st.integers(10, 20000), st.booleans()).map(lambda t: _nested(*t)),
        st.integers(10, 20000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    ))
    if draw(st.integers(0, 25)) == 0:
        return method, draw(st.sampled_from(ODD_PATHS)), None, body
    return method, "/" + "/".join(parts), query, body


def content_hash(server, uuid, names):
    h = hashlib.sha256()
    for name in names:
        base = f"{server.url}/api/node/{uuid}/{name}"
        typ = requests.get(f"{base}/info", timeout=TIMEOUT).json()["Base"]["TypeName"]
        if typ == "roi":
            h.update(requests.get(f"{base}/roi", timeout=TIMEOUT).content)
        else:
            h.update(requests.get(f"{base}/raw/0_1_2/128_128_64/-32_-32_-32", timeout=TIMEOUT).content)
            info = requests.get(f"{base}/info", timeout=TIMEOUT).json()
            h.update(json.dumps(info["Extents"]).encode())
    node = requests.get(f"{server.url}/api/repo/{uuid}/info", timeout=TIMEOUT).json()["DAG"]["Nodes"][uuid]
    h.update(json.dumps([node["Note"], node["Log"], node["Locked"], node["Children"]]).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def fuzz_target(server_factory):
    # Smaller answers than the defaults keep the run quick; work must still be bounded by them.
    srv = server_factory(extra_toml="readTimeout = 5\nmaxRequestBytes = 67108864\nmaxImagePixels = 4194304")
    uuid = srv.new_repo("fuzz", "fuzz target")
    names = ["grayscale", "rgba", "myroi", "unv"]
    for name, typ, extra in (("grayscale", "uint8blk", {}), ("rgba", "rgba8blk", {}), ("myroi", "roi", {}),
                             ("unv", "uint8blk", {"versioned": "false"})):
        assert requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                             json={"typename": typ, "dataname": name, **extra}).ok
    rng = np.random.default_rng(0)
    base = f"{srv.url}/api/node/{uuid}"
    requests.post(f"{base}/grayscale/raw/0_1_2/64_64_32/0_0_0", data=rng.integers(0, 256, 64 * 64 * 32, np.uint8).tobytes())
    requests.post(f"{base}/rgba/raw/0_1_2/32_32_32/0_0_0", data=rng.integers(0, 256, 32**3 * 4, np.uint8).tobytes())
    requests.post(f"{base}/myroi/roi", data="[[0,0,0,1],[0,1,0,0]]")
    assert requests.post(f"{base}/commit", json={"note": "locked"}).ok
    child = requests.post(f"{base}/newversion", json={}).json()["child"]
    return srv, uuid, child, names


def send_raw(srv, method: str, path: bytes, body: bytes) -> tuple[int, str]:
    """A request line with bytes ``requests`` would refuse to send; returns (status, start of body)."""
    status, data = raw_exchange(srv, method.encode() + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                + b"Content-Length: %d\r\n\r\n" % len(body) + body, timeout=TIMEOUT)
    return status, data.split(b"\r\n\r\n", 1)[-1][:300].decode("latin-1")


def send(srv, spec, uuid: str):
    """Send one request; (status, text) once its headers and first MiB arrived, or None if the
    client library refuses the URL."""
    method, path, query, body = spec
    if isinstance(path, bytes):
        return send_raw(srv, method, path.replace(b"%s", uuid.encode()) if b"%s" in path else path, body)
    try:
        with requests.request(method, srv.url + path, params=query, data=body, timeout=TIMEOUT, stream=True) as r:
            head = next(r.iter_content(1 << 20), b"")
            return r.status_code, head[:300].decode("latin-1")
    except requests.exceptions.InvalidURL:
        return None


def fuzz(srv, uuids, names, n):
    """Send ``n`` generated requests; every one must be answered quickly, none with a 5xx."""
    statuses: dict[int, int] = {}
    slowest = [0.0, None]

    @settings(max_examples=n, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(request_spec(uuids, names))
    def run(spec):
        t = time.monotonic()
        got = send(srv, spec, uuids[0])
        took = time.monotonic() - t
        if got is None:
            return
        status, text = got
        if took > slowest[0]:
            slowest[:] = [took, spec[:2]]
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, (spec[:3], status, text)
        assert took < SLOW, (spec[:3], status, f"took {took:.1f} s")

    run()
    assert requests.get(f"{srv.url}/api/heartbeat", timeout=5).text == "OK"
    print(f"\nslowest request: {slowest[0]:.2f} s {slowest[1]}")
    return statuses


def test_fuzz_committed_node_is_unchanged(fuzz_target):
    srv, uuid, child, names = fuzz_target
    # phase one hits the committed node; the unversioned instance may legitimately change
    locked_names = [n for n in names if n != "unv"]
    before = content_hash(srv, uuid, locked_names)
    statuses = fuzz(srv, [uuid, uuid[:6], f"{uuid[:8]}:"], names, N_LOCKED)
    assert content_hash(srv, uuid, locked_names) == before
    print(f"\nfuzzed {sum(statuses.values())} requests at a committed node: {dict(sorted(statuses.items()))}")


def test_fuzz_open_node_never_fails(fuzz_target):
    srv, uuid, child, names = fuzz_target
    statuses = fuzz(srv, [child, child[:7], ":master"], names, N_OPEN)
    print(f"\nfuzzed {sum(statuses.values())} requests at an open node: {dict(sorted(statuses.items()))}")
