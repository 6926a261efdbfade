"""In-process comparison of object-store layouts for image blocks, on one real SeaweedFS.

Usage: python -m bench.bench_s3_layouts [--rounds 7] [--size 512]

The evidence behind the layout decision in docs/architecture.md. Every variant stores the same
512³ EM-like volume as 32³ lz4 blocks (DVID's stored values), loaded as eight block-aligned 256³
writes, and then reads and writes the region [128:384]³ (16.8 MB) with decode into a voxel array
(reads) or lz4 encoding (writes) included:

* ``bricks``: our indexed layout (``dvid.storage.indexed`` through ``IndexedView``);
* ``keys``: the previous S3 layout, one object per key, read by one LIST + GETs per row;
* ``ocdbt``: TensorStore's OCDBT B+tree over the same bucket with DVID's keys as they are (the
  "generic ordered KV" alternative), read coalescing on, B+tree nodes cached between requests
  (``cache_pool``), all 64 row listings and then all 512 reads issued at once.

Rounds alternate the variants (rotated order); medians and [min-max] are printed with S3 request
counts per operation taken from SeaweedFS's metrics.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid as uuidlib
from pathlib import Path

import numpy as np

from bench.bench_vs_tensorstore import load_volume
from dvid.codecs import block as blockcodec
from dvid.datastore import keys
from dvid.datastore.view import Ancestry
from dvid.datastore.views import view_for
from dvid.datatypes.imageblk import voxels
from dvid.geometry import Box
from dvid.storage.s3 import S3Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

BS = (32, 32, 32)
IID = 3
REGION = Box((128, 128, 128), (256, 256, 256))


def load(view, vol: np.ndarray, n: int) -> None:
    for z in range(0, n, 256):
        for y in range(0, n, 256):
            for x in range(0, n, 256):
                sub = np.ascontiguousarray(vol[z : z + 256, y : y + 256, x : x + 256])
                box = Box((x, y, z), (256, 256, 256))
                voxels.write_batches(view, voxels.encode_blocks(sub, box, BS, "lz4", ""))


class Ocdbt:
    """DVID's data keys in an OCDBT database on the bucket (a prototype for this comparison)."""

    def __init__(self, sw, bucket: str, path: str) -> None:
        import tensorstore as ts

        self.ts = ts
        spec = {"driver": "ocdbt",
                "base": {"driver": "s3", "bucket": bucket, "path": path, "endpoint": sw.endpoint,
                         "aws_region": "us-east-1", "aws_credentials": {"type": "environment"}},
                "experimental_read_coalescing_threshold_bytes": 1 << 20,
                "experimental_read_coalescing_merged_bytes": 8 << 20,
                "experimental_read_coalescing_interval": "5ms"}
        ctx = ts.Context({"cache_pool": {"total_bytes_limit": 256 << 20}})
        self.kv = ts.KvStore.open(spec, context=ctx).result()

    def write(self, items) -> None:
        txn = self.ts.Transaction()
        kv = self.kv.with_transaction(txn)
        futs = [kv.write(keys.data_key(IID, tk, 1), bytes(v)) for tk, v in items]
        txn.commit_async().result()
        for f in futs:
            f.result()

    def gather(self, box: Box) -> np.ndarray:
        ts = self.ts
        (x0, y0, z0), (x1, y1, z1) = box.block_range(BS)
        rows = [voxels.row_range(x0, x1, cy, cz) for cz in range(z0, z1 + 1) for cy in range(y0, y1 + 1)]
        pre = keys.instance_prefix(IID)
        lists = [self.kv.list(ts.KvStore.KeyRange(inclusive_min=pre + a, exclusive_max=pre + b)) for a, b in rows]
        found = sorted(k for f in lists for k in f.result())
        with ts.Batch() as batch:
            reads = [self.kv.read(k, batch=batch) for k in found]
        out = np.empty(box.size[::-1], np.uint8)
        stage = np.empty(BS[::-1], np.uint8)
        for k, f in zip(found, reads, strict=True):
            tk = k[len(pre) : -keys.SUFFIX_LEN]
            bx, by, bz = voxels.block_coord(tk)
            blockcodec.deserialize_into(f.result().value, stage.reshape(-1).view(np.uint8))
            ox, oy, oz = bx * 32 - box.offset[0], by * 32 - box.offset[1], bz * 32 - box.offset[2]
            out[oz : oz + 32, oy : oy + 32, ox : ox + 32] = stage
        return out


