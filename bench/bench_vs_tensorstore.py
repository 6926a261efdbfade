"""Side-by-side: our server over HTTP vs TensorStore reading local zarr v3 / precomputed files.

Usage: python -m bench.bench_vs_tensorstore [--size 512] [--repeats 7] [--workers 2] [--profile]

Starts ``dvid serve`` on a temporary LMDB store, writes the same synthetic EM volume into three
instances (lz4 32³, jpeg 32³, jpeg 64³ as neuroglancer uses) and into a zarr v3 and a
neuroglancer-precomputed volume with the same chunking, then measures both sides alternately and
prints medians, the ratio ours/TensorStore and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from bench.emdata import cached_em_volume
from bench.harness import AnonRssSampler, BenchServer
from bench.httpfast import Conn

MB = 1e6


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def med(ts: list[float]) -> float:
    return statistics.median(ts)


def post_volume(conn: Conn, uuid: str, name: str, vol: np.ndarray, offset=(0, 0, 0), slab: int = 256) -> None:
    """POST a [z,y,x] volume in block-aligned slabs of at most slab³."""
    nz, ny, nx = vol.shape
    for z in range(0, nz, slab):
        for y in range(0, ny, slab):
            for x in range(0, nx, slab):
                sub = np.ascontiguousarray(vol[z : z + slab, y : y + slab, x : x + slab])
                sz, sy, sx = sub.shape
                conn.post(f"/api/node/{uuid}/{name}/raw/0_1_2/{sx}_{sy}_{sz}/"
                          f"{x + offset[0]}_{y + offset[1]}_{z + offset[2]}", memoryview(sub).cast("B"))


def tensorstore_side(vol: np.ndarray, root: Path):
    import tensorstore as ts

    n = vol.shape[0]
    zspec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(root / "em.zarr")},
        "metadata": {
            "shape": list(vol.shape), "data_type": "uint8",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [32, 32, 32]}},
            "codecs": [{"name": "bytes"},
                       {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 1, "shuffle": "noshuffle"}}],
        },
        "create": True, "delete_existing": True,
    }
    ts.open(zspec).result().write(vol).result()
    pspec = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "file", "path": str(root / "em.precomputed")},
        "multiscale_metadata": {"data_type": "uint8", "num_channels": 1, "type": "image"},
        "scale_metadata": {"size": [n, n, n], "encoding": "raw", "chunk_size": [32, 32, 32],
                           "resolution": [8, 8, 8]},
        "create": True, "delete_existing": True,
    }
    ts.open(pspec).result()[..., 0].write(vol.transpose(2, 1, 0)).result()
    no_cache = {"cache_pool": {"total_bytes_limit": 0}}

    def read_zarr(off, size):
        t = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(root / "em.zarr")},
                     "context": no_cache}).result()
        x, y, z = off
        return t[z : z + size, y : y + size, x : x + size].read().result()

    def read_precomputed(off, size):
        t = ts.open({"driver": "neuroglancer_precomputed",
                     "kvstore": {"driver": "file", "path": str(root / "em.precomputed")},
                     "context": no_cache}).result()
        x, y, z = off
        return t[x : x + size, y : y + size, z : z + size, 0].read().result()

    return read_zarr, read_precomputed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="edge of the cubic test volume")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="record a py-spy profile of the server")
    args = ap.parse_args()
    n, R = args.size, args.repeats
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, ours: str, theirs: str = "", ratio: str = "") -> None:
        rows.append((name, ours, theirs, ratio))
        print(f"  {name:<44} {ours:>22} {theirs:>22} {ratio:>8}", flush=True)

    print(f"generating {n}³ EM-like volume ...", flush=True)
    vol = cached_em_volume(n)
    tmp = Path(tempfile.mkdtemp(prefix="dvid-bench-ts-"))
    print("writing TensorStore zarr v3 + precomputed ...", flush=True)
    read_zarr, read_precomputed = tensorstore_side(vol, tmp)

    with BenchServer(workers=args.workers) as srv, AnonRssSampler(srv, 0.1) as whole_run, \
            AnonRssSampler(srv, 0.05) as sampler:
        s = requests.Session()
        uuid = s.post(srv.url + "/api/repos", json={"alias": "bench", "description": "bench"}).json()["root"]
        for name, comp, bs in (("em_lz4", "lz4", "32,32,32"), ("em_jpeg", "jpeg", "32,32,32"),
                               ("em_jpeg64", "jpeg", "64,64,64"), ("em_post", "lz4", "32,32,32")):
            r = s.post(f"{srv.url}/api/repo/{uuid}/instance",
                       json={"typename": "uint8blk", "dataname": name, "Compression": comp, "BlockSize": bs})
            r.raise_for_status()
        c = Conn(srv.url)
        print("loading the volume into the server ...", flush=True)
        t0 = time.perf_counter()
        for name in ("em_lz4", "em_jpeg", "em_jpeg64"):
            post_volume(c, uuid, name, vol)
        print(f"  ingest of 3 × {n}³: {time.perf_counter() - t0:.1f} s", flush=True)
        # slabs for 1024² slices: an xy slab (z in [n, n+32)) and an xz slab (y in [n, n+32))
        post_volume(c, uuid, "em_lz4", np.tile(vol[:32], (1, 1024 // n or 1, 1024 // n or 1))[:, :1024, :1024],
                    offset=(0, 0, n))
        post_volume(c, uuid, "em_lz4", np.tile(vol[:, :32], (1024 // n or 1, 1, 1024 // n or 1))[:1024, :, :1024],
                    offset=(0, n, 0))

        size = min(256, n)
        nbytes = size**3
        offsets = [((i * 37) % (n - size + 1), (i * 91) % (n - size + 1), (i * 53) % (n - size + 1))
                   for i in range(R)]
        print(f"\n  {f'measure (median of {R})':<44} {'ours':>22} {'TensorStore':>22} {'ratio':>8}")

        # --- GET raw, one client, alternating with TensorStore
        ours_t, zarr_t, pre_t = [], [], []
        for off in offsets:  # warm-up pass for both sides: the OS page cache, and our worker's map
            c.get(f"/api/node/{uuid}/em_lz4/raw/0_1_2/{size}_{size}_{size}/{off[0]}_{off[1]}_{off[2]}")
            read_zarr(off, size)
            read_precomputed(off, size)
        for off in offsets:
            path = f"/api/node/{uuid}/em_lz4/raw/0_1_2/{size}_{size}_{size}/{off[0]}_{off[1]}_{off[2]}"
            t0 = time.perf_counter()
            body = c.get(path)
            ours_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            a = read_zarr(off, size)
            zarr_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            read_precomputed(off, size)
            pre_t.append(time.perf_counter() - t0)
            x, y, z = off
            assert bytes(body) == vol[z : z + size, y : y + size, x : x + size].tobytes(), "GET raw mismatch"
            assert np.array_equal(a, vol[z : z + size, y : y + size, x : x + size])
        ours_mbs = nbytes / med(ours_t) / MB
        row(f"GET raw {size}³ 1 client vs zarr3 (MB/s)", f"{ours_mbs:.0f} ({med(ours_t)*1e3:.1f} ms)",
            f"{nbytes/med(zarr_t)/MB:.0f} ({med(zarr_t)*1e3:.1f} ms)", f"{med(zarr_t)/med(ours_t):.2f}")
        row(f"GET raw {size}³ 1 client vs precomputed (MB/s)", f"{ours_mbs:.0f}",
            f"{nbytes/med(pre_t)/MB:.0f} ({med(pre_t)*1e3:.1f} ms)", f"{med(pre_t)/med(ours_t):.2f}")

        # --- GET raw, 4 concurrent clients for a fixed time (steady state, warm connections; each
        # client reads into its own reused buffer, as libdvid-style clients do, so the load
        # generator's page faults on fresh memory do not eat the CPU the server needs)
        def client_loop(k: int, until: float) -> int:
            cc = Conn(srv.url)
            total, i = 0, k
            while time.perf_counter() < until:
                off = offsets[i % len(offsets)]
                total += len(cc.get(f"/api/node/{uuid}/em_lz4/raw/0_1_2/{size}_{size}_{size}/"
                                    f"{off[0]}_{off[1]}_{off[2]}", reuse=True))
                i += 1
            cc.close()
            return total

        with cf.ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda k: client_loop(k, time.perf_counter() + 1.0), range(4)))  # warm-up
            t0 = time.perf_counter()
            total = sum(ex.map(lambda k: client_loop(k, t0 + 6.0), range(4)))
        agg = total / (time.perf_counter() - t0) / MB
        row(f"GET raw {size}³ 4 clients aggregate (MB/s)", f"{agg:.0f}")

        # --- POST raw
        sub = np.ascontiguousarray(vol[:size, :size, :size])
        post_t = timed(lambda: c.post(f"/api/node/{uuid}/em_post/raw/0_1_2/{size}_{size}_{size}/0_0_0",
                                      memoryview(sub).cast("B")), R)
        row(f"POST raw {size}³ (MB/s)", f"{nbytes/med(post_t)/MB:.0f} ({med(post_t)*1e3:.1f} ms)")

        # --- subvolblocks
        for name in ("em_jpeg", "em_lz4", "em_jpeg64"):
            wire = []
            tt = []
            for off in offsets:
                al = tuple((o // 64) * 64 for o in off)
                t0 = time.perf_counter()
                b = c.get(f"/api/node/{uuid}/{name}/subvolblocks/{size}_{size}_{size}/{al[0]}_{al[1]}_{al[2]}")
                tt.append(time.perf_counter() - t0)
                wire.append(len(b))
            row(f"GET subvolblocks {size}³ {name} (wire MB/s)",
                f"{statistics.median(wire)/med(tt)/MB:.0f} ({med(tt)*1e3:.1f} ms)", "", "")
            row("  same, voxel-equivalent MB/s", f"{nbytes/med(tt)/MB:.0f}")

        # --- specificblocks: 64 scattered blocks
        rng = np.random.default_rng(1)
        for name, bs in (("em_lz4", 32), ("em_jpeg64", 64)):
            nb = n // bs
            coords = rng.integers(0, nb, (64, 3))
            q = ",".join(str(v) for v in coords.ravel())
            sb_t = timed(lambda name=name, q=q: c.get(f"/api/node/{uuid}/{name}/specificblocks?blocks={q}"), R)
            row(f"GET specificblocks 64 blocks {name} (ms)", f"{med(sb_t)*1e3:.1f}")

        # --- 1024² slices
        for plane, off in (("xy", f"0_0_{n + 7}"), ("xz", f"0_{n + 7}_0")):
            for fmt in ("png", "jpg"):
                sl_t = timed(lambda plane=plane, off=off, fmt=fmt:
                             c.get(f"/api/node/{uuid}/em_lz4/raw/{plane}/1024_1024/{off}/{fmt}"), R)
                row(f"GET 1024² {plane} {fmt} (ms)", f"{med(sl_t)*1e3:.1f}")

        # --- scaling
        print("\n  scaling of GET raw (lz4 instance), one client reading into a reused buffer; "
              "server CPU and peak private memory per size:")
        for edge in (128, 256, 512):
            if edge > n:
                continue
            reps = max(3, R // 2)
            sampler.reset()
            cpu0 = srv.cpu_seconds()
            tt = timed(lambda edge=edge: c.get(f"/api/node/{uuid}/em_lz4/raw/0_1_2/{edge}_{edge}_{edge}/0_0_0",
                                               reuse=True), reps)
            cpu = (srv.cpu_seconds() - cpu0) / reps
            print(f"  {edge}³: {med(tt)*1e3:8.1f} ms  {med(tt)/edge**3*1e9:6.2f} ns/voxel wall  "
                  f"{cpu/edge**3*1e9:6.2f} ns/voxel server CPU  peak private RSS {sampler.sample():.0f} MB "
                  f"(answer {edge**3/MB:.0f} MB)", flush=True)

        if args.profile:
            out = tmp / "server-profile.svg"
            pid = srv.pids()[0]  # the server; --subprocesses takes in its workers
            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            prof = subprocess.Popen([spy, "record", "-o", str(out), "-p", str(pid), "-d", "10", "--threads",
                                     "--subprocesses"])
            end = time.time() + 9
            while time.time() < end:
                c.get(f"/api/node/{uuid}/em_lz4/raw/0_1_2/{size}_{size}_{size}/0_0_0")
            prof.wait()
            print(f"\n  profile written to {out}")

        rss = srv.peak_rss_mb()
        print("\n  server peak RSS per process, incl. mapped LMDB pages (MB): "
              + json.dumps({k: round(v) for k, v in rss.items()}))
        print(f"  server peak private (anonymous) RSS of any process over the run: {whole_run.peak_mb:.0f} MB")
        c.close()

    # --- POST on a store with sync = false (no fsync per commit; docs/reliability.md)
    with BenchServer(workers=args.workers,
                     store_section='engine = "lmdb"\npath = "db"\nsync = false\n') as srv2:
        s = requests.Session()
        uuid = s.post(srv2.url + "/api/repos", json={}).json()["root"]
        s.post(f"{srv2.url}/api/repo/{uuid}/instance",
               json={"typename": "uint8blk", "dataname": "em_post"}).raise_for_status()
        c2 = Conn(srv2.url)
        sub = np.ascontiguousarray(vol[:size, :size, :size])
        c2.post(f"/api/node/{uuid}/em_post/raw/0_1_2/{size}_{size}_{size}/0_0_0", memoryview(sub).cast("B"))
        post_t = timed(lambda: c2.post(f"/api/node/{uuid}/em_post/raw/0_1_2/{size}_{size}_{size}/0_0_0",
                                       memoryview(sub).cast("B")), R)
        print(f"  POST raw {size}³ on a store with sync = false: {nbytes/med(post_t)/MB:.0f} MB/s "
              f"({med(post_t)*1e3:.1f} ms)")
        c2.close()


if __name__ == "__main__":
    main()
