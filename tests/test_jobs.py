"""Job records: progress, failure capture, listing, and interruption detection."""

import json
import time

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
