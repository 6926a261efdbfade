"""What the access log costs: the same server with logging on (to a file) and with ``--quiet``, and
optionally a checkout without the access log at all (``--before /path/to/src``), measured in
alternating rounds in one run.

Measures: requests/s of a small logged request (``GET /api/server/note``) and of the unlogged
``/api/heartbeat`` with ``wrk`` (skipped with a note if wrk is missing: ``apt-get install wrk``), and
the median time of GET raw 256³. Prints medians over rounds and the ratio to the quiet server.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import time

import numpy as np
import requests

from bench.emdata import em_volume
from bench.harness import BenchServer
from bench.httpfast import Conn

LOGFILE = '[logging]\nlogfile = "dvid.log"\n'


def wrk_rate(url: str, seconds: float, conns: int = 8) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", url], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one wrk run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--before", metavar="SRC", help="src/ of a checkout without the access log (e.g. main)")
    args = ap.parse_args()
    have_wrk = shutil.which("wrk") is not None
    sides = {"logging on": BenchServer(workers=args.workers, extra_toml=LOGFILE, args=[]),
             "quiet": BenchServer(workers=args.workers)}
    if args.before:
        sides["before"] = BenchServer(workers=args.workers, args=[], env={"PYTHONPATH": args.before})
    vol = em_volume((256, 256, 256))
    results: dict[str, dict[str, list[float]]] = {k: {"note": [], "heartbeat": [], "raw": []} for k in sides}
    started = []
    try:
        for srv in sides.values():
            srv.start()
            started.append(srv)
        uuids = {}
        for name, srv in sides.items():
            s = requests.Session()
            uuid = s.post(srv.url + "/api/repos", json={"alias": "b", "description": "b"}).json()["root"]
            s.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "em"})
            s.post(f"{srv.url}/api/node/{uuid}/em/raw/0_1_2/256_256_256/0_0_0",
                   data=memoryview(np.ascontiguousarray(vol)).cast("B")).raise_for_status()
            uuids[name] = uuid
        for _ in range(args.rounds):
            for name, srv in sides.items():
                r = results[name]
                if have_wrk:
                    r["note"].append(wrk_rate(srv.url + "/api/server/note", args.seconds))
                    r["heartbeat"].append(wrk_rate(srv.url + "/api/heartbeat", args.seconds))
                c = Conn(srv.url)
                path = f"/api/node/{uuids[name]}/em/raw/0_1_2/256_256_256/0_0_0"
                c.get(path, reuse=True)
                ts = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    c.get(path, reuse=True)
                    ts.append(time.perf_counter() - t0)
                c.close()
                r["raw"].append(statistics.median(ts) * 1e3)
    finally:
        for srv in started:
            srv.stop()
    logged = sides["logging on"].data_dir / "dvid.log"
    lines = logged.read_text().count('"GET ') if logged.exists() else 0
    print(f"{args.rounds} alternating rounds, {args.workers} workers; access lines written by 'logging on': {lines}")
    base = results["quiet"]
    print(f"  {'side':<12} {'note req/s':>12} {'heartbeat req/s':>16} {'GET raw 256³ ms':>16}")
    def fmt(r: dict[str, list[float]], key: str, higher_better: bool) -> str:
        if not r[key]:
            return "n/a"
        m, b = statistics.median(r[key]), statistics.median(base[key])
        return f"{m:.0f} ({m / b:.2f})" if higher_better else f"{m:.1f} ({m / b:.2f})"

    for name, r in results.items():
        print(f"  {name:<12} {fmt(r, 'note', True):>12} {fmt(r, 'heartbeat', True):>16} {fmt(r, 'raw', False):>16}")
    if not have_wrk:
        print("  (wrk not installed: apt-get install -y wrk for the small-request figures)")


if __name__ == "__main__":
    main()
