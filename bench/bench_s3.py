"""GET/POST raw 256³ on the S3 engine (a real SeaweedFS started here), with one and two front ends
sharing the bucket, next to the same requests on LMDB.

Usage: python -m bench.bench_s3 [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid as uuidlib
from pathlib import Path

import numpy as np
import requests

from bench.emdata import em_volume
from bench.harness import BenchServer
from bench.httpfast import Conn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def measure(urls: list[str], vol: np.ndarray, repeats: int) -> tuple[float, float]:
    """(POST MB/s, GET MB/s): POSTs through the first front end, GETs alternating over all."""
    uuid = requests.post(urls[0] + "/api/repos", json={}).json()["root"]
    requests.post(f"{urls[0]}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "g"}).raise_for_status()
    conns = [Conn(u) for u in urls]
    body = memoryview(vol).cast("B")
    post_t, get_t = [], []
    for i in range(repeats):
        t = time.perf_counter()
        conns[0].post(f"/api/node/{uuid}/g/raw/0_1_2/256_256_256/0_0_0", body)
        post_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        got = conns[i % len(conns)].get(f"/api/node/{uuid}/g/raw/0_1_2/256_256_256/0_0_0")
        get_t.append(time.perf_counter() - t)
        assert bytes(got) == vol.tobytes()
    mb = vol.nbytes / 1e6
    return mb / statistics.median(post_t), mb / statistics.median(get_t)


def main() -> None:
    from seaweed import Seaweed

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    vol = em_volume((256, 256, 256))
    sw = Seaweed().start()
    try:
        with BenchServer(workers=2) as lm:
            p, g = measure([lm.url], vol, args.repeats)
            print(f"  LMDB, 1 front end:  POST raw 256³ {p:6.0f} MB/s   GET raw 256³ {g:6.0f} MB/s", flush=True)
        section = sw.toml("bench", uuidlib.uuid4().hex)
        with BenchServer(workers=2, store_section=section) as a:
            p, g = measure([a.url], vol, args.repeats)
            print(f"  S3,   1 front end:  POST raw 256³ {p:6.0f} MB/s   GET raw 256³ {g:6.0f} MB/s", flush=True)
            with BenchServer(workers=2, store_section=section) as b:
                p, g = measure([a.url, b.url], vol, args.repeats)
                print(f"  S3,   2 front ends: POST raw 256³ {p:6.0f} MB/s   GET raw 256³ {g:6.0f} MB/s "
                      "(GETs alternate between the front ends)", flush=True)
    finally:
        sw.stop()


if __name__ == "__main__":
    main()
