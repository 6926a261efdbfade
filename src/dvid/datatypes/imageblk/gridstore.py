"""GridStore: read-only imageblk instances backed by a neuroglancer-precomputed volume
(imageblk.md §9, §3.2), read through TensorStore.

The server registers the configured ``[store.<alias>] engine = "ngprecomputed"`` stores here at
start-up (``configure``); an instance created with ``GridStore=<alias>`` (and ``ScaleLevel=n``)
takes BlockSize, VoxelSize and extents from that scale. Block (bx, by, bz) covers the absolute
voxels ``[b·chunk, (b+1)·chunk)``; when the volume's origin is chunk-aligned, a JPEG-encoded chunk
is passed through unchanged as the default ``subvolblocks``/``specificblocks`` payload, as DVID does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from dvid.errors import BadRequest
from dvid.geometry import Box

_STORES: dict[str, str] = {}
_OPEN: dict[tuple[str, int], Grid] = {}
_LOCK = threading.Lock()


def configure(stores: dict[str, str]) -> None:
    """Alias -> volume location (path or file://, s3://, gs://, http(s):// URL)."""
    _STORES.clear()
    _STORES.update(stores)


@dataclass
class Grid:
    array: Any  # tensorstore array indexed [x, y, z, c]
    kvstore: Any
    scale_key: str
    chunk: tuple[int, int, int]
    offset: tuple[int, int, int]
    size: tuple[int, int, int]
    encoding: str
    resolution: list[float]
    dtype: str
    channels: int
    scales: int = 1  # how many scales the volume has

    @property
    def end(self) -> tuple[int, int, int]:
        return tuple(o + s for o, s in zip(self.offset, self.size, strict=True))  # type: ignore[return-value]

    def read(self, box: Box) -> np.ndarray:
        """Voxels of ``box`` as [z, y, x(, c)]; zero outside the volume."""
        sx, sy, sz = box.size
        out = np.zeros((sz, sy, sx) + ((self.channels,) if self.channels > 1 else ()), self.dtype)
        lo = [max(o, vo) for o, vo in zip(box.offset, self.offset, strict=True)]
        hi = [min(o + s, ve) for o, s, ve in zip(box.offset, box.size, self.end, strict=True)]
        if any(a >= b for a, b in zip(lo, hi, strict=True)):
            return out
        xyz = self.array[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2], :].read().result()
        zyx = np.moveaxis(xyz, (0, 1, 2), (2, 1, 0))
        if self.channels == 1:
            zyx = zyx[..., 0]
        o = box.offset
        out[lo[2] - o[2] : hi[2] - o[2], lo[1] - o[1] : hi[1] - o[1], lo[0] - o[0] : hi[0] - o[0]] = zyx
        return out

    def block_range(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Inclusive first and last block coordinates holding any voxel of the volume."""
        lo = tuple(o // c for o, c in zip(self.offset, self.chunk, strict=True))
        hi = tuple((e - 1) // c for e, c in zip(self.end, self.chunk, strict=True))
        return lo, hi  # type: ignore[return-value]

    def block_exists(self, bx: int, by: int, bz: int) -> bool:
        b = (bx, by, bz)
        return all(c * n < e and (c + 1) * n > o for c, n, o, e in zip(b, self.chunk, self.offset, self.end, strict=True))

    def stored_chunk(self, bx: int, by: int, bz: int) -> bytes | None:
        """The chunk object exactly as stored, when block and chunk grids coincide."""
        if any(o % c for o, c in zip(self.offset, self.chunk, strict=True)):
            return None
        lo = [b * c for b, c in zip((bx, by, bz), self.chunk, strict=True)]
        hi = [min(v + c, e) for v, c, e in zip(lo, self.chunk, self.end, strict=True)]
        key = f"{self.scale_key}/{lo[0]}-{hi[0]}_{lo[1]}-{hi[1]}_{lo[2]}-{hi[2]}"
        res = self.kvstore.read(key).result()
        return bytes(res.value) if res.state == "value" else None


def _kvstore_spec(ref: str) -> dict[str, Any]:
    from dvid.datatypes.imageblk.export import _kvstore

    kv = _kvstore(ref)
    if "path" in kv and not kv["path"].endswith("/"):  # a directory: keys ("info", ...) go below it
        kv["path"] += "/"
    return kv


def open_grid(alias: str, level: int) -> Grid:
    if alias not in _STORES:
        raise BadRequest(f'GridStore "{alias}" is not a configured ngprecomputed store on this server')
    with _LOCK:
        g = _OPEN.get((alias, level))
        if g is not None:
            return g
        import tensorstore as ts

        kv = _kvstore_spec(_STORES[alias])
        try:
            kvs = ts.KvStore.open(kv).result()
            raw = kvs.read("info").result()
            if raw.state != "value":
                raise BadRequest(f'GridStore "{alias}": no precomputed "info" at {_STORES[alias]}')
            info = json.loads(bytes(raw.value))
            scales = info["scales"]
            if not 0 <= level < len(scales):
                raise BadRequest(f'GridStore "{alias}" has scales 0..{len(scales) - 1}, not ScaleLevel {level}')
            sc = scales[level]
            arr = ts.open({"driver": "neuroglancer_precomputed", "kvstore": kv, "scale_index": level}).result()
        except BadRequest:
            raise
        except Exception as e:  # TensorStore / JSON problems with the volume itself
            raise BadRequest(f'GridStore "{alias}" cannot be opened: {str(e).splitlines()[0]}') from None
        g = Grid(array=arr, kvstore=kvs, scale_key=sc["key"], chunk=tuple(sc["chunk_sizes"][0]),
                 offset=tuple(sc.get("voxel_offset", [0, 0, 0])), size=tuple(sc["size"]),
                 encoding=sc.get("encoding", "raw"), resolution=[float(r) for r in sc["resolution"]],
                 dtype=info["data_type"], channels=int(info.get("num_channels", 1)), scales=len(scales))
        _OPEN[(alias, level)] = g
        return g


def scale_count(alias: str) -> int:
    """How many scales the configured volume has."""
    return open_grid(alias, 0).scales


def grid_props(alias: str, level: int, dtype: str, channels: int) -> dict[str, Any]:
    """Instance props taken from the volume's scale."""
    g = open_grid(alias, level)
    if g.dtype != dtype or g.channels != channels:
        raise BadRequest(f'GridStore "{alias}" holds {g.channels}-channel {g.dtype} voxels, not {channels}-channel {dtype}')
    return {
        "BlockSize": list(g.chunk),
        "VoxelSize": list(g.resolution),
        "MinPoint": list(g.offset),
        "MaxPoint": [e - 1 for e in g.end],
        "GridStore": alias,
        "ScaleLevel": level,
    }
