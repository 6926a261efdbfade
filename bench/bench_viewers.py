"""Many viewers at once: our server vs nginx serving the same volume as static precomputed files.

Usage: python -m bench.bench_viewers [--rounds 3] [--seconds 5] [--workers 2] [--conns 1,8,64]
       [--size 512] [--json out.json] [--mixed] [--pyspy]

A 512³ EM-like volume (``bench/emdata.py``) goes into a 64³-block JPEG ``uint8blk`` instance on
our server (LMDB, ``--quiet``) and out again through our own ``export ... format=precomputed`` (a
job, JPEG chunks at the instance's quality), so nginx (Debian's, ``worker_processes`` = our
workers, no access log, sendfile) serves the very bytes a lab would put on a static server. Load
is ``wrk -t2`` at each connection count with a script cycling over shuffled request paths
(``bench/loadgen.py``); the two servers take turns, alternating which goes first, ``--rounds``
times; figures are medians over rounds, ratios ours/nginx.

Workloads: ``chunks`` (one 64³ JPEG block by ``subvolblocks/64_64_64/x_y_z``, every chunk of the
volume in shuffled order, vs nginx's chunk files ``<key>/x0-x1_y0-y1_z0-z1``); ``specific``
(``specificblocks`` of 8 blocks per request, ours only: per-request and per-block rates beside
nginx's single-chunk rate / 8); ``slice`` (a 512² xy JPEG ``raw/xy/512_512/0_0_z/jpg`` at shuffled
z, ours only); ``heartbeat`` (``/api/heartbeat``: the floor of our per-request cost).

``--mixed``: chunk latency at 8 connections idle, beside each kind of large work alone and beside
all of it, a background thread looping a 256³ raw GET of the same instance, a 256³ raw POST to
another one and a ``load`` job of 64 PNG slices (CLI with ``-rpc``); the phases' order reverses
every round. ``--pyspy`` adds ``py-spy record --gil`` of every server process during the first
all-of-it run: which code holds each process's GIL while chunk requests wait.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from bench.emdata import cached_em_volume
from bench.harness import BenchServer
from bench.loadgen import Nginx, Wrk, WrkResult

B = 64  # block edge
NAME = "em"
WORKLOADS = ("chunks", "specific", "slice", "heartbeat")


# ------------------------------------------------------------------------------------------- setup
def cli(srv: BenchServer, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """``dvid -rpc=<server> ...`` as a user runs it; long commands are jobs the CLI waits for."""
    res = subprocess.run([sys.executable, "-m", "dvid.cli.main", f"-rpc={srv.rpc}", *args],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"dvid {' '.join(args)} failed: {res.stderr}{res.stdout}")
    return res


def setup(srv: BenchServer, size: int, export_dir: Path) -> tuple[str, str, float]:
    """Repo, JPEG instance with the volume, and its precomputed export; returns (uuid, scale key,
    export seconds)."""
    s = requests.Session()
    uuid = s.post(srv.url + "/api/repos", json={"alias": "viewers"}).json()["root"]
    s.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": NAME,
           "BlockSize": f"{B},{B},{B}", "Compression": "jpeg", "VoxelSize": "8,8,8"}).raise_for_status()
    vol = cached_em_volume(size)
    for z in range(0, size, B):
        r = s.post(f"{srv.url}/api/node/{uuid}/{NAME}/raw/0_1_2/{size}_{size}_{B}/0_0_{z}",
                   data=vol[z : z + B].tobytes())
        r.raise_for_status()
    t0 = time.perf_counter()
    cli(srv, "node", uuid, NAME, "export", str(export_dir), "format=precomputed")
    secs = time.perf_counter() - t0
    info = json.loads((export_dir / "info").read_text())
    scale = info["scales"][0]
    if scale["encoding"] != "jpeg":
        raise RuntimeError(f"export is not JPEG: {scale}")
    return uuid, scale["key"], secs


def chunk_paths(uuid: str, key: str, size: int, seed: int) -> tuple[list[str], list[str], list[tuple]]:
    """The same chunks, shuffled once, as our ``subvolblocks`` paths and as nginx's file paths."""
    n = size // B
    coords = [(x, y, z) for z in range(n) for y in range(n) for x in range(n)]
    random.Random(seed).shuffle(coords)
    ours = [f"/api/node/{uuid}/{NAME}/subvolblocks/{B}_{B}_{B}/{x * B}_{y * B}_{z * B}" for x, y, z in coords]
    static = [f"/{key}/{x * B}-{x * B + B}_{y * B}-{y * B + B}_{z * B}-{z * B + B}" for x, y, z in coords]
    return ours, static, coords


