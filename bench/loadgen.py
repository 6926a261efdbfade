"""HTTP load from outside Python: ``wrk`` over a list of request paths, and ``nginx`` as the static
file server to compare with (``bench/bench_viewers.py``).

A Python client saturates long before either server does, so the load comes from ``wrk`` (C,
epoll) with a Lua script that cycles over a shuffled path list, read from a file; its ``done``
hook prints the latency percentiles in microseconds as one JSON line, so p99.9 (which wrk's own
report lacks) and the exact counts are machine-readable. Both tools are Debian packages, installed
with apt when missing (the bench says so).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.harness import free_port

#: wrk's Lua script: one path per request from the file given after ``--``, each thread starting at
#: its own place in the list; ``done`` prints one machine-readable line
LUA = r"""
local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  local nthreads = tonumber(args[2]) or 1
  idx = math.floor((tid - 1) * #paths / nthreads)
end

function request()
  idx = idx % #paths + 1
  return wrk.format("GET", paths[idx])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean, e.connect, e.read,
    e.write, e.status, e.timeout))
end
"""


def ensure_tool(name: str, packages: list[str]) -> str:
    """The path of ``name``; if it is missing, ``apt-get install -y`` the first of ``packages``
    that installs (saying so), since the comparison needs the real tool."""
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                       None)
    if found:
        return found
    for pkg in packages:
        print(f"{name} is not installed: running apt-get install -y {pkg}", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", pkg], env=env).returncode == 0:
            break
        subprocess.run(["apt-get", "update"], env=env)
        if subprocess.run(["apt-get", "install", "-y", pkg], env=env).returncode == 0:
            break
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                       None)
    if not found:
        raise SystemExit(f"{name} is missing and apt-get could not install any of {packages}")
    return found


class Nginx:
    """nginx in the foreground on a temporary prefix, serving ``root`` on 127.0.0.1:<free port>:
    ``worker_processes`` workers (the same count as our server's), no access log, sendfile, and
    keep-alive connections that are never closed for their request count (neither are ours).
    ``tcp_nopush on`` is Debian's default: the higher request rate, but a one-connection client sees
    ~1 % of answers stalled 40 ms (TCP_CORK meeting delayed ACKs); ``nopush=False`` turns it off."""

    def __init__(self, root: Path, workers: int = 2, nopush: bool = True) -> None:
        self.root, self.workers, self.nopush = Path(root), workers, nopush
        self.binary = ensure_tool("nginx", ["nginx-light", "nginx"])
        self.prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True)
        return (out.stderr or out.stdout).strip().split("/")[-1]

    def conf(self) -> str:
        p = self.prefix
        temps = "".join(f"  {k}_temp_path {p}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (f"worker_processes {self.workers};\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n"
                "events { worker_connections 4096; }\n"
                "http {\n  access_log off;\n  sendfile on;\n"
                f"  tcp_nopush {'on' if self.nopush else 'off'};\n"
                "  keepalive_requests 100000000;\n"
                "  keepalive_timeout 300s;\n  default_type application/octet-stream;\n" + temps +
                f"  server {{\n    listen 127.0.0.1:{self.port};\n    root {self.root};\n"
                "    location / { }\n  }\n}\n")

    def start(self) -> Nginx:
        (self.prefix / "nginx.conf").write_text(self.conf())
        for d in [self.root, *(p for p in self.root.rglob("*") if p.is_dir())]:
            d.chmod(0o755)  # a root master runs its workers as nobody, who must read the files
        cmd = [self.binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e",
               str(self.prefix / "error.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                requests.get(self.url + "/info", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)  # graceful: master and workers exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class WrkResult:
    """One wrk run: rates from its report, latencies (ms) from the script's ``done`` line."""

    rps: float
    mb_s: float  # 10^6 bytes/s of responses, headers included (wrk's Transfer/sec)
    p50: float
    p99: float
    p999: float
    max: float
    requests: int
    errors: int  # connect/read/write/timeout errors plus non-2xx answers
    text: str = ""

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("text")
        return d


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def parse_wrk(text: str) -> WrkResult:
    """Requests/sec and Transfer/sec from wrk's report (its units are binary: KB = 1024 B) and the
    JSON line of the script's ``done``; p50/p99 of the report are checked against the JSON."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", text)
    mb_s = float(m.group(1)) * _UNITS[m.group(2)] / 1e6
    js = json.loads(text.split("WRKJSON ", 1)[1].splitlines()[0])
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = (js["err_connect"] + js["err_read"] + js["err_write"] + js["err_timeout"]
              + (int(non2xx.group(1)) if non2xx else 0))
    return WrkResult(rps=rps, mb_s=mb_s, p50=js["p50_us"] / 1e3, p99=js["p99_us"] / 1e3,
                     p999=js["p999_us"] / 1e3, max=js["max_us"] / 1e3, requests=js["requests"], errors=errors,
                     text=text)


def connection_split(port: int) -> dict[int, int]:
    """Established connections to ``port`` per server process (``ss -tnp``): worker processes
    sharing one listening socket get what the kernel's accept order gives them, and a viewer's
    keep-alive connection stays on its worker for good."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True).stdout
    split: dict[int, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        split[int(pid)] = split.get(int(pid), 0) + 1
    return split


class Wrk:
    """Runs ``wrk`` with the path-cycling script; one instance per benchmark run (a temp dir holds
    the script and the path lists)."""

    def __init__(self) -> None:
        self.binary = ensure_tool("wrk", ["wrk"])
        self.dir = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
        self.script = self.dir / "paths.lua"
        self.script.write_text(LUA)
        self._lists: dict[str, Path] = {}

    def paths_file(self, name: str, paths: list[str]) -> Path:
        f = self.dir / f"{name}.txt"
        f.write_text("\n".join(paths) + "\n")
        self._lists[name] = f
        return f

    def run(self, base_url: str, paths: Path, connections: int, seconds: float, threads: int = 2,
            timeout_s: int = 10, split: dict | None = None) -> WrkResult:
        """``wrk -t<threads> -c<connections> -d<seconds>s --latency`` over ``paths`` (wrk needs at
        least one connection per thread, so fewer threads at one connection); ``split``, if given,
        receives ``connection_split`` taken one second into the run."""
        if split is not None:
            port = int(base_url.rsplit(":", 1)[1].split("/")[0])
            timer = threading.Timer(min(1.0, seconds / 2), lambda: split.update(connection_split(port)))
            timer.start()
        t = max(1, min(threads, connections))
        cmd = [self.binary, f"-t{t}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", f"--timeout={timeout_s}s",
               "-s", str(self.script), base_url, "--", str(paths), str(t)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
        if out.returncode != 0 or "WRKJSON" not in out.stdout:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
        return parse_wrk(out.stdout)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
