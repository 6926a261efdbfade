"""Job records: progress, failure capture, listing, and interruption detection."""

import json
import time
from pathlib import Path

from dvid.datastore.jobs import JobStore
from dvid.datastore.keys import job_key
from dvid.storage.lmdb import LMDBEngine


def wait_done(js, job_id, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        rec = js.get(job_id)
        if rec["state"] != "running":
            return rec
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_progress_and_success(tmp_path):
    store = LMDBEngine(tmp_path / "db", map_size=1 << 24)
    js = JobStore(store)
    job = js.create("load 0,0,0 *.png", node="abc", instance="grayscale")

    def work(j):
        j.set_totals(files=3, blocks=30)
        for _ in range(3):
            j.advance(files=1, blocks=10)
        return "loaded 3 files"

    js.start(job, work)
    rec = wait_done(js, job.id)
    assert rec["state"] == "done"
    assert (rec["files_done"], rec["files_total"], rec["blocks_done"], rec["blocks_total"]) == (3, 3, 30, 30)
    assert rec["message"] == "loaded 3 files" and rec["ended"]
    assert [r["id"] for r in js.list()] == [job.id]


def test_errors_mark_failure_and_exceptions_are_captured(tmp_path):
    store = LMDBEngine(tmp_path / "db", map_size=1 << 24)
    js = JobStore(store)
    j1 = js.create("load")

    def partial(j):
        j.error("bad.png", "cannot decode")
        return "1 of 2 files loaded"

    js.start(j1, partial)
    rec = wait_done(js, j1.id)
    assert rec["state"] == "failed" and rec["errors"] == [{"file": "bad.png", "error": "cannot decode"}]

    j2 = js.create("load")

    def boom(j):
        raise ValueError("disk on fire")

    js.start(j2, boom)
    rec = wait_done(js, j2.id)
    assert rec["state"] == "failed" and "disk on fire" in rec["message"]


def test_running_job_of_dead_process_reads_as_interrupted(tmp_path):
    store = LMDBEngine(tmp_path / "db", map_size=1 << 24)
    js = JobStore(store)
    job = js.create("load")
    rec = job.record()
    rec["pid"] = 2**22 + 12345  # no such process
    store.put(job_key(job.id), json.dumps(rec).encode())
    assert js.get(job.id)["state"] == "interrupted"
    assert js.get("nope") is None


def _nice_values(pid: int) -> set[int]:
    """The nice value of every thread of process ``pid`` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.add(int(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[16]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def test_jobs_of_the_command_process_yield_the_cpu_to_http_workers(server_factory, tmp_path):
    """With worker processes, jobs run in the process that serves commands, at nice 10, so a long
    load does not take CPU time from chunk requests (issue 18); the workers stay at nice 0."""
    import numpy as np
    import requests
    from PIL import Image

    srv = server_factory(workers=2)
    uuid = srv.new_repo()
    requests.post(f"{srv.url}/api/repo/{uuid}/instance", timeout=30,
                  json={"typename": "uint8blk", "dataname": "g", "Compression": "gzip"}).raise_for_status()
    rng = np.random.default_rng(3)
    for k in range(64):
        Image.fromarray(rng.integers(0, 255, (512, 512), dtype=np.uint8)).save(tmp_path / f"s{k:03d}.png")
    workers = srv_children(srv.proc.pid)
    assert len(workers) == 2, workers
    assert srv.cli("--no-wait", "node", uuid, "g", "load", "0,0,0", str(tmp_path / "*.png")).returncode == 0
    seen: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        seen |= _nice_values(srv.proc.pid)
        jobs = requests.get(f"{srv.url}/api/server/jobs", timeout=30).json()
        if jobs and all(j["state"] != "running" for j in jobs):
            break
        time.sleep(0.02)
    assert 10 in seen, seen
    assert all(_nice_values(w) == {0} for w in workers)
    assert [j["state"] for j in requests.get(f"{srv.url}/api/server/jobs", timeout=30).json()] == ["done"]


def srv_children(pid: int) -> list[int]:
    """Worker processes of the server ``pid`` (uvicorn spawns them with a resource tracker too)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = p.joinpath("stat").read_text().rsplit(")", 1)[1].split()
                cmd = p.joinpath("cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and b"spawn_main" in cmd:
                out.append(int(p.name))
    return out
