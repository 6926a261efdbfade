"""imageblk instance settings (imageblk.md §3.2) and the info/metadata JSON (§2)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dvid.datastore.instance import Instance
from dvid.datastore.settings import string_setting
from dvid.datatypes.base import Environment, Volume
from dvid.errors import BadRequest
from dvid.limits import INT32_MAX, INT32_MIN


@dataclass(frozen=True)
class VoxelType:
    """One registered image type: its name, element type and channel labels."""

    name: str
    dtype: str
    labels: tuple[str, ...]
    version: str
    url_file: str

    @property
    def url(self) -> str:
        return f"github.com/janelia-flyem/dvid/datatype/imageblk/{self.url_file}"

    @property
    def channels(self) -> int:
        return len(self.labels)

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype).newbyteorder("<")

    @property
    def bytes_per_voxel(self) -> int:
        return self.np_dtype.itemsize * self.channels


VOXEL_TYPES = [
    VoxelType("uint8blk", "uint8", ("uint8",), "0.2", "uint8.go"),
    VoxelType("rgba8blk", "uint8", ("red", "green", "blue", "alpha"), "0.2", "rgba8.go"),
    VoxelType("uint16blk", "uint16", ("uint16",), "0.1", "uint16.go"),
    VoxelType("uint32blk", "uint32", ("uint32",), "0.1", "uint32.go"),
    VoxelType("uint64blk", "uint64", ("uint64",), "0.1", "uint64.go"),
    VoxelType("float32blk", "float32", ("float32",), "0.1", "float32.go"),
]

_LABELS = {"blocksize": "BlockSize", "voxelsize": "VoxelSize", "voxelunits": "VoxelUnits",
           "minpoint": "MinPoint", "maxpoint": "MaxPoint", "background": "Background",
           "gridstore": "GridStore", "scalelevel": "ScaleLevel"}
SETTINGS = tuple(_LABELS.values())


def _string(settings: dict[str, Any], key: str) -> str | None:
    return string_setting(settings, key, _LABELS[key])


def _int_list(s: str, label: str) -> list[int]:
    parts = s.split(",")
    if len(parts) < 2:
        raise BadRequest(f"cannot convert '{s}' into a Point.")
    try:
        vals = [int(p.strip()) for p in parts]
    except ValueError:
        raise BadRequest(f"{label} must be comma-separated integers, got '{s}'") from None
    if any(not INT32_MIN <= v <= INT32_MAX for v in vals):
        raise BadRequest(f"{label} values must fit in 32 bits, got '{s}'")
    return vals


def init_props(settings: dict[str, Any], vt: VoxelType | None = None, env: Environment | None = None) -> dict[str, Any]:
    """Parse creation settings into props; unknown keys are ignored (as DVID). A GridStore instance
    takes BlockSize, VoxelSize and extents from its volume's scale (``env.volume``)."""
    props: dict[str, Any] = {
        "BlockSize": [32, 32, 32], "VoxelSize": [8.0, 8.0, 8.0],
        "VoxelUnits": ["nanometers"] * 3, "MinPoint": None, "MaxPoint": None,
        "Background": 0, "GridStore": "", "ScaleLevel": 0,
    }
    if (s := _string(settings, "blocksize")) is not None:
        bs = _int_list(s, "BlockSize")
        if len(bs) != 3:
            raise BadRequest(f"BlockSize must be 3d, not {len(bs)}d")
        if any(b <= 0 for b in bs):
            raise BadRequest(f"BlockSize must be positive, got '{s}'")
        if bs[0] * bs[1] * bs[2] > 1 << 24:
            raise BadRequest(f"BlockSize {s} is too large (at most 16 Mi voxels per block)")
        props["BlockSize"] = bs
    if (s := _string(settings, "voxelsize")) is not None:
        try:
            vs = [float(p.strip()) for p in s.split(",")]
        except ValueError:
            raise BadRequest(f"VoxelSize must be comma-separated numbers, got '{s}'") from None
        if len(vs) != 3 or any(not math.isfinite(v) or v <= 0 for v in vs):
            raise BadRequest(f"VoxelSize must be 3 positive numbers, got '{s}'")
        props["VoxelSize"] = vs
    if (s := _string(settings, "voxelunits")) is not None:
        units = s.split(",")  # DVID does not trim these
        if len(units) != 3:
            raise BadRequest(f"VoxelUnits must have 3 comma-separated units, got '{s}'")
        props["VoxelUnits"] = units
    for key in ("minpoint", "maxpoint"):
        if (s := _string(settings, key)) is not None:
            pt = _int_list(s, _LABELS[key])
            if len(pt) != 3:
                raise BadRequest(f"{_LABELS[key]} must be 3d, got '{s}'")
            props[_LABELS[key]] = pt
    if (s := _string(settings, "background")) is not None:
        try:
            bg = int(s.strip())
        except ValueError:
            raise BadRequest(f"Background must be an integer 0-255, got '{s}'") from None
        if not 0 <= bg <= 255:
            raise BadRequest(f"Background must be an integer 0-255, got '{s}'")
        props["Background"] = bg
    if (s := _string(settings, "scalelevel")) is not None:
        try:
            props["ScaleLevel"] = int(s)
        except ValueError:
            raise BadRequest(f"ScaleLevel must be an integer, got '{s}'") from None
    if (s := _string(settings, "gridstore")) is not None and s != "":
        if env is None:
            raise BadRequest("GridStore instances can only be created on a server with configured stores")
        vt = vt or VOXEL_TYPES[0]
        props.update(volume_props(env.volume(s, props["ScaleLevel"]), s, props["ScaleLevel"], vt))
    return props


