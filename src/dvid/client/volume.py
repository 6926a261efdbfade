"""``Volume``: one image instance at one version, read and written with numpy slicing (like
CloudVolume's ``vol[...]``), in [z, y, x] order and absolute voxel coordinates.

* ``vol[z0:z1, y0:y1, x0:x1]`` reads any box (one GET; missing data reads as the background 0);
  an integer index drops that axis, an open end means the instance's extents; steps are refused.
* ``vol[z0:z1, y0:y1, x0:x1] = array`` (or a scalar) writes any box. DVID only takes block-aligned
  writes, so the box is cut along each axis into partial and whole blocks: whole-block pieces are
  posted as they are, pieces with partial blocks are read, pasted and posted back (CloudVolume's
  ``__setitem__`` does the same). Voxels outside the box never change. Posting aligned pieces grows
  DVID's extents to the block grid, so afterwards the extents are set to what was written (the
  previous extents joined with the box): a writer racing on the same instance may see them set
  back. Extents are voxel extents, as DVID's ``load`` reports them.
* ``shape``, ``bounds``, ``dtype``, ``voxel_size``, ``block_size`` come from the instance's info
  (``refresh()`` re-reads them); ``scale=N`` opens pyramid level N, the instance ``<name>_N``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dvid.client.errors import DVIDError
from dvid.client.voxeltypes import voxel_type

if TYPE_CHECKING:
    from dvid.client.core import DVIDClient

Zyx = tuple[int, int, int]


@dataclass(frozen=True)
class Bounds:
    """A box of voxels, [z, y, x] like the arrays; ``stop`` is exclusive (DVID's MaxPoint + 1)."""

    start: Zyx
    stop: Zyx

    @property
    def shape(self) -> Zyx:
        return tuple(max(0, b - a) for a, b in zip(self.start, self.stop, strict=True))  # type: ignore[return-value]

    def to_slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, b) for a, b in zip(self.start, self.stop, strict=True))  # type: ignore[return-value]

    @classmethod
    def from_extents(cls, min_xyz: list[int] | None, max_xyz: list[int] | None) -> Bounds:
        if min_xyz is None or max_xyz is None:
            return cls((0, 0, 0), (0, 0, 0))
        return cls(tuple(min_xyz[::-1]), tuple(v + 1 for v in max_xyz[::-1]))  # type: ignore[arg-type]


