"""Start a real ``dvid serve`` on a temporary LMDB store for benchmarks (same way the tests do)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BenchServer:
    workers: int = 2
    extra_toml: str = ""
    store_section: str = 'engine = "lmdb"\npath = "db"\n'
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dvid-bench-")))
    #: ``--quiet``: no access log, so logging is not part of a figure (bench_logging measures it)
    args: list[str] = field(default_factory=lambda: ["--quiet"])
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    url: str = ""
    rpc: str = ""
    #: the interpreter that runs the server (another checkout's venv, to compare two versions)
    python: str = sys.executable

    def start(self) -> BenchServer:
        http, rpc = free_port(), free_port()
        cfg = self.data_dir / "config.toml"
        cfg.write_text(
            f'[server]\nhttpAddress = "127.0.0.1:{http}"\nrpcAddress = "127.0.0.1:{rpc}"\n'
            f"workers = {self.workers}\n{self.extra_toml}\n"
            f'[backend.default]\nstore = "main"\n[store.main]\n{self.store_section}'
        )
        self.url, self.rpc = f"http://127.0.0.1:{http}", f"127.0.0.1:{rpc}"
        log = open(self.data_dir / "server.log", "wb")
        self.proc = subprocess.Popen([self.python, "-m", "dvid.cli.main", "serve", str(cfg), *self.args],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **self.env})
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/api/heartbeat", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError((self.data_dir / "server.log").read_text())
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def pids(self) -> list[int]:
        """The server process and its worker processes."""
        assert self.proc is not None
        out = [self.proc.pid]
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    stat = (p / "stat").read_text().split()
                except OSError:
                    continue
                if int(stat[3]) in out:
                    out.append(int(p.name))
        return out

    def _status_mb(self, field_name: str) -> dict[int, float]:
        """A ``/proc/<pid>/status`` memory field (kB there) of each server process, in MB."""
        res = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field_name + ":"):
                        res[pid] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return res

    def peak_rss_mb(self) -> dict[int, float]:
        """VmHWM (peak resident set) of each server process, in MB."""
        return self._status_mb("VmHWM")

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server and its workers."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def anon_rss_mb(self) -> dict[int, float]:
        """Private (anonymous) resident memory of each server process, in MB: what the server itself
        holds, without the LMDB file pages it has mapped (those are the OS page cache)."""
        return self._status_mb("RssAnon")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AnonRssSampler:
    """Polls the server's anonymous RSS every ``interval`` seconds in a thread; ``peak_mb`` is the
    largest value seen for any one process since the last ``reset``."""

    def __init__(self, server: BenchServer, interval: float = 0.01) -> None:
        self.server, self.interval = server, interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> float:
        """Take one reading now (the allocator keeps freed memory, so a late reading still sees a
        request's peak); returns the peak so far."""
        got = self.server.anon_rss_mb()
        if got:
            self.peak_mb = max(self.peak_mb, max(got.values()))
        return self.peak_mb

    def reset(self) -> None:
        self.peak_mb = 0.0

    def __enter__(self) -> AnonRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
