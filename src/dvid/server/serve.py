"""``dvid serve``: open the store, start the command listener, and serve HTTP with uvicorn.

By default one worker process per core: key-value gets and codec calls are too short to overlap
under the GIL, so processes (not threads) are how both cores get used (DESIGN.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading

import uvicorn

from dvid.server.app import create_app
from dvid.server.config import Config
from dvid.server.rpc import CommandServer, split_address
from dvid.server.state import ServerState

log = logging.getLogger("dvid.serve")


def serve(cfg: Config, workers: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    n = workers or cfg.workers or os.cpu_count() or 1
    own_run_dir = not cfg.run_dir
    if own_run_dir:
        cfg.run_dir = tempfile.mkdtemp(prefix="dvid-run-")
    st = ServerState(cfg, startup=True)

    def shutdown() -> None:
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()

    rpc = CommandServer(st, shutdown)
    rpc.start()
    host, port = split_address(cfg.http_address, "0.0.0.0")
    if host == "localhost":
        host = "127.0.0.1"
    log.info("DVID-compatible server: HTTP on %s:%d (%d worker%s), commands on %s, store %s",
             host, port, n, "s" if n > 1 else "", cfg.rpc_address, st.store.description)
    # Our httptools protocol bounds header size and time (server/protocol.py); h11's own limit is
    # kept in step for a machine without httptools.
    common = dict(host=host, port=port, log_level="warning", access_log=cfg.access_log,
                  timeout_keep_alive=600, h11_max_incomplete_event_size=cfg.limits.max_header_bytes,
                  http="dvid.server.protocol:BoundedHttpToolsProtocol")
    try:
        if n == 1:
            uvicorn.Server(uvicorn.Config(create_app(cfg, st), **common)).run()
        else:
            os.environ["DVID_SERVER_CONFIG"] = cfg.to_json()
            uvicorn.run("dvid.server.app:create_app_from_env", factory=True, workers=n, **common)
    finally:
        rpc.stop()
        st.datastore.close()
        if own_run_dir:
            shutil.rmtree(cfg.run_dir, ignore_errors=True)
