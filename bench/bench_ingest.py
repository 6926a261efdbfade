"""Ingest speed: 256 slices of 1024×1024 (PNG and TIFF) through ``load`` (server reads files) and
``put remote`` (the CLI uploads them), reported as MB/s of voxels.

Usage: python -m bench.bench_ingest [--slices 256] [--workers 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from bench.bench_vs_tensorstore import load_volume
from bench.harness import BenchServer


def write_slices(vol: np.ndarray, n: int, root: Path, fmt: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        sl = np.tile(vol[k % vol.shape[0]], (1024 // vol.shape[1], 1024 // vol.shape[2]))
        Image.fromarray(sl).save(root / f"s{k:04d}.{fmt}", **({"compress_level": 1} if fmt == "png" else {}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    vol = load_volume(512)
    tmp = Path(tempfile.mkdtemp(prefix="dvid-ingest-"))
    print(f"writing {args.slices} slices of 1024² as PNG and TIFF ...", flush=True)
    for fmt in ("png", "tif"):
        write_slices(vol, args.slices, tmp / fmt, fmt)
    mb = args.slices * 1024 * 1024 / 1e6
    with BenchServer(workers=args.workers) as srv:
        uuid = requests.post(srv.url + "/api/repos", json={}).json()["root"]
        for mode in ("load", "put remote"):
            for fmt in ("tif", "png"):
                name = f"{mode.replace(' ', '_')}_{fmt}"
                requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": name})
                cmd = [sys.executable, "-m", "dvid.cli.main", f"-rpc={srv.rpc}"]
                if mode == "put remote":
                    cmd += [f"--http={srv.url}", "node", uuid, name, "put", "remote", "xy", "0,0,0", str(tmp / fmt / "*")]
                else:
                    cmd += ["node", uuid, name, "load", "0,0,0", str(tmp / fmt / "*")]
                t0 = time.perf_counter()
                res = subprocess.run(cmd, capture_output=True, text=True)
                dt = time.perf_counter() - t0
                ok = "ok" if res.returncode == 0 else "FAILED: " + res.stderr[-300:]
                server_side = ""
                if mode == "load":
                    from datetime import datetime

                    rec = requests.get(f"{srv.url}/api/server/jobs").json()[-1]
                    js = (datetime.fromisoformat(rec["ended"]) - datetime.fromisoformat(rec["started"])).total_seconds()
                    server_side = f"(job itself {js:.1f} s = {mb / js:.0f} MB/s)"
                print(f"  {mode:<10} {fmt:<4} {args.slices} × 1024²: {dt:6.1f} s  {mb / dt:7.1f} MB/s  "
                      f"{server_side} {ok}", flush=True)


if __name__ == "__main__":
    main()
