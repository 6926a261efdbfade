"""Engine micro-benchmark: 32 KiB values on LMDB vs S3 (a real SeaweedFS started here).

Why: the storage layer decides how fast every block read is; this prints the per-engine figures
(write MB/s in atomic batches, random get_many gets/s, ordered scans of 8 consecutive keys/s, one
long scan) so engine choices rest on measurements. Not a test: prints numbers, asserts nothing
except that every value read back is the value written.

    python bench/bench_storage.py [--n 2000] [--batch 250]
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dvid.storage import Engine, open_engine  # noqa: E402

VALUE = 32 * 1024


def _key(i: int) -> bytes:
    # 24-byte big-endian keys like (instance, version, z, y, x) block keys.
    return struct.pack(">QQQ", 1, 1, i)


def run(name: str, eng: Engine, n: int, batch: int) -> None:
    values = [os.urandom(VALUE) for _ in range(min(n, 256))]
    t = time.perf_counter()
    for s in range(0, n, batch):
        eng.write([(_key(i), values[i % len(values)]) for i in range(s, min(n, s + batch))])
    wt = time.perf_counter() - t

    order = list(range(n))
    random.shuffle(order)
    t = time.perf_counter()
    got = []
    for s in range(0, n, 64):  # get_many in groups of 64, as a block row read would
        idx = order[s : s + 64]
        got += zip(idx, eng.get_many([_key(i) for i in idx]), strict=True)
    gt = time.perf_counter() - t
    assert all(v == values[i % len(values)] for i, v in got), "get returned a wrong value"

    nscan = max(1, min(200, n // 8))
    starts = [random.randrange(0, n - 8) for _ in range(nscan)]
    t = time.perf_counter()
    for s in starts:
        assert len(list(eng.scan(_key(s), _key(s + 8)))) == 8
    st = time.perf_counter() - t

    t = time.perf_counter()
    full = sum(1 for _ in eng.scan(_key(0), _key(n)))
    ft = time.perf_counter() - t
    assert full == n

    mb = n * VALUE / 2**20
    print(f"{name:10s} write {mb / wt:8.1f} MB/s ({n / wt:8.0f} puts/s) | get {n / gt:9.0f}/s | "
          f"scan8 {nscan / st:8.1f}/s | full scan {n} keys {ft * 1e3:7.1f} ms ({mb / ft:7.1f} MB/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="number of 32 KiB values")
    ap.add_argument("--batch", type=int, default=250, help="puts per atomic batch")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        eng = open_engine("lmdb", {"path": d})
        try:
            run("lmdb", eng, a.n, a.batch)
        finally:
            eng.close()

    from seaweed import Seaweed  # tests/seaweed.py: starts `weed server -s3` on 127.0.0.1

    sw = Seaweed().start()
    try:
        eng = open_engine("s3", sw.options("bench", f"b{os.getpid()}"))
        try:
            run("seaweedfs", eng, a.n, a.batch)
        finally:
            eng.close()
    finally:
        sw.stop()


if __name__ == "__main__":
    main()
