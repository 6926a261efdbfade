"""Records of long-running commands (ingest, foreground ROI, export) kept in the store.

DVID's ``load`` runs in the background and reports only to its log. We keep a job record that any
worker process can read (``GET /api/server/jobs[/<id>]``) and the CLI polls for its progress bar.
Records live under metadata keys, so they survive restarts: a job found ``running`` after a restart
is reported as ``interrupted`` (its batches were atomic, so blocks are old or new, never torn).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dvid.datastore import keys
from dvid.errors import DVIDError
from dvid.storage.base import Engine

_MIN_SAVE_INTERVAL = 0.25  # seconds between progress writes, so progress never slows the work
_LOG_INTERVAL = 10.0  # seconds between progress lines in the server log
log = logging.getLogger("dvid.jobs")


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat()


class Job:
    """The handle a running command uses to report progress. Thread-safe."""

    def __init__(self, store: Engine, record: dict[str, Any]) -> None:
        self._store = store
        self._rec = record
        self._lock = threading.Lock()
        self._last_save = 0.0
        self._t0 = time.monotonic()
        self._last_log = self._t0

    @property
    def id(self) -> str:
        return self._rec["id"]

    def record(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._rec))

    def set_totals(self, *, files: int | None = None, blocks: int | None = None, unit: str | None = None) -> None:
        """How much work there is. ``files`` counts the job's steps, named by ``unit`` (default
        "file": a load's images; an export counts "slab"s, a pyramid "level"s)."""
        with self._lock:
            if unit is not None:
                self._rec["unit"] = unit
            if files is not None:
                self._rec["files_total"] = files
            if blocks is not None:
                self._rec["blocks_total"] = blocks
        self._save()

    def advance(self, *, files: int = 0, blocks: int = 0, nbytes: int = 0, note: str | None = None) -> None:
        with self._lock:
            rec = self._rec
            rec["files_done"] += files
            rec["blocks_done"] += blocks
            rec["bytes_done"] = rec.get("bytes_done", 0) + nbytes
            if note is not None:
                rec["message"] = note
            now = time.monotonic()
            due = now - self._last_log >= _LOG_INTERVAL
            if due:
                self._last_log = now
                done, total, nblocks = rec["files_done"], rec["files_total"], rec["blocks_done"]
        if due:
            files_part = f"{done} of {total} files, " if total else ""
            log.info("job %s: %s%d blocks after %.0f s", self.id, files_part, nblocks, now - self._t0)
        self._save()

    def error(self, file: str, message: str) -> None:
        with self._lock:
            self._rec["errors"].append({"file": file, "error": message})
        log.warning("job %s: %s%s", self.id, f"{file}: " if file else "", message)
        self._save(force=True)

    def finish(self, ok: bool, message: str = "") -> None:
        with self._lock:
            self._rec["state"] = "done" if ok and not self._rec["errors"] else "failed"
            if message:
                self._rec["message"] = message
            self._rec["ended"] = _now()
            state, nerr, msg = self._rec["state"], len(self._rec["errors"]), self._rec["message"]
        took = time.monotonic() - self._t0
        if state == "done":
            log.info("job %s done in %.1f s: %s", self.id, took, msg)
        else:
            log.error("job %s failed after %.1f s with %d error%s: %s", self.id, took, nerr,
                      "" if nerr == 1 else "s", msg)
        self._save(force=True)

    def _save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_save < _MIN_SAVE_INTERVAL:
            return
        self._last_save = now
        data = json.dumps(self.record()).encode()
        self._store.put(keys.job_key(self.id), data)


class JobStore:
    """Creates, runs and lists job records."""

    def __init__(self, store: Engine) -> None:
        self._store = store
        #: the nice value job threads run at (0: as the process). The server raises it in a process
        #: that serves no HTTP, so a long job yields the CPU to the workers' chunk requests; never
        #: in a process with an event loop, whose thread would wait for a GIL held by a starved job.
        self.niceness = 0

    def create(self, command: str, node: str = "", instance: str = "") -> Job:
        job_id = uuidlib.uuid4().hex[:12]
        rec = {
            "id": job_id,
            "command": command,
            "node": node,
            "instance": instance,
            "state": "running",
            "pid": os.getpid(),
            "files_done": 0,
            "files_total": 0,
            "blocks_done": 0,
            "blocks_total": 0,
            "bytes_done": 0,
            "errors": [],
            "message": "",
            "started": _now(),
            "ended": None,
        }
        job = Job(self._store, rec)
        job._save(force=True)
        where = f" on {instance} @ {node}" if instance else f" @ {node}" if node else ""
        log.info("job %s started%s: %s", job_id, where, command)
        return job

    def start(self, job: Job, work: Callable[[Job], str | None]) -> threading.Thread:
        """Run ``work(job)`` in a background thread; its return value becomes the final message.
        An exception marks the job failed with the error, never kills the server."""

        def run() -> None:
            if self.niceness:
                try:  # per thread on Linux; threads this one starts (decode pools) inherit it
                    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.niceness)
                except (OSError, AttributeError):
                    pass
            try:
                msg = work(job)
                job.finish(True, msg or "")
            except Exception as e:  # the job record is where a background failure is reported
                if not isinstance(e, DVIDError):
                    log.exception("job %s: unexpected error", job.id)
                job.error("", f"{type(e).__name__}: {e}")
                job.finish(False, traceback.format_exception_only(e)[-1].strip())

        t = threading.Thread(target=run, name=f"job-{job.id}", daemon=True)
        t.start()
        return t

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self._store.get(keys.job_key(job_id))
        if raw is None:
            return None
        return self._annotate(json.loads(raw))

    def list(self) -> list[dict[str, Any]]:
        recs = [self._annotate(json.loads(v)) for _, v in self._store.scan(*keys.job_range())]
        return sorted(recs, key=lambda r: r["started"])

    @staticmethod
    def _annotate(rec: dict[str, Any]) -> dict[str, Any]:
        """A job still marked running whose process is gone was interrupted (crash or restart)."""
        if rec.get("state") == "running" and not _alive(int(rec.get("pid") or 0)):
            rec["state"] = "interrupted"
        return rec


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
