"""``DVIDClient``: repos, versions and instances over DVID's HTTP API, and the raw calls a
``Volume`` is built on. Sizes and offsets are (x, y, z) as in DVID URLs; arrays are [z, y, x] (or
[z, y, x, 4] for rgba8blk) as numpy users expect, and always writable.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import requests

from dvid.client.errors import DVIDConnectionError, DVIDError, ServerBusy
from dvid.client.volume import Volume
from dvid.client.voxeltypes import voxel_type


def _xyz(t: Sequence[int]) -> str:
    return "_".join(str(int(v)) for v in t)


def _reason(e: Exception) -> str:
    """The innermost reason of a requests connection error ("Connection refused")."""
    inner = e.args[0] if e.args else e
    text = str(getattr(inner, "reason", inner))
    return text.rsplit("] ", 1)[-1] if "[Errno" in text else text


class DVIDClient:
    def __init__(self, url: str, *, timeout: float = 600.0, session: requests.Session | None = None) -> None:
        """``url`` is the server's HTTP address; ``"localhost:8000"`` means ``http://localhost:8000``."""
        url = url.strip().rstrip("/")
        self.url = url if "://" in url else f"http://{url}"
        self.timeout = timeout
        self.session = session or requests.Session()
        self._types: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------------------ plumbing
    def _check(self, r: requests.Response) -> requests.Response:
        if r.status_code != 200:
            kind = ServerBusy if r.status_code == 503 else DVIDError
            raise kind(r.status_code, r.text.strip(), r.url)
        return r

    def request(self, method: str, path: str, *, stream: bool = False, **kw: Any) -> requests.Response:
        """One HTTP request; a non-200 answer raises DVIDError, an unreachable server
        DVIDConnectionError (never a bare requests exception)."""
        url = f"{self.url}{path}"
        try:
            r = self.session.request(method, url, timeout=self.timeout, stream=stream, **kw)
        except requests.ConnectionError as e:
            raise DVIDConnectionError(f"cannot reach the DVID server at {self.url}: {_reason(e)}", url) from None
        except requests.Timeout:
            raise DVIDConnectionError(f"no answer from {self.url} within {self.timeout:g} s", url) from None
        return self._check(r)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, data: Any = None, json_body: Any = None, **params: Any) -> requests.Response:
        body = json.dumps(json_body) if json_body is not None else data
        return self.request("POST", path, data=body, params=params or None)

    def read_into(self, path: str, out: np.ndarray, **params: Any) -> np.ndarray:
        """GET ``path`` straight into ``out``'s memory (no intermediate bytes object)."""
        r = self.request("GET", path, stream=True, params=params or None)
        with r:
            buf = memoryview(out).cast("B")
            got = 0
            while got < len(buf):
                n = r.raw.readinto(buf[got:])
                if not n:
                    break
                got += n
            if got != len(buf) or r.raw.read(1):
                raise DVIDError(r.status_code, f"expected {len(buf)} bytes of voxels, got {'more' if got == len(buf) else got}",
                                r.url)
        return out

    # ------------------------------------------------------------------------ repos and versions
    def new_repo(self, alias: str = "", description: str = "", root: str | None = None) -> str:
        body = {"alias": alias, "description": description}
        if root:
            body["root"] = root
        return self.post("/api/repos", json_body=body).json()["root"]

    def repos_info(self) -> dict[str, Any]:
        return self.get("/api/repos/info").json()

    def repo_info(self, uuid: str) -> dict[str, Any]:
        return self.get(f"/api/repo/{uuid}/info").json()

    def commit(self, uuid: str, note: str = "", log: Sequence[str] = ()) -> str:
        return self.post(f"/api/node/{uuid}/commit", json_body={"note": note, "log": list(log)}).json()["committed"]

    def newversion(self, uuid: str, note: str = "", child_uuid: str | None = None) -> str:
        body: dict[str, str] = {"note": note}
        if child_uuid:
            body["uuid"] = child_uuid
        return self.post(f"/api/node/{uuid}/newversion", json_body=body).json()["child"]

    def branch(self, uuid: str, name: str, note: str = "", child_uuid: str | None = None) -> str:
        body = {"branch": name, "note": note}
        if child_uuid:
            body["uuid"] = child_uuid
        return self.post(f"/api/node/{uuid}/branch", json_body=body).json()["child"]

    def merge(self, uuid: str, parents: Sequence[str], note: str = "") -> str:
        body = {"mergeType": "conflict-free", "parents": list(parents), "note": note}
        return self.post(f"/api/repo/{uuid}/merge", json_body=body).json()["child"]

    def branch_versions(self, uuid: str, branch: str = "master") -> list[str]:
        return self.get(f"/api/repo/{uuid}/branch-versions/{branch}").json()

    def locked(self, uuid: str) -> bool:
        return self.get(f"/api/node/{uuid}/commit").json()["Locked"]

    # -------------------------------------------------------------------------------- instances
    def new_instance(self, uuid: str, typename: str, name: str, **settings: Any) -> None:
        body = {"typename": typename, "dataname": name}
        body.update({k: (v if isinstance(v, (str, bool)) else ",".join(map(str, v)) if isinstance(v, (list, tuple))
                         else str(v)) for k, v in settings.items()})
        self.post(f"/api/repo/{uuid}/instance", json_body=body)

    def info(self, uuid: str, name: str) -> dict[str, Any]:
        return self.get(f"/api/node/{uuid}/{name}/info").json()

    def _voxel_type(self, uuid: str, name: str) -> tuple[np.dtype, int]:
        key = (uuid, name)
        if key not in self._types:
            self._types[key] = self.info(uuid, name)["Base"]["TypeName"]
        return voxel_type(self._types[key], f"{self.url}/api/node/{uuid}/{name}")

    def volume(self, uuid: str, name: str, *, scale: int = 0) -> Volume:
        """A numpy-sliceable handle on an image instance (``scale=N``: pyramid level N, the instance
        ``<name>_N`` in neuroglancer's convention)."""

        return Volume(self, uuid, name, scale=scale)

    # ------------------------------------------------------------------------------------ voxels
    def raw(self, uuid: str, name: str, size_xyz: Sequence[int], offset_xyz: Sequence[int] = (0, 0, 0),
            *, roi: str | None = None, throttle: bool = False) -> np.ndarray:
        """The voxels of a box as [z, y, x(, c)]; missing data reads as 0."""
        dtype, ch = self._voxel_type(uuid, name)
        params = {}
        if roi:
            params["roi"] = roi
        if throttle:
            params["throttle"] = "true"
        sx, sy, sz = size_xyz
        out = np.empty((sz, sy, sx) + ((ch,) if ch > 1 else ()), dtype)
        return self.read_into(f"/api/node/{uuid}/{name}/raw/0_1_2/{_xyz(size_xyz)}/{_xyz(offset_xyz)}", out,
                              **params)

    def post_raw(self, uuid: str, name: str, array: np.ndarray, offset_xyz: Sequence[int] = (0, 0, 0),
                 *, roi: str | None = None, mutate: bool = False) -> None:
        """Write a block-aligned [z, y, x(, c)] array with its first voxel at ``offset_xyz`` (a
        ``Volume`` writes any box)."""
        dtype, ch = self._voxel_type(uuid, name)
        a = np.ascontiguousarray(array, dtype=dtype)
        sz, sy, sx = a.shape[:3]
        params = {}
        if roi:
            params["roi"] = roi
        if mutate:
            params["mutate"] = "true"
        self.post(f"/api/node/{uuid}/{name}/raw/0_1_2/{sx}_{sy}_{sz}/{_xyz(offset_xyz)}",
                  data=memoryview(a).cast("B"), **params)

    def slice(self, uuid: str, name: str, plane: str, size_wh: Sequence[int], offset_xyz: Sequence[int],
              fmt: str = "png") -> bytes:
        """A 2-d image (encoded bytes) in plane xy, xz or yz."""
        return self.get(f"/api/node/{uuid}/{name}/raw/{plane}/{_xyz(size_wh)}/{_xyz(offset_xyz)}/{fmt}").content

    def subvolblocks(self, uuid: str, name: str, size_xyz: Sequence[int], offset_xyz: Sequence[int],
                     compression: str = "") -> Iterator[tuple[tuple[int, int, int], bytes]]:
        """``((bx, by, bz), payload)`` records of the blocks in a block-aligned box."""
        params = {"compression": compression} if compression else {}
        data = self.get(f"/api/node/{uuid}/{name}/subvolblocks/{_xyz(size_xyz)}/{_xyz(offset_xyz)}", **params).content
        i = 0
        while i < len(data):
            x, y, z, n = struct.unpack_from("<iiii", data, i)
            yield (x, y, z), data[i + 16 : i + 16 + n]
            i += 16 + n

    # --------------------------------------------------------------------------------------- roi
    def roi(self, uuid: str, name: str) -> list[list[int]]:
        return self.get(f"/api/node/{uuid}/{name}/roi").json()

    def post_roi(self, uuid: str, name: str, spans: Sequence[Sequence[int]]) -> None:
        self.post(f"/api/node/{uuid}/{name}/roi", data=json.dumps([list(map(int, s)) for s in spans]))
