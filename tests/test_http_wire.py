"""The bytes on the wire, read from a raw socket: the response head and body leave together
(``server/protocol.py`` joins them into one write), but ``100 Continue`` goes out at once, HEAD
answers have no body, and pipelined requests are answered whole and in order."""

from __future__ import annotations

import socket

import numpy as np
from tests.helpers import new_instance


def _read_response(sock: socket.socket, buf: bytearray, head_only: bool = False) -> tuple[bytes, bytes]:
    """One response (status line + headers, body by Content-Length) from ``sock``; ``buf`` keeps
    bytes already received that belong to the next response."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head: {bytes(buf)!r}"
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:end])
    del buf[:end]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if head_only or head.startswith(b"HTTP/1.1 100 "):
        return head, b""
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return head, body


def _connect(server) -> socket.socket:
    host, port = server.url.split("//")[1].split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def test_expect_100_continue_then_the_answer(server, repo):
    base = new_instance(server, repo, "wire")
    path = base.split(server.url, 1)[1]
    body = np.arange(32**3, dtype=np.uint32).astype(np.uint8).tobytes()
    with _connect(server) as s:
        buf = bytearray()
        s.sendall(f"POST {path}/raw/0_1_2/32_32_32/0_0_0 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode())
        head, _ = _read_response(s, buf)  # sent before any byte of the body: a client waits for it
        assert head.startswith(b"HTTP/1.1 100 Continue"), head
        s.sendall(body)
        head, _ = _read_response(s, buf)
        assert head.startswith(b"HTTP/1.1 200"), head
        s.sendall(f"GET {path}/raw/0_1_2/32_32_32/0_0_0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, got = _read_response(s, buf)
        assert head.startswith(b"HTTP/1.1 200") and got == body


def test_head_then_pipelined_gets_on_one_connection(server, repo):
    with _connect(server) as s:
        buf = bytearray()
        s.sendall(b"HEAD /api/heartbeat HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = _read_response(s, buf, head_only=True)
        assert head.startswith(b"HTTP/1.1 200") and b"content-length: 2" in head.lower()
        # three requests in one write: each answer whole, in order, none lost or mixed
        s.sendall(b"GET /api/heartbeat HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /api/node/" + repo.encode() + b"/note HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /api/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = [_read_response(s, buf) for _ in range(3)]
        assert answers[0][0].startswith(b"HTTP/1.1 200") and answers[0][1] == b"OK"
        assert answers[1][0].startswith(b"HTTP/1.1 200")
        assert answers[2][0].startswith(b"HTTP/1.1 404") and answers[2][1] == b"404 page not found\n"
        assert not buf  # nothing extra after the last answer
