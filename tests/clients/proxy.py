"""A small logging reverse proxy and a static file server, both threads on 127.0.0.1.

The proxy forwards every request unchanged to the DVID server and every response unchanged
(status, headers, body) back to the client, recording what went by.  Tests then assert on the
requests a real client made and on what our server answered, including CORS headers.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    length: int
    origin: str | None
    allow_origin: str | None
    content_type: str | None  # of the response
    request_type: str | None = None  # Content-Type the client sent
    body: bytes = field(repr=False, default=b"")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LoggingProxy:
    """Reverse proxy to ``target`` (``http://host:port``) that logs every exchange."""

    def __init__(self, target: str, keep_bodies: bool = False):
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname, parts.port or 80
        self.keep_bodies = keep_bodies
        self.log: list[Exchange] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, resp_headers = resp.status, resp.getheaders()
                finally:
                    conn.close()
                self.send_response(status)
                for k, v in resp_headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                hdrs = {k.lower(): v for k, v in resp_headers}
                with proxy._lock:
                    proxy.log.append(
                        Exchange(
                            method=self.command,
                            path=self.path,
                            status=status,
                            length=len(data),
                            origin=self.headers.get("Origin"),
                            allow_origin=hdrs.get("access-control-allow-origin"),
                            content_type=hdrs.get("content-type"),
                            request_type=self.headers.get("Content-Type"),
                            body=data if proxy.keep_bodies else b"",
                        )
                    )

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _forward

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> LoggingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self.log)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class StaticServer:
    """Serves a directory on 127.0.0.1 (a different origin from the DVID server)."""

    def __init__(self, directory: Path):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self._httpd = _Server(("127.0.0.1", 0), partial(Quiet, directory=str(directory)))
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
