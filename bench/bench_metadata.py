"""Metadata cost against history: a commit + newversion pair and a cheap request, at 1, 1,000 and
10,000 versions in the store, through a real ``dvid serve`` (2 workers) on LMDB.

Usage: python -m bench.bench_metadata [--sizes 1,1000,10000] [--pairs 20] [--requests 300]
                                      [--compare OTHER_PYTHON] [--populate legacy|api]
                                      [--wrk 2 [--rounds 3]] [--no-sync]

Each store holds one repo whose master is a chain of N versions (all committed but the head), made
in-process before the server starts: ``legacy`` (the default) writes the format-1 metadata document
directly, which every version of this project can open (the current one migrates it on open);
``api`` makes the versions through ``Datastore`` (current code only). Over HTTP the bench then adds
an instance with one block at the head and measures, as medians over one keep-alive connection:
commit + newversion at the head of that repo and in a brand-new repo beside it, and single GETs of
``/api/heartbeat``, a node note (by UUID and by ``<prefix>:master``), instance ``info`` and a 32³
raw block. ``--wrk S`` adds ``--rounds`` runs of ``wrk -t2 -c8`` for S seconds on the heartbeat
and on the block GET.
``--no-sync`` serves the store with ``sync = false``: no fsync per commit, so the figures show
the metadata work itself rather than the disk (a commit costs one fsync with either code, but an
fsync costs 0.2 ms on an idle VM disk and 10 ms or more on a busy one).
``--compare`` also starts a server with another interpreter (e.g. the venv of an older checkout)
on its own copy of the same store; both run at once and every measurement alternates between
them, request by request, so the machine's load falls on both alike.
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


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _wrk(url: str, seconds: float) -> dict[str, float]:
    """``wrk -t2 -c8``: requests/s and latency p50/p99 (ms)."""
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds:g}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    if not (rps and p50 and p99):
        raise RuntimeError(f"unexpected wrk output: {out[-300:]}")
    return {"req/s": float(rps.group(1)), "p50": _ms(p50.group(1)), "p99": _ms(p99.group(1))}


class Side:
    """One server (one interpreter's code) on its own copy of the store."""

    def __init__(self, name: str, python: str, n: int, how: str, sync: bool) -> None:
        self.name = name
        self.data = Path(tempfile.mkdtemp(prefix="dvid-bench-meta-"))
        root, self.head = populate(self.data / "db", n, how)
        store = 'engine = "lmdb"\npath = "db"\n' + ("" if sync else "sync = false\n")
        self.srv = BenchServer(data_dir=self.data, python=python, store_section=store).start()
        self.conn = c = Conn(self.srv.url)
        _post_json(c, f"/api/repo/{self.head}/instance", {"typename": "uint8blk", "dataname": "gray"})
        block = f"/api/node/{self.head}/gray/raw/0_1_2/{BLOCK}_{BLOCK}_{BLOCK}/0_0_0"
        c.post(block, bytes(range(256)) * (BLOCK**3 // 256))
        self.cheap = {
            "heartbeat": "/api/heartbeat",
            "note": f"/api/node/{self.head}/note",
            "note :master": f"/api/node/{root[:8]}:master/note",
            "info": f"/api/node/{self.head}/gray/info",
            "block": block,
        }
        self.fresh = _post_json(c, "/api/repos", {"alias": "fresh"})["root"]
        for _ in range(20):  # warm-up: caches, connections, the second worker
            for path in self.cheap.values():
                c.get(path, reuse=True)

    def close(self) -> None:
        self.conn.close()
        self.srv.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def measure(sides: list[Side], pairs: int, requests: int, wrk: float, rounds: int) -> dict[str, dict[str, float]]:
    """Every figure of every side, the sides interleaved request by request (or wrk run by wrk run),
    so a busy moment of the machine hits both alike."""
    samples: dict[str, dict[str, list[float]]] = {s.name: {} for s in sides}

    def add(side: Side, metric: str, value: float) -> None:
        samples[side.name].setdefault(metric, []).append(value)

    for _ in range(requests):
        for side in sides:
            for k, path in side.cheap.items():
                t0 = time.perf_counter()
                side.conn.get(path, reuse=True)
                add(side, f"GET {k}", (time.perf_counter() - t0) * 1e3)
    for _ in range(rounds if wrk else 0):
        for side in sides:
            for k in ("heartbeat", "block"):
                for m, v in _wrk(side.srv.url + side.cheap[k], wrk).items():
                    add(side, f"wrk {k} {m}", v)
    for _ in range(pairs):
        for side in sides:
            for label, attr in (("pair (N-version repo)", "head"), ("pair (new repo)", "fresh")):
                times, head = _pairs(side.conn, getattr(side, attr), 1)
                setattr(side, attr, head)
                add(side, label, times[0] * 1e3)
    return {name: {m: statistics.median(v) for m, v in per.items()} for name, per in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,1000,10000")
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--compare", default="", help="another interpreter whose dvid to measure too")
    ap.add_argument("--populate", choices=("legacy", "api"), default="legacy")
    ap.add_argument("--wrk", type=float, default=0, help="seconds of each wrk -t2 -c8 run (0: skip)")
    ap.add_argument("--rounds", type=int, default=3, help="wrk runs per URL and side, alternating")
    ap.add_argument("--no-sync", action="store_true", help="serve the store with sync = false")
    args = ap.parse_args()
    if args.wrk and not shutil.which("wrk"):
        sys.exit("--wrk needs wrk (Debian: apt-get install -y wrk)")
    pythons = {"ours": sys.executable}
    if args.compare:
        pythons["other"] = args.compare
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[int, str], dict[str, float]] = {}
    for n in sizes:
        t0 = time.perf_counter()
        sides = []
        try:
            for name, py in pythons.items():
                sides.append(Side(name, py, n, args.populate, not args.no_sync))
            for name, res in measure(sides, args.pairs, args.requests, args.wrk, args.rounds).items():
                results[(n, name)] = res
        finally:
            for side in sides:
                side.close()
        print(f"# {n} versions measured in {time.perf_counter() - t0:.0f} s", flush=True)
    metrics = list(next(iter(results.values())))
    print("\nmedians: ms, except req/s")
    for m in metrics:
        print(f"{m:>28}: " + "  ".join(f"{n}/{side} {res[m]:,.2f}" for (n, side), res in results.items()))
    if args.compare:
        print("\nhow much better ours is (other/ours; for req/s ours/other):")
        for n in sizes:
            a, b = results[(n, "ours")], results[(n, "other")]
            print(f"{n:>9}: " + ", ".join(
                f"{m} {(a[m] / b[m] if m.endswith('req/s') else b[m] / a[m]):.1f}x"
                for m in metrics if a[m] > 0 and b[m] > 0))

if __name__ == "__main__":
    main()
