"""``dvid serve``: open the store, start the command listener, and serve HTTP with uvicorn.

By default one worker process per core: key-value gets and codec calls are too short to overlap
under the GIL, so processes (not threads) are how both cores get used (DESIGN.md). The HTTP socket
is bound here, before anything else starts, so a busy port is reported with its address; the
workers (``worker_app``) inherit it, set up the same logging and wrap the app in the access log.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from dvid import __version__
from dvid.server import logsetup
from dvid.server.accesslog import with_access_log
from dvid.server.app import create_app
from dvid.server.config import Config
from dvid.server.rpc import CommandServer, split_address
from dvid.server.state import ServerState, open_engines

log = logging.getLogger("dvid.server")
_ENV = "DVID_SERVER_CONFIG"
#: nice value of jobs started through the command channel (load, export, pyramid, migrate)
JOB_NICENESS = 10


class StartupError(Exception):
    """The server cannot start (port busy, store cannot be opened): one line for the operator."""


class _Stopped(Exception):
    """SIGTERM after uvicorn has shut down: unwinds ``serve`` so its clean-up runs."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def bind_http(address: str) -> socket.socket:
    """The listening socket for ``address`` (uvicorn's own binding, with an error that names it)."""
    host, port = split_address(address, "0.0.0.0")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise StartupError(f"cannot listen for HTTP on {host}:{port} (httpAddress): {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def worker_app() -> Any:
    """uvicorn factory for worker processes: the config arrives as JSON in the environment."""
    cfg = Config.from_json(os.environ[_ENV])
    logsetup.configure(cfg.log)
    return with_access_log(create_app(cfg))


def _open_state(cfg: Config) -> ServerState:
    try:
        return ServerState(cfg, startup=True)
    except Exception as e:  # e.g. an unwritable path, an unreachable bucket
        sc = cfg.store()
        where = sc.options.get("path") or sc.options.get("bucket") or sc.alias
        raise StartupError(f"{cfg.toml_path or 'default store'}: [store.{sc.alias}]: cannot open "
                           f"{sc.engine} store at {where}: {e}") from None


def serve(cfg: Config, workers: int | None = None) -> None:
    """Run the server until SIGINT/SIGTERM or the ``shutdown`` command; raises StartupError."""
    try:
        logsetup.configure(cfg.log)
    except logsetup.LogfileError as e:
        raise StartupError(f"{cfg.toml_path or 'configuration'}: {e}") from None
    for w in cfg.warnings:
        log.warning("%s", w)
    rotator = logsetup.LogRotator(cfg.log)
    n = workers or cfg.workers or os.cpu_count() or 1
    sock = bind_http(cfg.http_address)
    own_run_dir = not cfg.run_dir
    if own_run_dir:
        cfg.run_dir = tempfile.mkdtemp(prefix="dvid-run-")
    rpc: CommandServer | None = None
    st: ServerState | None = None
    collectors: list[threading.Event] = []
    try:
        st = _open_state(cfg)

        def shutdown() -> None:
            log.info("shutdown requested through the command channel")
            threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()

        try:
            rpc = CommandServer(st, shutdown)
        except OSError as e:
            raise StartupError(f"cannot listen for commands on {cfg.rpc_address} (rpcAddress): "
                               f"{e.strerror or e}") from None
        if n > 1:  # this process serves commands, not HTTP: its jobs yield the CPU to the workers
            st.jobs.niceness = JOB_NICENESS
        rpc.start()
        rotator.start()
        # garbage collection of object-store layouts: one collector per store in each front end's main process
        collectors = [e.indexed.start_collector(e.description) for e in open_engines()
                      if getattr(e, "indexed", None) is not None]
        host, port = sock.getsockname()[:2]
        log.info("DVID-compatible server %s: HTTP on %s:%d (%d worker%s), commands on %s, store %s%s",
                 __version__, host, port, n, "s" if n > 1 else "", cfg.rpc_address, st.store.description,
                 f", log {cfg.log.logfile}" if cfg.log.logfile else "")
        started = time.monotonic()
        signal.signal(signal.SIGTERM, _stop)  # uvicorn re-raises the signal it caught once it is done
        # Our httptools protocol bounds header size and time (server/protocol.py); h11's own limit is
        # kept in step for a machine without httptools.
        common: dict[str, Any] = dict(log_config=None, log_level=None, access_log=False, timeout_keep_alive=600,
                                      h11_max_incomplete_event_size=cfg.limits.max_header_bytes,
                                      http="dvid.server.protocol:BoundedHttpToolsProtocol")
        try:
            if n == 1:
                uvicorn.Server(uvicorn.Config(with_access_log(create_app(cfg, st)), **common)).run(sockets=[sock])
            else:
                os.environ[_ENV] = cfg.to_json()
                # The workers share one listening socket, and libuv accepts every waiting connection
                # at once: a viewer's burst of keep-alive connections landed all on one worker (8/0
                # at 8 connections in 3 of 8 runs). One accept at a time lets the others take turns.
                os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
                config = uvicorn.Config("dvid.server.serve:worker_app", factory=True, workers=n, **common)
                Multiprocess(config, sockets=[sock]).run()
        except (_Stopped, KeyboardInterrupt):
            pass
        log.info("DVID server stopped after %.0f s", time.monotonic() - started)
    finally:
        for stop in collectors:
            stop.set()
        rotator.stop()
        if rpc is not None:
            rpc.stop()
        sock.close()
        if st is not None:
            st.datastore.close()
        if own_run_dir:
            shutil.rmtree(cfg.run_dir, ignore_errors=True)
