"""Metadata cost against history: a commit + newversion pair and a cheap request, at 1, 1,000 and
10,000 versions in the store, through a real ``dvid serve`` (2 workers) on LMDB.

Usage: python -m bench.bench_metadata [--sizes 1,1000,10000] [--pairs 20] [--requests 300]
                                      [--compare OTHER_PYTHON] [--populate legacy|api] [--wrk 3]
                                      [--no-sync]

Each store holds one repo whose master is a chain of N versions (all committed but the head), made
in-process before the server starts: ``legacy`` (the default) writes the format-1 metadata document
directly, which every version of this project can open (the current one migrates it on open);
``api`` makes the versions through ``Datastore`` (current code only). Over HTTP the bench then adds
an instance with one block at the head and measures, as medians over one keep-alive connection:
commit + newversion at the head of that repo and in a brand-new repo beside it, and single GETs of
``/api/heartbeat``, a node note (by UUID and by ``<prefix>:master``), instance ``info`` and a 32³
raw block. ``--wrk S`` adds ``wrk -t2 -c8`` for S seconds on the heartbeat and the block GET.
``--no-sync`` serves the store with ``sync = false``: no fsync per commit, so the figures show
the metadata work itself rather than the disk (a commit costs one fsync with either code, but an
fsync costs 0.2 ms on an idle VM disk and 10 ms or more on a busy one).
``--compare`` runs the same steps with a server started by another interpreter (e.g. the venv of
a checkout of main), alternating with ours for every size.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path

from bench.harness import BenchServer
from bench.httpfast import Conn

LEGACY_META_KEY = b"\x00\x00meta"  # format 1: one JSON document (dvid.datastore.keys)
BLOCK = 32


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def legacy_document(n: int) -> tuple[bytes, str, str]:
    """A format-1 metadata document with one repo whose master is a chain of ``n`` versions;
    returns it, the root UUID and the head UUID."""
    now = _now()
    uuids = [uuidlib.uuid4().hex for _ in range(n)]
    nodes = []
    for i, u in enumerate(uuids):
        v = i + 1
        nodes.append({"uuid": u, "version_id": v, "branch": "", "note": "", "log": [], "locked": i < n - 1,
                      "parents": [v - 1] if i else [], "children": [v + 1] if i < n - 1 else [],
                      "created": now, "updated": now})
    repo = {"repo_id": 1, "root": uuids[0], "alias": "big", "description": "", "log": [], "properties": {},
            "passcode": "", "nodes": nodes, "instances": [], "mutation_id": 1_000_000_000,
            "saved_mutation_id": 1_000_000_100, "created": now, "updated": now}
    doc = {"format": 1, "next_repo": 2, "next_version": n + 1, "next_instance": 1, "settings": {},
           "repos": [repo]}
    return json.dumps(doc, separators=(",", ":")).encode(), uuids[0], uuids[-1]


def populate(db: Path, n: int, how: str) -> tuple[str, str]:
    """Make the store; returns (root UUID, head UUID)."""
    if how == "legacy":
        import lmdb

        raw, root, head = legacy_document(n)
        env = lmdb.open(str(db), map_size=1 << 36)
        with env.begin(write=True) as txn:
            txn.put(LEGACY_META_KEY, raw)
        env.close()
        return root, head
    from dvid.datastore.manager import Datastore
    from dvid.datatypes import registry
    from dvid.storage.lmdb import LMDBEngine

    eng = LMDBEngine(db, sync=False)
    ds = Datastore(eng, registry.all_types())
    root = head = ds.new_repo("big").root
    for _ in range(n - 1):
        ds.commit(ds.resolve(head))
        head = ds.new_version(ds.resolve(head))
    eng.close()
    return root, head


def _post_json(c: Conn, path: str, doc: object | None = None) -> dict:
    return json.loads(c.post(path, json.dumps(doc).encode() if doc is not None else b"") or b"{}")


def _pairs(c: Conn, head: str, count: int) -> tuple[list[float], str]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        c.post(f"/api/node/{head}/commit", b'{"note": "bench"}')
        head = _post_json(c, f"/api/node/{head}/newversion")["child"]
        out.append(time.perf_counter() - t0)
    return out, head


def _wrk(url: str, seconds: float) -> str:
    if not shutil.which("wrk"):
        return "wrk not installed"
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds:g}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return (f"{float(rps.group(1)):,.0f} req/s, p50 {p50.group(1)}, p99 {p99.group(1)}"
            if rps and p50 and p99 else out.strip()[-200:])


def measure(python: str, n: int, pairs: int, requests: int, how: str, wrk: float,
            sync: bool) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="dvid-bench-meta-"))
    try:
        root, head = populate(data / "db", n, how)
        store = 'engine = "lmdb"\npath = "db"\n' + ("" if sync else "sync = false\n")
        with BenchServer(data_dir=data, python=python, store_section=store) as srv:
            c = Conn(srv.url)
            _post_json(c, f"/api/repo/{head}/instance", {"typename": "uint8blk", "dataname": "gray"})
            block = f"/api/node/{head}/gray/raw/0_1_2/{BLOCK}_{BLOCK}_{BLOCK}/0_0_0"
            c.post(block, bytes(range(256)) * (BLOCK**3 // 256))
            cheap = {
                "heartbeat": "/api/heartbeat",
                "note": f"/api/node/{head}/note",
                "note :master": f"/api/node/{root[:8]}:master/note",
                "info": f"/api/node/{head}/gray/info",
                "block": block,
            }
            times: dict[str, list[float]] = {k: [] for k in cheap}
            for _ in range(20):  # warm-up: caches, connections, the second worker
                for path in cheap.values():
                    c.get(path, reuse=True)
            for _ in range(requests):
                for k, path in cheap.items():
                    t0 = time.perf_counter()
                    c.get(path, reuse=True)
                    times[k].append(time.perf_counter() - t0)
            wrk_out = {}
            if wrk:
                wrk_out = {"wrk heartbeat": _wrk(srv.url + cheap["heartbeat"], wrk),
                           "wrk block": _wrk(srv.url + block, wrk)}
            big, _ = _pairs(c, head, pairs)
            fresh = _post_json(c, "/api/repos", {"alias": "fresh"})["root"]
            small, _ = _pairs(c, fresh, pairs)
            c.close()
        res: dict[str, object] = {"pair (N-version repo)": statistics.median(big) * 1e3,
                                  "pair (new repo)": statistics.median(small) * 1e3}
        res.update({f"GET {k}": statistics.median(v) * 1e3 for k, v in times.items()})
        res.update(wrk_out)
        return res
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,1000,10000")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--compare", default="", help="another interpreter whose dvid to measure too")
    ap.add_argument("--populate", choices=("legacy", "api"), default="legacy")
    ap.add_argument("--wrk", type=float, default=0, help="seconds of wrk -t2 -c8 per URL (0: skip)")
    ap.add_argument("--no-sync", action="store_true", help="serve the store with sync = false")
    args = ap.parse_args()
    sides = {"ours": sys.executable}
    if args.compare:
        sides["other"] = args.compare
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[int, str], dict[str, object]] = {}
    for n in sizes:
        for side, py in sides.items():
            t0 = time.perf_counter()
            results[(n, side)] = measure(py, n, args.pairs, args.requests, args.populate, args.wrk,
                                         not args.no_sync)
            print(f"# {n} versions, {side}: measured in {time.perf_counter() - t0:.0f} s", flush=True)
    metrics = list(next(iter(results.values())))
    print(f"\n{'versions':>9} {'side':>6} | " + " | ".join(f"{m} (ms)" if not m.startswith("wrk") else m
                                                       for m in metrics))
    for (n, side), res in results.items():
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in res.values()]
        print(f"{n:>9} {side:>6} | " + " | ".join(cells))
    if args.compare:
        print("\nratio other/ours (median ms):")
        for n in sizes:
            a, b = results[(n, "ours")], results[(n, "other")]
            print(f"{n:>9}: " + ", ".join(f"{m} {b[m] / a[m]:.1f}x" for m in metrics
                                           if isinstance(a[m], float) and a[m] > 0))


if __name__ == "__main__":
    main()
