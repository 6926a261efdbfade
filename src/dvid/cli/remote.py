"""Sending commands to a server's command listener and following jobs with a progress bar."""

from __future__ import annotations

import json
import sys
import time

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


def run(rpc: str, args: list[str], wait: bool = True) -> int:
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
    if text:
        print(text.rstrip("\n"))
    job = doc.get("job")
    if job:
        print(f"job {job}")
        if wait:
            return follow(rpc, job)
    return 0


def follow(rpc: str, job: str) -> int:
    """Poll the job until it ends, drawing a progress bar; Ctrl-C stops watching, not the job."""
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
                bar = tqdm(total=total, unit="file", desc=rec.get("command", "job")[:30], file=sys.stderr)
            if bar is not None:
                bar.total = total
                bar.n = rec.get("files_done", 0)
                bar.set_postfix(blocks=rec.get("blocks_done", 0), refresh=False)
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
