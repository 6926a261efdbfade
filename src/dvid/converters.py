"""Path-segment converters for route templates (``dvid.routing``): DVID's geometry, block and
format strings turned into typed values, with DVID's error texts.

``{shape:plane}`` / ``{shape:volume}`` take a dims string (``xy``, ``0_2``, ``0_1_2``...) and match
only 2-d or only 3-d shapes, so one keyword can route 2-d and 3-d requests to different handlers;
``{box:slice}`` and ``{box:subvolume}`` take the next two segments (size, offset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dvid.codecs.images import parse_format
from dvid.errors import BadRequest
from dvid.geometry import parse_floats, parse_point, parse_shape, slice_box, subvolume
from dvid.routing import Converter, NoMatch

Params = Mapping[str, Any]


def _plane(segs: Sequence[str], params: Params) -> tuple[int, ...]:
    axes = parse_shape(segs[0])
    if len(axes) != 2:
        raise NoMatch
    return axes


def _volume(segs: Sequence[str], params: Params) -> tuple[int, ...]:
    axes = parse_shape(segs[0])
    if len(axes) != 3:
        raise NoMatch
    return axes


def _image(segs: Sequence[str], params: Params) -> str:
    parse_format(segs[0])  # refused here, before any voxel is read
    return segs[0]


def _block(segs: Sequence[str], params: Params) -> tuple[int, int, int]:
    pt = parse_point(segs[0])
    if len(pt) != 3:
        raise BadRequest(f"block coordinate must be 3d, got '{segs[0]}'")
    return pt[0], pt[1], pt[2]


def _int(segs: Sequence[str], params: Params) -> int:
    try:
        return int(segs[0])
    except ValueError:
        raise BadRequest(f'strconv.Atoi: parsing "{segs[0]}": invalid syntax') from None


def _point3f(segs: Sequence[str], params: Params) -> np.ndarray:
    pt = np.array(parse_floats(segs[0]), np.float64)
    if len(pt) != 3:
        raise BadRequest("arb points must be 3d, e.g. 0_0_80")
    return pt


def _float(segs: Sequence[str], params: Params) -> float:
    try:
        return float(segs[0])
    except ValueError:
        raise BadRequest(f'strconv.ParseFloat: parsing "{segs[0]}": invalid syntax') from None


CONVERTERS: dict[str, Converter] = {
    "shape": Converter(lambda segs, params: parse_shape(segs[0])),
    "plane": Converter(_plane),
    "volume": Converter(_volume),
    "slice": Converter(lambda segs, params: slice_box(params["shape"], segs[0], segs[1]), arity=2),
    "subvolume": Converter(lambda segs, params: subvolume(segs[0], segs[1]), arity=2),
    "image": Converter(_image),
    "block": Converter(_block),
    "int": Converter(_int),
    "point3f": Converter(_point3f),
    "float": Converter(_float),
}
