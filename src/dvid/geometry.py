"""Points, block coordinates and DVID's URL geometry strings (``xy``, ``512_256_128``...).

Pure helpers: block coordinates use floor division so negative voxel coordinates work, and the
parse errors carry DVID's texts (imageblk.md §1.7, §4.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from dvid.errors import BadRequest
from dvid.limits import INT32_MAX, INT32_MIN

#: dims string -> axes (0=x, 1=y, 2=z); () means DVID's 0-d "arb" shape
SHAPES: dict[str, tuple[int, ...]] = {
    "xy": (0, 1), "0_1": (0, 1), "0,1": (0, 1),
    "xz": (0, 2), "0_2": (0, 2), "0,2": (0, 2),
    "yz": (1, 2), "1_2": (1, 2), "1,2": (1, 2),
    "vol": (0, 1, 2), "0_1_2": (0, 1, 2), "0,1,2": (0, 1, 2),
    "arb": (),
}


def parse_shape(s: str) -> tuple[int, ...]:
    axes = SHAPES.get(s.lower())
    if axes is None:
        raise BadRequest(f"Unknown data shape specification ({s})")
    if not axes:
        raise BadRequest("DVID currently supports shapes of only 2 and 3 dimensions")
    return axes


def parse_ints(s: str, sep: str = "_") -> tuple[int, ...]:
    """``_``-separated int32 list, each element whitespace-trimmed (DVID's StringToPoint)."""
    parts = s.split(sep)
    out = []
    for p in parts:
        p = p.strip()
        try:
            v = int(p)
        except ValueError:
            raise BadRequest(f'strconv.ParseInt: parsing "{p}": invalid syntax') from None
        if not INT32_MIN <= v <= INT32_MAX:
            raise BadRequest(f'strconv.ParseInt: parsing "{p}": value out of range')
        out.append(v)
    return tuple(out)


def parse_point(s: str, sep: str = "_") -> tuple[int, ...]:
    pt = parse_ints(s, sep)
    if len(pt) < 2:
        raise BadRequest(f"cannot convert '{s}' into a Point.")
    return pt


def parse_xyz(text: str, what: str = "offset") -> tuple[int, int, int]:
    """The command-line point grammar: exactly three integers ``x,y,z`` (``_`` also separates), as
    ``load``, ``put``, ``import`` take them; the URL grammar is ``parse_point``."""
    parts = [p.strip() for p in text.replace("_", ",").split(",")]
    try:
        x, y, z = (int(p) for p in parts)
    except ValueError:
        raise BadRequest(f"{what} must be 3 comma-separated integers x,y,z, got {text!r}") from None
    return x, y, z


def parse_floats(s: str, sep: str = "_") -> tuple[float, ...]:
    out = []
    for p in s.split(sep):
        try:
            out.append(float(p.strip()))
        except ValueError:
            raise BadRequest(f'strconv.ParseFloat: parsing "{p.strip()}": invalid syntax') from None
    return tuple(out)


@dataclass(frozen=True)
class Box:
    """A voxel box: ``offset`` (x, y, z) and ``size`` (x, y, z), both ints."""

    offset: tuple[int, int, int]
    size: tuple[int, int, int]

    @property
    def end(self) -> tuple[int, int, int]:
        """Exclusive end corner."""
        return tuple(o + s for o, s in zip(self.offset, self.size, strict=True))  # type: ignore[return-value]

    @property
    def voxels(self) -> int:
        x, y, z = self.size
        return x * y * z

    def block_range(self, bs: tuple[int, int, int]) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Inclusive first and last block coordinates touched (floor division)."""
        lo = tuple(o // b for o, b in zip(self.offset, bs, strict=True))
        hi = tuple((o + s - 1) // b for o, s, b in zip(self.offset, self.size, bs, strict=True))
        return lo, hi  # type: ignore[return-value]

    def aligned(self, bs: tuple[int, int, int]) -> bool:
        return all(o % b == 0 and (o + s) % b == 0 for o, s, b in zip(self.offset, self.size, bs, strict=True))


def subvolume(size_s: str, offset_s: str) -> Box:
    """3-d size and offset strings as DVID's NewSubvolumeFromStrings (offset parsed first)."""
    off = parse_point(offset_s)
    if len(off) != 3:
        raise BadRequest(f"Offset must be 3d coordinate, not {len(off)}-d coordinate")
    size = parse_point(size_s)
    if len(size) != 3:
        raise BadRequest(f"Size must be 3 (not {len(size)}) dimensions")
    return Box((off[0], off[1], off[2]), (size[0], size[1], size[2]))


def slice_box(axes: tuple[int, ...], size_s: str, offset_s: str) -> tuple[Box, tuple[int, int]]:
    """A 2-d slice as a box of thickness 1; also returns its (width, height)."""
    size = parse_point(size_s)
    if len(size) != 2:
        raise BadRequest(f"Size must be 2 (not {len(size)}) dimensions for a 2d slice")
    off = parse_point(offset_s)
    if len(off) != 3:
        raise BadRequest(f"Offset must be 3d coordinate, not {len(off)}-d coordinate")
    s = [1, 1, 1]
    s[axes[0]], s[axes[1]] = size[0], size[1]
    return Box((off[0], off[1], off[2]), (s[0], s[1], s[2])), (size[0], size[1])