def specific_paths(uuid: str, coords: list[tuple], seed: int, per: int = 8) -> list[str]:
    """``specificblocks`` of ``per`` blocks each: several shuffles of all blocks, cut in groups."""
    rng = random.Random(seed + 1)
    out = []
    for _ in range(per):
        cs = list(coords)
        rng.shuffle(cs)
        for i in range(0, len(cs) - per + 1, per):
            out.append(f"/api/node/{uuid}/{NAME}/specificblocks?blocks=" +
                       ",".join(f"{x},{y},{z}" for x, y, z in cs[i : i + per]))
    return out


def slice_paths(uuid: str, size: int, seed: int) -> list[str]:
    zs = list(range(size))
    random.Random(seed + 2).shuffle(zs)
    return [f"/api/node/{uuid}/{NAME}/raw/xy/{size}_{size}/0_0_{z}/jpg" for z in zs]


def check_same_bytes(srv: BenchServer, ngx: Nginx, ours: list[str], static: list[str]) -> tuple[float, float]:
    """Both servers answer every path with 200; returns mean answer sizes (ours, nginx) in KB.
    Ours is one subvolblocks record: a 16-byte header (block coords, length) + the JPEG."""
    sizes = []
    for base, paths in ((srv.url, ours), (ngx.url, static)):
        got = [requests.get(base + p) for p in paths[:32]]
        bad = [(r.status_code, r.url) for r in got if r.status_code != 200]
        if bad:
            raise RuntimeError(f"not served: {bad[:3]}")
        sizes.append(statistics.mean(len(r.content) for r in got) / 1e3)
    return sizes[0], sizes[1]


# ------------------------------------------------------------------------------------------ rounds
def median_of(results: list[WrkResult]) -> dict:
    keys = ("rps", "mb_s", "p50", "p99", "p999", "max")
    out = {k: statistics.median(getattr(r, k) for r in results) for k in keys}
    out["errors"] = sum(r.errors for r in results)
    out["runs"] = len(results)
    return out


def run_rounds(wrk: Wrk, srv: BenchServer, ngx: Nginx, lists: dict[str, tuple[Path, Path | None]],
               conns: list[int], rounds: int, seconds: float, workloads: list[str]) -> dict:
    """Every (workload, connections, side) once per round; within a round the side that goes first
    alternates, so drift on the shared machine hits both alike."""
    raw: dict[tuple[str, int, str], list[WrkResult]] = {}
    for r in range(rounds):
        for wl in workloads:
            ours_f, static_f = lists[wl]
            for c in conns:
                sides = [("ours", srv.url, ours_f)] + ([("nginx", ngx.url, static_f)] if static_f else [])
                if r % 2:
                    sides.reverse()
                for side, url, f in sides:
                    split: dict[int, int] = {}
                    res = wrk.run(url, f, c, seconds, split=split if side == "ours" else None)
                    raw.setdefault((wl, c, side), []).append(res)
                    conns_of = "/".join(str(n) for n in sorted(split.values(), reverse=True))
                    print(f"  round {r + 1} {wl:9s} c={c:<3d} {side:5s} {res.rps:9.0f} req/s {res.mb_s:8.1f} MB/s "
                          f"p50 {res.p50:6.2f} p99 {res.p99:6.2f} p99.9 {res.p999:6.2f} ms"
                          + (f"  connections per worker {conns_of}" if conns_of else "")
                          + (f"  ERRORS {res.errors}" if res.errors else ""), flush=True)
    return {k: median_of(v) for k, v in raw.items()}


