"""Our server on S3 against TensorStore on the same SeaweedFS, both sides alternating in one run.

Usage: python -m bench.bench_s3 [--rounds 7] [--no-fill]

Starts a real SeaweedFS (tests/seaweed.py) and ``dvid serve`` (2 workers) on it, stores the 512³
EM-like volume as 32³ lz4 blocks and a 1024×1024×512 tiling of it as 64³ JPEG blocks, and the
same data through TensorStore in the same bucket: zarr3 sharded (256³ shards of 32³ chunks),
neuroglancer precomputed unsharded 32³ raw and 64³ JPEG. Then, in rounds that rotate (and every
other round reverse) the order of all variants:

* GET raw 256³ unaligned ([128:384]³, touching 8 shards) and shard-aligned ([256:512]³);
* POST raw 256³ (ours into its own instance; TensorStore rewrites its chunks);
* GET subvolblocks 256³ of the 64³ JPEG instance (payloads passed through) against TensorStore
  reading the same chunks; a 1024² xy JPEG slice against TensorStore reading the plane + encoding;

after which the lz4 instance is filled to 1024³ (8x the objects) and the GETs are measured again,
and a second front end on the same bucket is started: two clients on one front end against one
client on each. Reads are cold on both sides: our front ends cache indexes and metadata but never
block data; TensorStore's handles have ``cache_pool`` 0. Prints medians, [min-max], MB/s, ratios,
S3 requests per operation (SeaweedFS metrics) and the servers' peak private RSS.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import sys
import time
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

from bench.bench_vs_tensorstore import load_volume
from bench.harness import AnonRssSampler, BenchServer
from bench.httpfast import Conn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

MB = 1e6
BUCKET = "dvidbench"
UNALIGNED, ALIGNED = (128, 128, 128), (256, 256, 256)


class Rounds:
    """Variants measured in alternating rounds; medians and ranges per variant."""

    def __init__(self) -> None:
        self.fns: dict[str, Callable[[], object]] = {}
        self.times: dict[str, list[float]] = {}
        self.nbytes: dict[str, int] = {}

    def add(self, name: str, fn: Callable[[], object], nbytes: int) -> None:
        self.fns[name], self.nbytes[name], self.times[name] = fn, nbytes, []

    def run(self, rounds: int) -> None:
        for fn in self.fns.values():  # warm-up: connections, handles, index caches
            fn()
        names = list(self.fns)
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in (reversed(order) if r % 2 else order):
                t = time.perf_counter()
                self.fns[name]()
                self.times[name].append(time.perf_counter() - t)

    def med(self, name: str) -> float:
        return statistics.median(self.times[name])

    def mbps(self, name: str) -> float:
        return self.nbytes[name] / MB / self.med(name)

    def report(self) -> None:
        for name, ts_ in self.times.items():
            print(f"  {name:<58} {self.med(name) * 1e3:8.1f} ms [{min(ts_) * 1e3:6.1f}-{max(ts_) * 1e3:6.1f}]"
                  f" {self.mbps(name):8.1f} MB/s", flush=True)

    def ratio(self, ours: str, theirs: str, target: float | None = None) -> None:
        r = self.med(theirs) / self.med(ours)
        goal = f"   (target >= {target:.1f}x: {'met' if r >= target else 'MISSED'})" if target else ""
        print(f"  {ours} / {theirs}: {r:.2f}x{goal}", flush=True)


def region(off: tuple[int, int, int], n: int = 256) -> str:
    return f"{n}_{n}_{n}/{off[0]}_{off[1]}_{off[2]}"


def count_objects(sw, prefix: str) -> int:
    from dvid.storage.s3objects import S3Objects

    o = sw.options(BUCKET, prefix)
    objects = S3Objects(BUCKET, endpoint=o["endpoint"], region=o["region"], access_key=o["access_key"],
                        secret_key=o["secret_key"])
    try:
        return sum(1 for _ in objects.listing(prefix + "/"))
    finally:
        objects.close()


def post_volume(conn: Conn, uuid: str, name: str, vol: np.ndarray, at=(0, 0, 0)) -> None:
    nz, ny, nx = vol.shape
    for z in range(0, nz, 256):
        for y in range(0, ny, 256):
            for x in range(0, nx, 256):
                sub = np.ascontiguousarray(vol[z : z + 256, y : y + 256, x : x + 256])
                conn.post(f"/api/node/{uuid}/{name}/raw/0_1_2/{region((x + at[0], y + at[1], z + at[2]))}",
                          memoryview(sub).cast("B"))


class TensorStoreSide:
    def __init__(self, endpoint: str, prefix: str) -> None:
        import tensorstore as ts

        self.ts, self.endpoint, self.prefix = ts, endpoint, prefix
        self.ctx = ts.Context({"cache_pool": {"total_bytes_limit": 0}})

    def kv(self, name: str) -> dict:
        return {"driver": "s3", "bucket": BUCKET, "path": f"{self.prefix}/{name}/", "endpoint": self.endpoint,
                "aws_region": "us-east-1", "aws_credentials": {"type": "environment"}}

    def create(self, vol: np.ndarray) -> None:
        """zarr3 sharded and precomputed 32³ raw of ``vol`` ([z, y, x])."""
        ts = self.ts
        n = vol.shape[0]
        z = ts.open({"driver": "zarr3", "kvstore": self.kv("zarr3"), "create": True, "metadata": {
            "shape": [n] * 3, "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [256] * 3}},
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [32] * 3, "codecs": [{"name": "bytes"}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]}},
            context=self.ctx).result()
        z.write(vol).result()
        self.zarr = z
        self.pc32 = self._precomputed("pc32", [n] * 3, "raw", 32)
        self.pc32[..., 0].write(vol.transpose(2, 1, 0)).result()

    def create_jpeg(self, vol: np.ndarray) -> None:
        nz, ny, nx = vol.shape
        self.pc64 = self._precomputed("pc64jpeg", [nx, ny, nz], "jpeg", 64)
        self.pc64[..., 0].write(vol.transpose(2, 1, 0)).result()

    def _precomputed(self, name: str, size: list[int], encoding: str, chunk: int):
        scale = {"size": size, "encoding": encoding, "chunk_size": [chunk] * 3, "resolution": [8, 8, 8]}
        if encoding == "jpeg":
            scale["jpeg_quality"] = 80
        return self.ts.open({"driver": "neuroglancer_precomputed", "kvstore": self.kv(name), "create": True,
                             "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
                             "scale_metadata": scale}, context=self.ctx).result()

    def read_zarr(self, off: tuple[int, int, int]) -> np.ndarray:
        x, y, z = off
        return self.zarr[z : z + 256, y : y + 256, x : x + 256].read().result()

    def read_pc(self, t, off: tuple[int, int, int], n: int = 256) -> np.ndarray:
        x, y, z = off
        return t[x : x + n, y : y + n, z : z + n, 0].read().result()

    def write_pc32(self, off: tuple[int, int, int], vol: np.ndarray) -> None:
        x, y, z = off
        self.pc32[x : x + 256, y : y + 256, z : z + 256, 0].write(vol.transpose(2, 1, 0)).result()

    def write_zarr(self, off: tuple[int, int, int], vol: np.ndarray) -> None:
        x, y, z = off
        self.zarr[z : z + 256, y : y + 256, x : x + 256].write(vol).result()

    def xy_jpeg(self, z: int) -> bytes:
        import simplejpeg

        plane = self.pc64[0:1024, 0:1024, z, 0].read().result()
        return simplejpeg.encode_jpeg(np.ascontiguousarray(plane.T)[..., None], quality=80, colorspace="GRAY",
                                      colorsubsampling="Gray")


def main() -> None:
    from seaweed import ACCESS, SECRET, Seaweed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-fill", action="store_true", help="skip filling the bucket to 1024³")
    args = ap.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1")
    vol = load_volume(512)
    tiled = np.tile(vol, (1, 2, 2))  # 1024 x 1024 x 512 ([z, y, x]) for the JPEG instance
    sw = Seaweed(metrics=True, volume_size_mb=512).start()
    prefix = "dvid-" + uuidlib.uuid4().hex[:8]
    section = sw.toml(BUCKET, prefix)
    try:
        with BenchServer(workers=2, store_section=section) as a, AnonRssSampler(a, 0.05) as rss_a:
            s = requests.Session()
            uuid = s.post(a.url + "/api/repos", json={}).json()["root"]
            for name, comp, bs in (("g32", "lz4", "32,32,32"), ("post32", "lz4", "32,32,32"),
                                   ("j64", "jpeg", "64,64,64")):
                s.post(f"{a.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": name,
                                                                   "Compression": comp, "BlockSize": bs}).raise_for_status()
            c = Conn(a.url)
            t0 = time.perf_counter()
            post_volume(c, uuid, "g32", vol)
            post_volume(c, uuid, "j64", tiled)
            print(f"ours: stored 512³ lz4 32³ + 1024x1024x512 jpeg 64³ in {time.perf_counter() - t0:.1f} s", flush=True)
            t0 = time.perf_counter()
            tss = TensorStoreSide(sw.endpoint, "ts-" + uuidlib.uuid4().hex[:8])
            tss.create(vol)
            tss.create_jpeg(tiled)
            print(f"TensorStore: stored zarr3 sharded, precomputed 32³ raw, 64³ jpeg in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)

            def raw_get(conn: Conn, name: str, off) -> Callable[[], memoryview]:
                return lambda: conn.get(f"/api/node/{uuid}/{name}/raw/0_1_2/{region(off)}", reuse=True)

            sub_u = np.ascontiguousarray(vol[128:384, 128:384, 128:384])
            for got, want in ((raw_get(c, "g32", UNALIGNED)(), sub_u),
                              (tss.read_zarr(UNALIGNED), sub_u), (tss.read_pc(tss.pc32, UNALIGNED).transpose(2, 1, 0), sub_u)):
                arr = got if isinstance(got, np.ndarray) else np.frombuffer(got, np.uint8).reshape(256, 256, 256)
                assert np.array_equal(arr, want)
            body = memoryview(sub_u).cast("B")
            n256 = sub_u.nbytes
            r = Rounds()
            r.add("ours GET raw 256³ unaligned, 32³ lz4", raw_get(c, "g32", UNALIGNED), n256)
            r.add("ours GET raw 256³ shard-aligned, 32³ lz4", raw_get(c, "g32", ALIGNED), n256)
            r.add("TS zarr3 sharded read 256³ unaligned", lambda: tss.read_zarr(UNALIGNED), n256)
            r.add("TS zarr3 sharded read 256³ shard-aligned", lambda: tss.read_zarr(ALIGNED), n256)
            r.add("TS precomputed 32³ read 256³ unaligned", lambda: tss.read_pc(tss.pc32, UNALIGNED), n256)
            r.add("ours POST raw 256³, 32³ lz4", lambda: c.post(f"/api/node/{uuid}/post32/raw/0_1_2/"
                                                                 f"{region(UNALIGNED)}", body), n256)
            r.add("TS precomputed 32³ write 256³", lambda: tss.write_pc32(UNALIGNED, sub_u), n256)
            r.add("TS zarr3 sharded write 256³ unaligned", lambda: tss.write_zarr(UNALIGNED, sub_u), n256)
            sb = c.get(f"/api/node/{uuid}/j64/subvolblocks/{region(UNALIGNED)}")
            r.add("ours GET subvolblocks 256³, 64³ jpeg (voxel MB/s)",
                  lambda: c.get(f"/api/node/{uuid}/j64/subvolblocks/{region(UNALIGNED)}", reuse=True), n256)
            r.add("TS precomputed 64³ jpeg read 256³", lambda: tss.read_pc(tss.pc64, UNALIGNED), n256)
            r.add("ours GET xy 1024² jpeg slice, 64³ jpeg",
                  lambda: c.get(f"/api/node/{uuid}/j64/raw/xy/1024_1024/0_0_256/jpg", reuse=True), 1 << 20)
            r.add("TS precomputed 64³ jpeg xy 1024² read + JPEG encode", lambda: tss.xy_jpeg(256), 1 << 20)
            print(f"\n  S3 requests per operation (one pass each; subvolblocks payload {len(sb) / MB:.1f} MB):")
            for name, fn in r.fns.items():
                before = sw.request_counts()
                fn()
                diff = {k: v - before.get(k, 0) for k, v in sw.request_counts().items() if v - before.get(k, 0)}
                print(f"  {name:<58} {diff}", flush=True)
            rss_a.reset()
            r.run(args.rounds)
            print(f"\n  512³ stored, {args.rounds} rounds, medians:", flush=True)
            r.report()
            print()
            r.ratio("ours GET raw 256³ unaligned, 32³ lz4", "TS zarr3 sharded read 256³ unaligned", 1.0)
            r.ratio("ours GET raw 256³ shard-aligned, 32³ lz4", "TS zarr3 sharded read 256³ shard-aligned")
            r.ratio("ours GET raw 256³ unaligned, 32³ lz4", "TS precomputed 32³ read 256³ unaligned")
            r.ratio("ours POST raw 256³, 32³ lz4", "TS precomputed 32³ write 256³", 1.0)
            r.ratio("ours POST raw 256³, 32³ lz4", "TS zarr3 sharded write 256³ unaligned")
            r.ratio("ours GET subvolblocks 256³, 64³ jpeg (voxel MB/s)", "TS precomputed 64³ jpeg read 256³")
            r.ratio("ours GET xy 1024² jpeg slice, 64³ jpeg", "TS precomputed 64³ jpeg xy 1024² read + JPEG encode")
            print(f"  targets: GET unaligned >= 200 MB/s: {r.mbps('ours GET raw 256³ unaligned, 32³ lz4'):.0f}; "
                  f"POST >= 70 MB/s: {r.mbps('ours POST raw 256³, 32³ lz4'):.0f}", flush=True)
            print(f"  peak private RSS of any server process during the rounds: {rss_a.sample():.0f} MB", flush=True)

            if not args.no_fill:
                t0 = time.perf_counter()
                for at in [(x, y, z) for z in (0, 512) for y in (0, 512) for x in (0, 512)][1:]:
                    post_volume(c, uuid, "g32", vol, at)
                n_obj = count_objects(sw, prefix)
                print(f"\n  filled g32 to 1024³ in {time.perf_counter() - t0:.1f} s; the bucket now holds {n_obj} objects",
                      flush=True)
                r2 = Rounds()
                r2.add("ours GET raw 256³ unaligned, 1024³ stored", raw_get(c, "g32", UNALIGNED), n256)
                r2.add("TS zarr3 sharded read 256³ unaligned", lambda: tss.read_zarr(UNALIGNED), n256)
                r2.add("ours GET raw 256³ unaligned at [640:896]³", raw_get(c, "g32", (640, 640, 640)), n256)
                r2.run(args.rounds)
                r2.report()
                r2.ratio("ours GET raw 256³ unaligned, 1024³ stored", "TS zarr3 sharded read 256³ unaligned", 1.0)

            with BenchServer(workers=2, store_section=section) as b, AnonRssSampler(b, 0.05) as rss_b:
                c2, cb, cb2 = Conn(a.url), Conn(b.url), Conn(b.url)
                raw_get(cb, "g32", UNALIGNED)()

                def pair(x: Callable[[], object], y: Callable[[], object]) -> Callable[[], None]:
                    def both() -> None:
                        with cf.ThreadPoolExecutor(2) as ex:
                            list(ex.map(lambda f: f(), (x, y)))
                    return both

                r3 = Rounds()
                r3.add("2 clients, 1 front end: GET raw 256³ unaligned (aggregate)",
                       pair(raw_get(c, "g32", UNALIGNED), raw_get(c2, "g32", ALIGNED)), 2 * n256)
                r3.add("2 clients, 2 front ends: GET raw 256³ unaligned (aggregate)",
                       pair(raw_get(c, "g32", UNALIGNED), raw_get(cb, "g32", ALIGNED)), 2 * n256)
                r3.add("2 clients, 2 front ends: POST raw 256³ (aggregate)",
                       pair(lambda: c.post(f"/api/node/{uuid}/post32/raw/0_1_2/{region(UNALIGNED)}", body),
                            lambda: cb2.post(f"/api/node/{uuid}/post32/raw/0_1_2/{region(ALIGNED)}", body)), 2 * n256)
                r3.add("TS 2 threads: zarr3 sharded read 256³ (aggregate)",
                       pair(lambda: tss.read_zarr(UNALIGNED), lambda: tss.read_zarr(ALIGNED)), 2 * n256)
                r3.run(args.rounds)
                print()
                r3.report()
                got_b = np.frombuffer(cb.get(f"/api/node/{uuid}/post32/raw/0_1_2/{region(ALIGNED)}"), np.uint8)
                assert np.array_equal(got_b, sub_u.reshape(-1)), "front end b does not see a's writes"
                print(f"  peak private RSS of any server process: front end a {rss_a.sample():.0f} MB, "
                      f"b {rss_b.sample():.0f} MB", flush=True)
    finally:
        sw.stop()


if __name__ == "__main__":
    main()
