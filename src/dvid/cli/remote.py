"""Sending commands to a server's command listener, following jobs with a progress bar, and
printing job records as a table."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any

import requests


def _post(rpc: str, args: list[str]) -> requests.Response:
    url = rpc if rpc.startswith("http") else f"http://{rpc}"
    return requests.post(url.rstrip("/") + "/command", json={"args": args}, timeout=600)


def http_url(rpc: str) -> str:
    """The server's HTTP address, asked through the command channel."""
    resp = _post(rpc, ["address"])
    resp.raise_for_status()
    addr = resp.json()["text"].strip()
    host, _, port = addr.rpartition(":")
    if host in ("", "0.0.0.0", "localhost"):
        host = (rpc.split("://")[-1].rpartition(":")[0]) or "127.0.0.1"
    return f"http://{host}:{port}"


def run(rpc: str, args: list[str], wait: bool = True, as_json: bool = False) -> int:
    try:
        resp = _post(rpc, args)
    except requests.RequestException as e:
        print(f'RPC error for "{" ".join(args)}": {e}', file=sys.stderr)
        return 1
    if resp.status_code != 200:
        print(resp.text.rstrip("\n"), file=sys.stderr)
        return 1
    doc = resp.json()
    text = doc.get("text", "")
    cmd = args[0].lower()
    if cmd in ("jobs", "job") and not as_json:
        text = jobs_table(json.loads(text)) if cmd == "jobs" else job_text(json.loads(text))
    if text:
        print(text.rstrip("\n"))
    job = doc.get("job")
    if job:
        print(f"job {job}")
        if wait:
            return follow(rpc, job)
    return 0


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _took(rec: dict[str, Any]) -> str:
    s = _seconds(rec)
    if s is None:
        return "-"
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m{int(s % 60):02d}s"


def _rates(rec: dict[str, Any]) -> str:
    """The job's own rates, from its record (the CLI may first see a job after it ended, so its
    own clock would turn a second's work into millions of files per second)."""
    s = _seconds(rec)
    parts = [f"{rec.get('blocks_done') or 0} blocks"]
    if s:
        parts.insert(0, f"{(rec.get('files_done') or 0) / s:.1f} {_unit(rec)}s/s")
        if rec.get("bytes_done"):
            parts.append(f"{rec['bytes_done'] / 1e6 / s:.1f} MB/s")
    parts.append(_took(rec))
    return ", ".join(parts)


def _seconds(rec: dict[str, Any]) -> float | None:
    """How long the job has run (or ran), by the server's clock."""
    try:
        start = datetime.fromisoformat(rec["started"])
        end = datetime.fromisoformat(rec["ended"]) if rec.get("ended") else datetime.now(start.tzinfo)
    except (KeyError, TypeError, ValueError):
        return None
    return max((end - start).total_seconds(), 0.0)


def _unit(rec: dict[str, Any]) -> str:
    return rec.get("unit") or "file"


def _progress(rec: dict[str, Any]) -> str:
    total, done = rec.get("files_total") or 0, rec.get("files_done") or 0
    if total:
        return f"{done}/{total} {_unit(rec)}s"
    return f"{rec.get('blocks_done') or 0} blocks"


def jobs_table(recs: list[dict[str, Any]]) -> str:
    """``dvid jobs``: one row per job, oldest first."""
    if not recs:
        return "no jobs"
    rows = [("ID", "STATE", "PROGRESS", "ERRORS", "STARTED", "TOOK", "COMMAND")]
    for r in recs:
        where = f" ({r['instance']} @ {r['node'][:8]})" if r.get("instance") else ""
        rows.append((r["id"], r.get("state", "?"), _progress(r), str(len(r.get("errors") or [])),
                     _when(r.get("started")), _took(r), f"{r.get('command', '')}{where}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
                     for row in rows)


def job_text(rec: dict[str, Any]) -> str:
    """``dvid job <id>``: the record as labelled lines, errors last."""
    lines = [f"job {rec['id']}: {rec.get('state')}  {rec.get('command', '')}"]
    if rec.get("instance"):
        lines.append(f"  data      {rec['instance']} @ {rec.get('node', '')}")
    lines.append(f"  progress  {_progress(rec)}, {rec.get('blocks_done') or 0} blocks")
    lines.append(f"  started   {_when(rec.get('started'))}, ended {_when(rec.get('ended'))} ({_took(rec)})")
    if rec.get("message"):
        lines.append(f"  result    {rec['message']}")
    errors = rec.get("errors") or []
    if errors:
        lines.append(f"  {len(errors)} error{'s' if len(errors) != 1 else ''}:")
        lines += [f"    {e.get('file') + ': ' if e.get('file') else ''}{e.get('error')}" for e in errors]
    return "\n".join(lines)


def follow(rpc: str, job: str) -> int:
    """Poll the job until it ends, drawing a progress bar in the job's units (files, slabs,
    levels) with its rates by the server's clock beside it; Ctrl-C stops watching, not the job."""
    from tqdm import tqdm

    bar = None
    rec: dict = {}
    try:
        while True:
            resp = _post(rpc, ["job", job])
            if resp.status_code != 200:
                print(resp.text.rstrip("\n"), file=sys.stderr)
                return 1
            rec = json.loads(resp.json()["text"])
            total = rec.get("files_total") or 0
            if bar is None and total:
                bar = tqdm(total=total, unit=_unit(rec), desc=rec.get("command", "job")[:30], file=sys.stderr,
                           bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}s{postfix}")
            if bar is not None:
                bar.total = total
                bar.n = rec.get("files_done") or 0
                bar.set_postfix_str(_rates(rec), refresh=False)
                bar.refresh()
            if rec.get("state") != "running":
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        print(f"\nstopped watching; job {job} keeps running on the server ('dvid job {job}' shows it)",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    for err in rec.get("errors", []):
        print(f"error: {err.get('file') or ''}: {err.get('error')}".replace(": : ", ": "), file=sys.stderr)
    if rec.get("message"):
        print(rec["message"])
    return 0 if rec.get("state") == "done" else 1
