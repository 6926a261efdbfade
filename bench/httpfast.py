"""Minimal HTTP/1.1 calls for benchmarks: read bodies into one preallocated buffer so the client's
own copying does not dominate the server's figures."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


class Conn:
    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self._buf = bytearray()

    def get(self, path: str, *, reuse: bool = False) -> memoryview:
        """The body of a GET. ``reuse`` reads into one buffer kept between calls (valid until the
        next call), so the client's own page faults on fresh memory stay out of a server figure."""
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        n = int(resp.getheader("Content-Length") or -1)
        if n >= 0:
            if reuse:
                if len(self._buf) < n:
                    self._buf = bytearray(n)
                buf = self._buf
            else:
                buf = bytearray(n)
            got = 0
            mv = memoryview(buf)
            while got < n:
                r = resp.readinto(mv[got:])
                if not r:
                    break
                got += r
            body = mv[:got]
        else:
            body = memoryview(resp.read())
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {bytes(body[:200])!r}")
        return body

    def post(self, path: str, body: bytes | memoryview) -> bytes:
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream"})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"POST {path}: {resp.status} {data[:200]!r}")
        return data

    def close(self) -> None:
        self.conn.close()