def table(med: dict, conns: list[int], workloads: list[str]) -> str:
    rows = ["| workload | conns | side | requests/s | MB/s | p50 ms | p99 ms | p99.9 ms | ours/nginx req/s |",
            "|---|---|---|---|---|---|---|---|---|"]

    def row(label: str, c: int, side: str, m: dict, ratio: str = "") -> str:
        return (f"| {label} | {c} | {side} | {m['rps']:,.0f} | {m['mb_s']:,.1f} | {m['p50']:.2f} | {m['p99']:.2f} "
                f"| {m['p999']:.2f} | {ratio} |")

    for wl in workloads:
        for c in conns:
            ours = med.get((wl, c, "ours"))
            ng = med.get(("chunks", c, "nginx"))
            if ours is None:
                continue
            if wl == "chunks":
                rows.append(row("64³ JPEG chunk", c, "nginx", ng))
                rows.append(row("64³ JPEG subvolblocks", c, "ours", ours, f"**{ours['rps'] / ng['rps']:.2f}×**"))
            elif wl == "specific":
                eq = f"{ours['rps'] * 8:,.0f} blocks/s" + (
                    f" vs nginx {ng['rps']:,.0f} chunks/s (= {ng['rps'] / 8:,.0f} req/s of 8): "
                    f"**{ours['rps'] * 8 / ng['rps']:.2f}×**" if ng else "")
                rows.append(row("specificblocks ×8", c, "ours", ours, eq))
            elif wl == "slice":
                rows.append(row("512² xy JPEG slice", c, "ours", ours))
            else:
                rows.append(row("/api/heartbeat", c, "ours", ours))
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------- mixed
class Background(threading.Thread):
    """Large work beside the viewers, in a loop until stopped: ``get`` a 256³ raw GET of the viewed
    instance, ``post`` a 256³ raw POST to another, ``load`` a job of PNG slices (CLI); ``kinds``
    says which of them; each op's seconds are kept."""

    def __init__(self, srv: BenchServer, uuid: str, png_glob: str, kinds: tuple[str, ...], body: bytes) -> None:
        super().__init__(daemon=True)
        self.srv, self.uuid, self.png_glob, self.kinds, self.body = srv, uuid, png_glob, kinds, body
        self.stop_ev = threading.Event()
        self.ops: dict[str, list[float]] = {k: [] for k in kinds}

    def run(self) -> None:
        s = requests.Session()
        base = f"{self.srv.url}/api/node/{self.uuid}"
        steps = {"get": lambda: s.get(f"{base}/{NAME}/raw/0_1_2/256_256_256/128_128_128").raise_for_status(),
                 "post": lambda: s.post(f"{base}/scratch/raw/0_1_2/256_256_256/0_0_0",
                                        data=self.body).raise_for_status(),
                 "load": lambda: cli(self.srv, "node", self.uuid, "loaded", "load", "0,0,0", self.png_glob)}
        while not self.stop_ev.is_set():
            for name in self.kinds:
                if self.stop_ev.is_set():
                    break
                t0 = time.perf_counter()
                steps[name]()
                self.ops[name].append(time.perf_counter() - t0)

    def stop(self) -> None:
        self.stop_ev.set()
        self.join()


#: the phases of ``--mixed``: chunks alone, beside each kind of large work alone, beside all of it
PHASES = {"idle": (), "get": ("get",), "post": ("post",), "load": ("load",), "mixed": ("get", "post", "load")}


def mixed(wrk: Wrk, srv: BenchServer, uuid: str, chunks: Path, rounds: int, seconds: float, conns: int,
          pyspy: bool) -> dict:
    s = requests.Session()
    for name in ("scratch", "loaded"):
        s.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": name,
               "BlockSize": f"{B},{B},{B}", "Compression": "lz4"}).raise_for_status()
    pngdir = Path(tempfile.mkdtemp(prefix="bench-viewers-png-"))
    from PIL import Image

    vol = cached_em_volume(512)
    for z in range(64):  # 64 slices of 512²: one layer of 64³ blocks
        Image.fromarray(vol[z]).save(pngdir / f"s{z:03d}.png", compress_level=1)
    try:
        return _mixed_rounds(wrk, srv, uuid, chunks, rounds, seconds, conns, pyspy, str(pngdir / "s*.png"))
    finally:
        shutil.rmtree(pngdir, ignore_errors=True)


