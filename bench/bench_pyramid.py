"""Scale pyramids: our server's ``pyramid`` job vs TensorStore downsampling the same voxels from a
zarr v3 volume into a multi-scale zarr v3 group, alternating in one run; and the cost of an
incremental update after one 256³ POST, against that POST's own time.

Usage: python -m bench.bench_pyramid [--size 512] [--shape 1024,1024,512] [--repeats 5] [--workers 2]
       [--profile]

Both sides use 64³ chunks (neuroglancer's block size), LZ4 (ours: DVID's lz4 blocks; TensorStore:
blosc lz4, no shuffle), mean downsampling by 2,2,2 per level until one chunk, each level computed
from the one below as stored. Figures are MB/s of level-0 voxels; medians of the repeats.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import requests

from bench.bench_vs_tensorstore import load_volume, post_volume
from bench.harness import BenchServer
from bench.httpfast import Conn

MB = 1e6
CHUNK = 64


def run_job(s: requests.Session, url: str, opts: dict) -> tuple[float, dict]:
    """Start a pyramid job over HTTP and wait for it; returns (server-side job seconds, record)."""
    r = s.post(url, json=opts)
    r.raise_for_status()
    job = r.json()["job"]
    while True:
        rec = s.get(url.split("/api/")[0] + f"/api/server/jobs/{job}").json()
        if rec["state"] != "running":
            break
        time.sleep(0.01)
    if rec["state"] != "done":
        raise RuntimeError(f"pyramid job failed: {rec}")
    secs = (datetime.fromisoformat(rec["ended"]) - datetime.fromisoformat(rec["started"])).total_seconds()
    return secs, rec


def tensorstore_pyramid(src_path: Path, dst: Path, levels: int) -> None:
    """Level k+1 = TensorStore's mean downsample of level k as written, into one zarr v3 group."""
    import tensorstore as ts

    codecs = [{"name": "bytes"}, {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 1,
                                                                     "shuffle": "noshuffle"}}]
    prev = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(src_path)}}).result()
    for k in range(1, levels + 1):
        down = ts.downsample(prev, [2, 2, 2], "mean")
        out = ts.open({
            "driver": "zarr3", "kvstore": {"driver": "file", "path": str(dst / str(k))},
            "metadata": {"shape": list(down.shape), "data_type": "uint8",
                         "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [CHUNK] * 3}},
                         "codecs": codecs},
            "create": True, "delete_existing": True,
        }).result()
        out.write(down).result()
        prev = out


def write_zarr(vol: np.ndarray, path: Path) -> None:
    import tensorstore as ts

    ts.open({
        "driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)},
        "metadata": {"shape": list(vol.shape), "data_type": "uint8",
                     "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [CHUNK] * 3}},
                     "codecs": [{"name": "bytes"}, {"name": "blosc", "configuration": {
                         "cname": "lz4", "clevel": 1, "shuffle": "noshuffle"}}]},
        "create": True, "delete_existing": True,
    }).result().write(vol).result()


def levels_for(shape_zyx) -> int:
    n, m = 0, max(shape_zyx)
    while m > CHUNK:
        m = -(-m // 2)
        n += 1
    return n


def check_equal(srv_url: str, uuid: str, name: str, ts_root: Path, levels: int) -> None:
    """Our levels and TensorStore's hold the same voxels."""
    import tensorstore as ts

    c = Conn(srv_url)
    for k in range(1, levels + 1):
        theirs = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(ts_root / str(k))}}).result()
        z, y, x = theirs.shape
        ours = np.frombuffer(c.get(f"/api/node/{uuid}/{name}_{k}/raw/0_1_2/{x}_{y}_{z}/0_0_0"), np.uint8)
        assert np.array_equal(ours.reshape(z, y, x), theirs.read().result()), f"level {k} differs"
    c.close()


def drop_levels(srv: BenchServer, uuid: str, name: str, levels: int) -> None:
    for k in range(1, levels + 1):
        res = subprocess.run([sys.executable, "-m", "dvid.cli.main", f"-rpc={srv.rpc}", "repo", uuid, "delete",
                              f"{name}_{k}"], capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(res.stderr)


def bench_full(srv: BenchServer, vol: np.ndarray, label: str, repeats: int, tmp: Path) -> tuple[float, float]:
    s = requests.Session()
    uuid = s.post(srv.url + "/api/repos", json={}).json()["root"]
    name = f"em{label}"
    s.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": name,
                                                        "BlockSize": f"{CHUNK},{CHUNK},{CHUNK}"}).raise_for_status()
    c = Conn(srv.url)
    post_volume(c, uuid, name, vol)
    c.close()
    src = tmp / f"l0{label}.zarr"
    write_zarr(vol, src)
    levels = levels_for(vol.shape)
    url = f"{srv.url}/api/node/{uuid}/{name}/pyramid"
    ours, theirs = [], []
    run_job(s, url, {"full": True})  # warm-up both (page cache, level instances created)
    tensorstore_pyramid(src, tmp / f"ts{label}", levels)
    for _ in range(repeats):
        drop_levels(srv, uuid, name, levels)  # every build writes all its blocks, as TensorStore does
        secs, rec = run_job(s, url, {"full": True})
        ours.append(secs)
        t0 = time.perf_counter()
        tensorstore_pyramid(src, tmp / f"ts{label}", levels)
        theirs.append(time.perf_counter() - t0)
    check_equal(srv.url, uuid, name, tmp / f"ts{label}", levels)
    return statistics.median(ours), statistics.median(theirs)


