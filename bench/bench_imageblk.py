"""imageblk figures on a real ``dvid serve`` (LMDB, 2 workers): GET/POST raw 256³, subvolblocks 256³,
and 1024² xy slices as PNG and JPEG. Prints MB/s (of voxels) and median ms.

Usage: python -m bench.bench_imageblk [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import requests

from bench.emdata import em_volume
from bench.harness import BenchServer
from bench.httpfast import Conn


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(label: str, seconds: float, nbytes: int) -> None:
    print(f"  {label:<28} {seconds * 1e3:8.1f} ms   {nbytes / 1e6 / seconds:8.0f} MB/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    vol = em_volume((256, 256, 256))
    slab = np.ascontiguousarray(np.tile(vol[:32], (1, 4, 4)))  # 32 × 1024 × 1024 (z, y, x)
    with BenchServer(workers=2) as srv:
        uuid = requests.post(srv.url + "/api/repos", json={}).json()["root"]
        for name in ("g", "s"):
            requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                          json={"typename": "uint8blk", "dataname": name}).raise_for_status()
        conn = Conn(srv.url)
        base = f"/api/node/{uuid}"
        body = memoryview(vol).cast("B")

        post = timed(lambda: conn.post(f"{base}/g/raw/0_1_2/256_256_256/0_0_0", body), args.repeats)
        report("POST raw 256³", post, vol.nbytes)
        got = conn.get(f"{base}/g/raw/0_1_2/256_256_256/0_0_0")
        assert bytes(got) == vol.tobytes(), "GET raw returned different voxels"
        get = timed(lambda: conn.get(f"{base}/g/raw/0_1_2/256_256_256/0_0_0"), args.repeats)
        report("GET raw 256³", get, vol.nbytes)
        sub = timed(lambda: conn.get(f"{base}/g/subvolblocks/256_256_256/0_0_0"), args.repeats)
        report("GET subvolblocks 256³", sub, vol.nbytes)

        conn.post(f"{base}/s/raw/0_1_2/1024_1024_32/0_0_0", memoryview(slab).cast("B"))
        png = timed(lambda: conn.get(f"{base}/s/raw/xy/1024_1024/0_0_16/png"), args.repeats)
        report("GET xy 1024² png", png, 1024 * 1024)
        jpg = timed(lambda: conn.get(f"{base}/s/raw/xy/1024_1024/0_0_16/jpg"), args.repeats)
        report("GET xy 1024² jpg", jpg, 1024 * 1024)
        raw2d = timed(lambda: conn.get(f"{base}/s/raw/xy/1024_1024/0_0_16"), args.repeats)
        report("GET xy 1024² octet-stream", raw2d, 1024 * 1024)


if __name__ == "__main__":
    main()