def _mixed_rounds(wrk: Wrk, srv: BenchServer, uuid: str, chunks: Path, rounds: int, seconds: float, conns: int,
                  pyspy: bool, glob: str) -> dict:
    res: dict[str, list[WrkResult]] = {p: [] for p in PHASES}
    ops: dict[str, list[float]] = {}
    body = np.random.default_rng(5).integers(0, 255, (256, 256, 256), np.uint8).tobytes()
    profiles = {}
    for r in range(rounds):
        order = list(PHASES) if r % 2 == 0 else list(PHASES)[::-1]
        for phase in order:
            bg = None
            prof = None
            if PHASES[phase]:
                bg = Background(srv, uuid, glob, PHASES[phase], body)
                bg.start()
                time.sleep(0.5)  # the first large request is under way
                if pyspy and r == 0 and phase == "mixed":
                    prof = GilProfile(srv, seconds)
            split: dict[int, int] = {}
            got = wrk.run(srv.url, chunks, conns, seconds, split=split)
            if prof is not None:
                profiles = prof.finish()
            if bg is not None:
                bg.stop()
                for k, v in bg.ops.items():
                    ops.setdefault(f"{phase}/{k}", []).extend(v)
            res[phase].append(got)
            print(f"  round {r + 1} {phase:5s} c={conns} {got.rps:9.0f} req/s p50 {got.p50:6.2f} p99 {got.p99:7.2f} "
                  f"p99.9 {got.p999:7.2f} max {got.max:7.1f} ms  connections per worker "
                  f"{'/'.join(str(n) for n in sorted(split.values(), reverse=True))}" + (f"  ERRORS {got.errors}" if got.errors else ""),
                  flush=True)
    return {"phases": {p: median_of(v) for p, v in res.items()},
            "ops": {k: {"n": len(v), "median_s": statistics.median(v) if v else None} for k, v in ops.items()},
            "gil_profile": profiles}