def volume_props(vol: Volume, alias: str, level: int, vt: VoxelType) -> dict[str, Any]:
    """Instance props taken from a GridStore volume's scale (imageblk.md §3.2)."""
    if vol.dtype != vt.dtype or vol.channels != vt.channels:
        raise BadRequest(f'GridStore "{alias}" holds {vol.channels}-channel {vol.dtype} voxels, '
                         f"not {vt.channels}-channel {vt.dtype}")
    end = [o + n for o, n in zip(vol.offset, vol.size, strict=True)]
    return {
        "BlockSize": list(vol.chunk),
        "VoxelSize": list(vol.resolution),
        "MinPoint": list(vol.offset),
        "MaxPoint": [e - 1 for e in end],
        "GridStore": alias,
        "ScaleLevel": level,
    }


def _num(v: float) -> float | int:
    """Go prints float32 8 as ``8``: integral values as JSON integers, others in shortest form."""
    return int(v) if float(v).is_integer() else v


def block_size(inst: Instance) -> tuple[int, int, int]:
    bs = inst.props["BlockSize"]
    return bs[0], bs[1], bs[2]


def extended_json(vt: VoxelType, inst: Instance, extents: tuple[list[int], list[int]] | None) -> dict[str, Any]:
    p = inst.props
    bs = block_size(inst)
    lo, hi = extents if extents is not None else (None, None)
    return {
        "Values": [{"DataType": vt.dtype, "Label": lab} for lab in vt.labels],
        "Interpolable": True,
        "BlockSize": list(bs),
        "VoxelSize": [_num(v) for v in p["VoxelSize"]],
        "VoxelUnits": list(p["VoxelUnits"]),
        "MinPoint": lo,
        "MaxPoint": hi,
        "MinIndex": [v // b for v, b in zip(lo, bs, strict=True)] if lo is not None else None,
        "MaxIndex": [v // b for v, b in zip(hi, bs, strict=True)] if hi is not None else None,
        "Background": p["Background"],
        "GridStore": p["GridStore"],
        "ScaleLevel": p["ScaleLevel"],
    }


def metadata_json(ext: dict[str, Any]) -> dict[str, Any]:
    lo, hi = ext["MinPoint"], ext["MaxPoint"]
    axes = []
    for i, label in enumerate("XYZtc"[: len(ext["BlockSize"])]):
        axes.append({
            "Label": label,
            "Resolution": ext["VoxelSize"][i],
            "Units": ext["VoxelUnits"][i],
            "Size": (hi[i] - lo[i] + 1) if lo is not None else 0,
            "Offset": lo[i] if lo is not None else 0,
        })
    return {"Axes": axes, "Properties": ext}
