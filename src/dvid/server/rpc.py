"""The command listener (DVID's RPC port): JSON ``{"args": [...]}`` over HTTP on loopback.

It runs in the serving main process, so background jobs started by commands (``load``...) run there
and never block the HTTP workers. It binds to loopback unless an explicit host is configured,
because commands like ``load`` read files on the server's disk.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dvid.errors import DVIDError
from dvid.server.commands import run_command
from dvid.server.state import ServerState
from dvid.storage.base import StorageError

log = logging.getLogger("dvid.rpc")


def split_address(addr: str, default_host: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if host in ("", "localhost"):
        host = default_host if host == "" else "127.0.0.1"
    return host, int(port)


class CommandServer:
    def __init__(self, st: ServerState, shutdown: Callable[[], None]) -> None:
        self.st = st
        host, port = split_address(st.config.rpc_address, "127.0.0.1")
        state = st

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug(fmt, *args)

            def _reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                try:
                    n = int(self.headers.get("Content-Length") or 0)
                    doc = json.loads(self.rfile.read(n) or b"{}")
                    args = doc.get("args")
                    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                        raise ValueError("'args' must be a list of strings")
                    res = run_command(state, args, shutdown)
                    self._reply(200, json.dumps({"text": res.text, "job": res.job}).encode(), "application/json")
                except (DVIDError, StorageError) as e:
                    self._reply(400, str(e).encode(), "text/plain; charset=utf-8")
                except ValueError as e:
                    self._reply(400, f"bad command request: {e}".encode(), "text/plain; charset=utf-8")
                except Exception as e:  # a command bug must not kill the listener
                    log.exception("command %s failed", self.path)
                    self._reply(500, f"internal error: {e}".encode(), "text/plain; charset=utf-8")

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="dvid-rpc", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