def bench_incremental(srv: BenchServer, vol: np.ndarray, repeats: int) -> tuple[float, float, dict]:
    """POST one 256³ block-aligned subvolume, then update the pyramid; both timed."""
    s = requests.Session()
    uuid = s.post(srv.url + "/api/repos", json={}).json()["root"]
    s.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "inc",
                                                        "BlockSize": f"{CHUNK},{CHUNK},{CHUNK}"}).raise_for_status()
    c = Conn(srv.url)
    post_volume(c, uuid, "inc", vol)
    url = f"{srv.url}/api/node/{uuid}/inc/pyramid"
    run_job(s, url, {})
    sub = np.ascontiguousarray(vol[:256, :256, :256])
    posts, updates = [], []
    rec = {}
    for i in range(repeats + 1):
        data = np.ascontiguousarray(sub ^ np.uint8(i + 1))  # new voxels each time
        off = ((i * 64) % (vol.shape[2] - 256 + 64), 0, 0)  # block-aligned, inside the volume
        t0 = time.perf_counter()
        c.post(f"/api/node/{uuid}/inc/raw/0_1_2/256_256_256/{off[0]}_{off[1]}_{off[2]}", memoryview(data).cast("B"))
        post_t = time.perf_counter() - t0
        secs, rec = run_job(s, url, {})
        if i:  # the first round warms up
            posts.append(post_t)
            updates.append(secs)
    c.close()
    last = s.get(url).json()["LastUpdate"]["last"]
    return statistics.median(posts), statistics.median(updates), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="edge of the cubic volume")
    ap.add_argument("--shape", default="", help="also a volume of x,y,z, e.g. 1024,1024,512")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="py-spy profile of one full build")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dvid-bench-pyr-"))
    vol = load_volume(args.size)
    shapes = [("", vol)]
    if args.shape:
        x, y, z = (int(v) for v in args.shape.split(","))
        big = np.tile(vol, (-(-z // vol.shape[0]), -(-y // vol.shape[1]), -(-x // vol.shape[2])))[:z, :y, :x]
        shapes.append((f"_{x}x{y}x{z}", np.ascontiguousarray(big)))
    head = f"measure (median of {args.repeats})"
    print(f"{head:<52} {'ours':>16} {'TensorStore':>16} {'ratio':>7}")
    try:
        with BenchServer(workers=args.workers) as srv:
            for label, v in shapes:
                mb = v.nbytes / MB
                ours, theirs = bench_full(srv, v, label, args.repeats, tmp)
                dims = "x".join(map(str, v.shape[::-1]))
                print(f"{'full pyramid ' + dims + ' (MB/s of level 0)':<52} {mb / ours:>9.0f} ({ours:.2f} s)"
                      f" {mb / theirs:>9.0f} ({theirs:.2f} s) {theirs / ours:>7.2f}", flush=True)
            post_t, upd_t, last = bench_incremental(srv, vol, args.repeats)
            print(f"{'POST raw 256³, then incremental update (s)':<52} {post_t:>16.3f} {upd_t:>16.3f}"
                  f" {upd_t / post_t:>7.2f}   <- update / POST (target <= 0.10)")
            print("  last update: " + "; ".join(f"level {lv['level']}: {lv['computed']} computed, {lv['written']} "
                                                 f"written" for lv in last["levels"]))
            if args.profile:
                s = requests.Session()
                uuid = s.post(srv.url + "/api/repos", json={}).json()["root"]
                s.post(f"{srv.url}/api/repo/{uuid}/instance", json={
                    "typename": "uint8blk", "dataname": "p", "BlockSize": f"{CHUNK},{CHUNK},{CHUNK}"})
                c = Conn(srv.url)
                post_volume(c, uuid, "p", vol)
                out = tmp / "pyramid-profile.svg"
                spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                prof = subprocess.Popen([spy, "record", "-o", str(out), "-p", str(srv.pids()[0]), "--threads",
                                         "--subprocesses", "-d", "12"])
                time.sleep(1)
                run_job(s, f"{srv.url}/api/node/{uuid}/p/pyramid", {"full": True})
                prof.wait()
                print(f"  profile written to {out}")
    finally:
        if not args.profile:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
