"""HTTP helpers shared by the test modules: create an instance, write and read raw voxels.

Plain functions over ``requests`` (the tests check what a client on the wire sees); arrays are
[z, y, x(, c)] like the server's bodies, sizes and offsets (x, y, z) like its URLs.
"""

from __future__ import annotations

import socket

import numpy as np
import requests


def xyz(t) -> str:
    return "_".join(str(int(v)) for v in t)


def instance_url(server, uuid: str, name: str) -> str:
    """The base URL of an instance at a version: ``.../api/node/<uuid>/<name>``."""
    return f"{server.url}/api/node/{uuid}/{name}"


def new_instance(server, uuid: str, name: str, typename: str = "uint8blk", **settings) -> str:
    """Create an instance; returns its base URL ``.../api/node/<uuid>/<name>``."""
    body = {"typename": typename, "dataname": name, **settings}
    r = requests.post(f"{server.url}/api/repo/{uuid}/instance", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return instance_url(server, uuid, name)


def post_raw(base: str, vol: np.ndarray, offset, query: str = "", timeout: float = 60) -> requests.Response:
    sz, sy, sx = vol.shape[:3]
    return requests.post(f"{base}/raw/0_1_2/{sx}_{sy}_{sz}/{xyz(offset)}{query}", data=vol.tobytes(),
                         timeout=timeout)


def get_raw(base: str, size, offset=(0, 0, 0), dtype=np.uint8, channels: int = 1, query: str = "") -> np.ndarray:
    """The voxels of a box as [z, y, x(, c)]; asserts the answer is 200."""
    r = requests.get(f"{base}/raw/0_1_2/{xyz(size)}/{xyz(offset)}{query}", timeout=60)
    assert r.status_code == 200, r.text
    shape = (size[2], size[1], size[0]) + ((channels,) if channels > 1 else ())
    return np.frombuffer(r.content, dtype).reshape(shape)


def raw_exchange(server, request: bytes, timeout: float = 30) -> tuple[int, bytes]:
    """Send ``request`` as bytes over a new socket (what ``requests`` would refuse or rewrite) and
    read the answer's head; returns (status, the bytes received: head and any body start)."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            more = s.recv(65536)
            if not more:
                break
            reply += more
    return int(reply.split(b" ", 2)[1]), reply