def main() -> None:
    from seaweed import Seaweed

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    n = args.size
    vol = load_volume(n)
    want = vol[128:384, 128:384, 128:384]
    sw = Seaweed(metrics=True, volume_size_mb=512).start()
    import os

    os.environ.update(AWS_ACCESS_KEY_ID="testkey", AWS_SECRET_ACCESS_KEY="testsecret", AWS_REGION="us-east-1")
    try:
        anc = Ancestry(1, {1: []})
        bricks_eng = S3Engine(**sw.options("layouts", "b" + uuidlib.uuid4().hex[:8]))
        keys_eng = S3Engine(**sw.options("layouts", "k" + uuidlib.uuid4().hex[:8]), layout="keys")
        bricks = view_for(bricks_eng, IID, anc)
        old = view_for(keys_eng, IID, anc)
        oc = Ocdbt(sw, "layouts", "o" + uuidlib.uuid4().hex[:8] + "/")
        t = time.perf_counter()
        load(bricks, vol, n)
        print(f"loaded {n}³ as bricks in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        load(old, vol, n)
        print(f"loaded {n}³ as keys in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        for z in range(0, n, 256):
            for y in range(0, n, 256):
                for x in range(0, n, 256):
                    sub = np.ascontiguousarray(vol[z : z + 256, y : y + 256, x : x + 256])
                    oc.write(voxels.encode_blocks(sub, Box((x, y, z), (256,) * 3), BS, "lz4", ""))
        print(f"loaded {n}³ into OCDBT (8 commits) in {time.perf_counter() - t:.1f} s", flush=True)

        def get(view):
            return lambda: voxels.gather(view, REGION, BS, np.dtype(np.uint8), 1)

        def post(view):
            return lambda: voxels.write_batches(view, voxels.encode_blocks(want, REGION, BS, "lz4", ""))

        variants = {
            "GET bricks": get(bricks), "GET keys": get(old), "GET ocdbt": lambda: oc.gather(REGION),
            "POST bricks": post(bricks), "POST keys": post(old),
            "POST ocdbt": lambda: oc.write(voxels.encode_blocks(want, REGION, BS, "lz4", "")),
        }
        for name, fn in variants.items():  # correctness and request counts, one pass each
            before = sw.request_counts()
            got = fn()
            counts = {k: v - before.get(k, 0) for k, v in sw.request_counts().items() if v - before.get(k, 0)}
            if name.startswith("GET"):
                assert np.array_equal(got, want), name
            print(f"  {name:12s} S3 requests: {counts}", flush=True)
        times: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            if r % 2:
                order.reverse()
            for name in order:
                t = time.perf_counter()
                variants[name]()
                times[name].append(time.perf_counter() - t)
        mb = want.nbytes / 1e6
        print(f"\n  region [128:384]³ of a {n}³ volume, 32³ lz4, in process, median of {args.rounds} rounds")
        for name, ts_ in times.items():
            med = statistics.median(ts_)
            print(f"  {name:12s} {med * 1e3:8.1f} ms [{min(ts_) * 1e3:.0f}-{max(ts_) * 1e3:.0f}]  {mb / med:7.1f} MB/s")
        for op in ("GET", "POST"):
            b = statistics.median(times[f"{op} bricks"])
            print(f"  {op}: bricks is {statistics.median(times[f'{op} keys']) / b:.1f}x keys, "
                  f"{statistics.median(times[f'{op} ocdbt']) / b:.1f}x ocdbt")
        bricks_eng.close()
        keys_eng.close()
    finally:
        sw.stop()


if __name__ == "__main__":
    main()