def _pieces(lo: int, hi: int, b: int) -> list[tuple[int, int, bool]]:
    """Block-aligned intervals covering [lo, hi) along one axis: (start, stop, whole blocks only)."""
    first_full, last_full = -(-lo // b) * b, (hi // b) * b
    if first_full >= last_full:
        return [((lo // b) * b, -(-hi // b) * b, False)]
    out = []
    if lo < first_full:
        out.append(((lo // b) * b, first_full, False))
    out.append((first_full, last_full, True))
    if last_full < hi:
        out.append((last_full, -(-hi // b) * b, False))
    return out


def _cast(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``data`` as ``dtype``: integers when every value fits, floats to floats; else an error."""
    if data.dtype == dtype:
        return data
    if data.dtype.kind in "iub" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        if data.size and (data.min() < info.min or data.max() > info.max):
            raise ValueError(f"values {data.min()}..{data.max()} do not fit a {dtype} volume")
    elif not np.can_cast(data.dtype, dtype, "same_kind"):
        raise TypeError(f"cannot write {data.dtype} values into a {dtype} volume")
    return data.astype(dtype)


class Volume:
    def __init__(self, client: DVIDClient, uuid: str, name: str, *, scale: int = 0) -> None:
        if scale < 0:
            raise ValueError(f"scale must be 0 or more, not {scale}")
        self.client = client
        self.uuid = uuid
        self.base_name = name
        self.scale = scale
        self.name = f"{name}_{scale}" if scale else name
        try:
            self.refresh()
        except DVIDError as e:
            if scale and e.status == 400:
                raise DVIDError(e.status, f"no pyramid level {scale} of {name}: instance {self.name} does not "
                                f"exist ({e.message})", e.url) from None
            raise

    # ------------------------------------------------------------------------------- metadata
    def refresh(self) -> Volume:
        """Re-read the instance's info (extents grow as data are written)."""
        info = self.client.info(self.uuid, self.name)
        self.info = info
        self.dtype, self.channels = voxel_type(info["Base"]["TypeName"], f"{self.client.url}/api/node/"
                                               f"{self.uuid}/{self.name}")
        ext = info["Extended"]
        self.block_size: Zyx = tuple(ext["BlockSize"][::-1])  # type: ignore[assignment]
        self.voxel_size: tuple[float, float, float] = tuple(ext["VoxelSize"][::-1])  # type: ignore[assignment]
        self.voxel_units: tuple[str, str, str] = tuple(ext["VoxelUnits"][::-1])  # type: ignore[assignment]
        self.bounds = Bounds.from_extents(ext.get("MinPoint"), ext.get("MaxPoint"))
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        """Extent of the written data in [z, y, x] (plus 4 channels for rgba8blk)."""
        return self.bounds.shape + ((self.channels,) if self.channels > 1 else ())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def scales(self) -> list[int]:
        """Pyramid levels present in the repo: 0 plus every N with an instance ``<name>_N``."""
        names = self.client.repo_info(self.uuid).get("DataInstances", {})
        levels = [0]
        for n in names:
            head, _, tail = n.rpartition("_")
            if head == self.base_name and tail.isdigit() and int(tail) > 0:
                levels.append(int(tail))
        return sorted(levels)

    def __repr__(self) -> str:
        return (f"Volume({self.client.url!r}, {self.uuid[:8]!r}, {self.name!r}, shape={self.shape}, "
                f"dtype={self.dtype.name}, bounds={self.bounds.start}..{self.bounds.stop})")

    # ------------------------------------------------------------------------------- indexing
    def _box(self, key: Any) -> tuple[Zyx, Zyx, tuple[bool, ...], tuple[Any, ...]]:
        """(start, stop, squeezed axes, channel key) of a numpy-style key, in absolute coordinates."""
        keys = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in keys):
            i = keys.index(Ellipsis)
            keys = keys[:i] + (slice(None),) * (3 - len(keys) + 1) + keys[i + 1:]
        spatial, rest = keys[:3], keys[3:]
        if rest and self.channels == 1:
            raise IndexError(f"too many indices for a 3-d volume: {key!r}")
        spatial = spatial + (slice(None),) * (3 - len(spatial))
        start, stop, squeeze = [], [], []
        for ax, k in enumerate(spatial):
            if isinstance(k, (int, np.integer)):
                start.append(int(k))
                stop.append(int(k) + 1)
                squeeze.append(True)
            elif isinstance(k, slice):
                if k.step not in (None, 1):
                    raise IndexError("slice steps are not supported: read the box, then slice the array")
                a = self.bounds.start[ax] if k.start is None else int(k.start)
                b = self.bounds.stop[ax] if k.stop is None else int(k.stop)
                start.append(a)
                stop.append(max(a, b))
                squeeze.append(False)
            else:
                raise IndexError(f"volume indices must be integers or slices, not {type(k).__name__}")
        return tuple(start), tuple(stop), tuple(squeeze), rest  # type: ignore[return-value]

    def _full_shape(self, start: Zyx, stop: Zyx) -> tuple[int, ...]:
        return tuple(b - a for a, b in zip(start, stop, strict=True)) + ((self.channels,) if self.channels > 1 else ())

    def read(self, start: Zyx, stop: Zyx) -> np.ndarray:
        """The voxels of [start, stop) ([z, y, x], exclusive stop) as a new writable array."""
        shape = self._full_shape(start, stop)
        if 0 in shape:
            return np.zeros(shape, self.dtype)
        out = np.empty(shape, self.dtype)
        size_xyz = "_".join(str(v) for v in shape[:3][::-1])
        off_xyz = "_".join(str(v) for v in start[::-1])
        return self.client.read_into(f"/api/node/{self.uuid}/{self.name}/raw/0_1_2/{size_xyz}/{off_xyz}", out)

    def __getitem__(self, key: Any) -> np.ndarray:
        start, stop, squeeze, rest = self._box(key)
        a = self.read(start, stop)
        a = a[tuple(0 if s else slice(None) for s in squeeze)]
        return a[(Ellipsis, *rest)] if rest else a

    # --------------------------------------------------------------------------------- writes
    def write(self, start: Zyx, data: np.ndarray) -> None:
        """Write ``data`` ([z, y, x(, c)]) with its first voxel at ``start``; any box."""
        data = _cast(np.asarray(data), self.dtype)
        if data.ndim != self.ndim or (self.channels > 1 and data.shape[3] != self.channels):
            raise ValueError(f"expected a {self.ndim}-d array [z, y, x{', c' if self.channels > 1 else ''}], "
                             f"got shape {data.shape}")
        stop = tuple(s + n for s, n in zip(start, data.shape[:3], strict=True))
        if 0 in data.shape:
            return
        before = self.refresh().bounds
        padded = False
        base = f"/api/node/{self.uuid}/{self.name}/raw/0_1_2"
        per_axis = [_pieces(start[i], stop[i], self.block_size[i]) for i in range(3)]
        for piece in itertools.product(*per_axis):
            lo = tuple(p[0] for p in piece)
            hi = tuple(p[1] for p in piece)
            inner = tuple(slice(max(lo[i], start[i]) - start[i], min(hi[i], stop[i]) - start[i]) for i in range(3))
            if all(p[2] for p in piece):
                block = np.ascontiguousarray(data[inner])
            else:  # partial blocks: read, paste, post back
                padded = True
                block = self.read(lo, hi)
                block[tuple(slice(s.start + start[i] - lo[i], s.stop + start[i] - lo[i])
                            for i, s in enumerate(inner))] = data[inner]
            size = "_".join(str(hi[i] - lo[i]) for i in (2, 1, 0))
            self.client.post(f"{base}/{size}/{lo[2]}_{lo[1]}_{lo[0]}", data=memoryview(block).cast("B"))
        if padded:
            self._set_extents(before, Bounds(start, stop))  # type: ignore[arg-type]

    def _set_extents(self, before: Bounds, written: Bounds) -> None:
        """Voxel extents: the previous extents joined with the written box (not the block grid)."""
        if 0 in before.shape:
            lo, hi = written.start, written.stop
        else:
            lo = tuple(min(a, b) for a, b in zip(before.start, written.start, strict=True))
            hi = tuple(max(a, b) for a, b in zip(before.stop, written.stop, strict=True))
        self.client.post(f"/api/node/{self.uuid}/{self.name}/extents",
                         json_body={"MinPoint": list(lo[::-1]), "MaxPoint": [v - 1 for v in hi[::-1]]})
        self.refresh()

    def __setitem__(self, key: Any, value: Any) -> None:
        start, stop, squeeze, rest = self._box(key)
        if rest:
            raise IndexError("write whole voxels: channel indices are only for reads")
        shape = self._full_shape(start, stop)
        view_shape = tuple(n for n, s in zip(shape, squeeze + (False,) * (len(shape) - 3), strict=True) if not s)
        value = np.asarray(value)
        try:
            data = np.broadcast_to(value, view_shape).reshape(shape)
        except ValueError:
            raise ValueError(f"cannot write an array of shape {value.shape} into a box of shape {view_shape}") from None
        self.write(start, data)
