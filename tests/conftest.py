"""Shared fixtures: a real ``dvid serve`` subprocess on 127.0.0.1 with a temporary LMDB store.

Tests talk HTTP to it exactly as clients do. Servers are module-scoped (start-up costs about a
second); tests isolate themselves by creating their own repo with the ``repo`` fixture.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DvidServer:
    data_dir: Path
    workers: int = 1
    extra_toml: str = ""
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    store_toml: str = ""
    store_section: str = 'engine = "lmdb"\npath = "db"\n'
    proc: subprocess.Popen | None = None
    url: str = ""
    rpc: str = ""

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.toml"

    def write_config(self) -> None:
        http, rpc = free_port(), free_port()
        self.url, self.rpc = f"http://127.0.0.1:{http}", f"127.0.0.1:{rpc}"
        server_lines = [f'httpAddress = "127.0.0.1:{http}"', f'rpcAddress = "127.0.0.1:{rpc}"',
                        f"workers = {self.workers}"]
        extra_server, rest = [], []
        section = None
        for line in self.extra_toml.splitlines():  # extra [server] keys merge into our [server]
            s = line.strip()
            if s.startswith("["):
                section = s
            if section in (None, "[server]"):
                if s and s != "[server]":
                    extra_server.append(line)
            else:
                rest.append(line)
        self.config_path.write_text(
            "[server]\n" + "\n".join(server_lines + extra_server) + "\n\n"
            + '[backend.default]\nstore = "main"\n\n[store.main]\n' + self.store_section
            + self.store_toml + "\n\n"
            + "\n".join(rest) + "\n")

    def start(self) -> DvidServer:
        if not self.url:
            self.write_config()
        else:  # restart on the same ports and store
            pass
        log = open(self.data_dir / "server.log", "ab")
        env = dict(os.environ, **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dvid.cli.main", "serve", str(self.config_path), *self.args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=self.data_dir)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dvid serve exited:\n" + (self.data_dir / "server.log").read_text()[-3000:])
            try:
                if requests.get(self.url + "/api/heartbeat", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("dvid serve did not answer within 60 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the server and all its workers (crash simulation)."""
        self.stop(signal.SIGKILL)

    def restart(self) -> DvidServer:
        self.stop()
        return self.start()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dvid.cli.main", f"-rpc={self.rpc}", *args],
                              capture_output=True, text=True, timeout=timeout)

    def new_repo(self, alias: str = "test", description: str = "test repo") -> str:
        r = requests.post(self.url + "/api/repos", json={"alias": alias, "description": description}, timeout=30)
        r.raise_for_status()
        return r.json()["root"]


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory) -> Iterator[Callable[..., DvidServer]]:
    started: list[DvidServer] = []

    def make(workers: int = 1, extra_toml: str = "", env: dict[str, str] | None = None,
             args: list[str] | None = None, store_toml: str = "", store_section: str | None = None) -> DvidServer:
        srv = DvidServer(tmp_path_factory.mktemp("dvid"), workers=workers, extra_toml=extra_toml,
                         env=env or {}, args=args or [], store_toml=store_toml)
        if store_section is not None:
            srv.store_section = store_section
        started.append(srv)
        return srv.start()

    yield make
    for s in started:
        s.stop()


pytest_plugins = ["seaweed"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module that sets ``STORES = ("lmdb", "s3")`` runs every test using ``server`` once per
    store: the same HTTP suite against LMDB and against S3 on a real SeaweedFS."""
    stores = getattr(metafunc.module, "STORES", None)
    if stores and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", stores, scope="module")


@pytest.fixture(scope="module")
def store_kind() -> str:
    return "lmdb"


@pytest.fixture(scope="module")
def server(server_factory, store_kind, request) -> DvidServer:
    if store_kind == "s3":
        import uuid

        sw = request.getfixturevalue("seaweed")
        return server_factory(store_section=sw.toml("suite", uuid.uuid4().hex))
    return server_factory()


@pytest.fixture
def repo(server) -> str:
    return server.new_repo()