class GilProfile:
    """``py-spy record --gil`` of every server process during one mixed run: which code holds each
    process's GIL (the chunk requests of a worker wait for it), as leaf-function shares."""

    def __init__(self, srv: BenchServer, seconds: float) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.outs: dict[int, Path] = {}
        self.procs = []
        for pid in srv.pids():
            if "resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                continue
            out = srv.data_dir / f"gil-{pid}.txt"
            self.outs[pid] = out
            self.procs.append(subprocess.Popen(
                [exe, "record", "--gil", "--nonblocking", "-r", "200", "-d", str(max(1, int(seconds) - 1)),
                 "--format", "raw", "-o", str(out), "--pid", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def finish(self) -> dict:
        for p in self.procs:
            p.wait(60)
        summary = {}
        for pid, out in self.outs.items():
            if not out.exists():
                continue
            counts: dict[str, int] = {}
            total = 0
            for line in out.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                if not n.isdigit():
                    continue
                frames = stack.split(";")
                # the deepest of our own frames names the work (leaves are often numpy/codec calls)
                ours = [f for f in frames if "dvid/" in f] or frames
                key = ours[-1].split(" (")[0] + " <- " + (ours[-2].split(" (")[0] if len(ours) > 1 else "")
                counts[key] = counts.get(key, 0) + int(n)
                total += int(n)
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:8]
            summary[str(pid)] = {"gil_samples": total, "top": [(k, round(100 * v / max(1, total), 1)) for k, v in top]}
        return summary


def mixed_table(m: dict) -> str:
    ph = m["phases"]
    i = ph["idle"]
    rows = ["| chunk subvolblocks, 8 conns, beside | requests/s | p50 ms | p99 ms | p99.9 ms | max ms | p99 / idle |",
            "|---|---|---|---|---|---|---|"]
    labels = {"idle": "nothing (idle)", "get": "256³ raw GET loop", "post": "256³ raw POST loop",
              "load": "load job loop (64 PNG 512²)", "mixed": "all three (GET, POST, load)"}
    for p, x in ph.items():
        rows.append(f"| {labels[p]} | {x['rps']:,.0f} | {x['p50']:.2f} | {x['p99']:.2f} | {x['p999']:.2f} "
                    f"| {x['max']:.1f} | **{x['p99'] / i['p99']:.1f}×** |")
    ops = ", ".join(f"{k} {v['n']}× (median {v['median_s']:.2f} s)" for k, v in m["ops"].items() if v["n"])
    text = "\n".join(rows) + f"\n\nbackground work done: {ops}"
    for pid, g in m.get("gil_profile", {}).items():
        text += f"\n\nGIL holders in pid {pid} during a mixed run ({g['gil_samples']} samples at 200 Hz):"
        for k, pct in g["top"]:
            text += f"\n  {pct:5.1f}%  {k}"
    return text


# -------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="our worker processes and nginx's worker_processes")
    ap.add_argument("--conns", default="1,8,64")
    ap.add_argument("--size", type=int, default=512, help="edge of the cubic volume (a multiple of 64)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--mixed", action="store_true", help="chunk latency idle vs under large work, 8 connections")
    ap.add_argument("--pyspy", action="store_true", help="with --mixed: py-spy dumps of the workers")
    ap.add_argument("--nginx-nopush", choices=("on", "off"), default="on",
                    help="nginx tcp_nopush (Debian's default on: faster, but 40 ms stalls at one connection)")
    ap.add_argument("--json", default="", help="save the medians here")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    conns = [int(c) for c in a.conns.split(",")]
    workloads = [w for w in a.workloads.split(",") if w]
    wrk = Wrk()
    export_dir = Path(tempfile.mkdtemp(prefix="bench-viewers-export-"))
    with BenchServer(workers=a.workers) as srv:
        uuid, key, export_s = setup(srv, a.size, export_dir)
        ours, static, coords = chunk_paths(uuid, key, a.size, a.seed)
        lists = {"chunks": (wrk.paths_file("ours", ours), wrk.paths_file("static", static)),
                 "specific": (wrk.paths_file("specific", specific_paths(uuid, coords, a.seed)), None),
                 "slice": (wrk.paths_file("slice", slice_paths(uuid, a.size, a.seed)), None),
                 "heartbeat": (wrk.paths_file("heartbeat", ["/api/heartbeat"]), None)}
        with Nginx(export_dir, workers=a.workers, nopush=a.nginx_nopush == "on") as ngx:
            kb_ours, kb_static = check_same_bytes(srv, ngx, ours, static)
            head = (f"{a.size}³ EM-like volume, 64³ JPEG blocks ({len(coords)} chunks), exported by our precomputed "
                    f"export in {export_s:.1f} s; answers ours {kb_ours:.1f} KB, nginx {kb_static:.1f} KB per chunk. "
                    f"Our server: {a.workers} workers, LMDB, --quiet; nginx {ngx.version()}, worker_processes "
                    f"{a.workers}, tcp_nopush {a.nginx_nopush}. wrk -t2 (-t1 at 1 connection), {a.seconds:g} s per run, {a.rounds} rounds, "
                    "medians.")
            print(head, flush=True)
            for f in (lists["chunks"][0], lists["chunks"][1]):  # warm-up: page cache, connections, both workers
                wrk.run(srv.url if f == lists["chunks"][0] else ngx.url, f, 8, 1)
            out: dict = {"setup": head}
            if a.mixed:
                m = mixed(wrk, srv, uuid, lists["chunks"][0], a.rounds, a.seconds, 8, a.pyspy)
                text = mixed_table(m)
                out["mixed"] = m
            else:
                med = run_rounds(wrk, srv, ngx, lists, conns, a.rounds, a.seconds, workloads)
                text = table(med, conns, workloads)
                out["medians"] = {f"{wl}/c{c}/{side}": v for (wl, c, side), v in med.items()}
            print("\n" + head + "\n\n" + text, flush=True)
        print(f"server data dir: {srv.data_dir}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    wrk.close()
    shutil.rmtree(export_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
