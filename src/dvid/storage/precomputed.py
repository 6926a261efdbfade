"""GridStore volumes: read-only neuroglancer-precomputed volumes read through TensorStore
(imageblk.md §9, §3.2), DVID's ``storage/ngprecomputed``.

A ``[store.<alias>] engine = "ngprecomputed"`` store names a volume location; an imageblk instance
created with ``GridStore=<alias>`` (and ``ScaleLevel=n``) reads one scale of it. Block (bx, by, bz)
covers the absolute voxels ``[b·chunk, (b+1)·chunk)``; when the scale's origin is chunk-aligned, a
chunk is returned exactly as stored (``stored_chunk``) so JPEG chunks can be passed through.
Volumes are opened once per process and location.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from dvid import volume_specs
from dvid.geometry import Box
from dvid.storage.base import StorageError

_OPEN: dict[tuple[str, int], PrecomputedVolume] = {}
_LOCK = threading.Lock()


@dataclass
class PrecomputedVolume:
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
        zyx = np.moveaxis(xyz, (0, 1, 2), (2, 1, 0))  # TensorStore's [x, y, z, c] to our [z, y, x, c]
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


def open_volume(location: str, scale: int) -> PrecomputedVolume:
    """One scale of the precomputed volume at ``location`` (cached); StorageError if unusable."""
    with _LOCK:
        vol = _OPEN.get((location, scale))
        if vol is not None:
            return vol
        import tensorstore as ts

        try:
            kvs = ts.KvStore.open(volume_specs.kvstore(location, directory=True)).result()
            raw = kvs.read("info").result()
            if raw.state != "value":
                raise StorageError(f'no precomputed "info" at {location}')
            info = json.loads(bytes(raw.value))
            scales = info["scales"]
            if not 0 <= scale < len(scales):
                raise StorageError(f"the volume has scales 0..{len(scales) - 1}, not ScaleLevel {scale}")
            sc = scales[scale]
            arr = ts.open(volume_specs.precomputed_read(location, scale)).result()
        except StorageError:
            raise
        except Exception as e:  # TensorStore / JSON problems with the volume itself
            raise StorageError(f"cannot be opened: {str(e).splitlines()[0]}") from None
        vol = PrecomputedVolume(array=arr, kvstore=kvs, scale_key=sc["key"], chunk=tuple(sc["chunk_sizes"][0]),
                                offset=tuple(sc.get("voxel_offset", [0, 0, 0])), size=tuple(sc["size"]),
                                encoding=sc.get("encoding", "raw"), resolution=[float(r) for r in sc["resolution"]],
                                dtype=info["data_type"], channels=int(info.get("num_channels", 1)),
                                scales=len(scales))
        _OPEN[(location, scale)] = vol
        return vol
