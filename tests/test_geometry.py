"""Property tests for geometry (floor division, block ranges, alignment, parsing) and for the
block gather/split hot path against a numpy reference volume."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvid.datastore.view import Ancestry, VersionedView
from dvid.datatypes.imageblk.voxels import encode_blocks, gather, write_batches
from dvid.errors import BadRequest
from dvid.geometry import Box, parse_shape, slice_box, subvolume
from dvid.storage.memory import MemoryEngine

coord = st.integers(-200, 200)
size = st.integers(1, 90)
bsz = st.sampled_from([1, 3, 8, 16, 32])


@settings(max_examples=200, deadline=None)
@given(o=st.tuples(coord, coord, coord), s=st.tuples(size, size, size), b=st.tuples(bsz, bsz, bsz))
def test_block_range_is_floor_division(o, s, b):
    box = Box(o, s)
    lo, hi = box.block_range(b)
    for axis in range(3):
        first, last = o[axis], o[axis] + s[axis] - 1
        assert lo[axis] * b[axis] <= first < (lo[axis] + 1) * b[axis]
        assert hi[axis] * b[axis] <= last < (hi[axis] + 1) * b[axis]
    aligned = all(o[a] % b[a] == 0 and (o[a] + s[a]) % b[a] == 0 for a in range(3))
    assert box.aligned(b) == aligned


def test_parsing_errors():
    assert subvolume("1_2_3", "4_5_6") == Box((4, 5, 6), (1, 2, 3))
    assert subvolume(" 1_2_3", "4_ 5_6").size == (1, 2, 3)
    for size_s, off_s in [("1_2", "0_0_0"), ("1_2_3", "0_0"), ("a_b_c", "0_0_0"), ("1_2_3", "0_0_99999999999"),
                          ("1", "0_0_0")]:
        with pytest.raises(BadRequest):
            subvolume(size_s, off_s)
    assert parse_shape("XY") == (0, 1) and parse_shape("0,2") == (0, 2)
    for bad in ("arb", "qq", ""):
        with pytest.raises(BadRequest):
            parse_shape(bad)
    box, wh = slice_box((0, 2), "10_20", "1_2_3")
    assert box == Box((1, 2, 3), (10, 1, 20)) and wh == (10, 20)


@settings(max_examples=60, deadline=None)
@given(bs=st.tuples(st.sampled_from([4, 8, 16]), st.sampled_from([4, 8]), st.sampled_from([4, 8, 16])),
       seed=st.integers(0, 10_000), channels=st.sampled_from([1, 4]))
def test_gather_matches_numpy(bs, seed, channels):
    rng = np.random.default_rng(seed)
    nb = [int(rng.integers(1, 4)) for _ in range(3)]
    origin = [int(rng.integers(-3, 3)) * b for b in bs]
    shape = (nb[2] * bs[2], nb[1] * bs[1], nb[0] * bs[0]) + ((channels,) if channels > 1 else ())
    vol = rng.integers(0, 256, shape, dtype=np.uint8)
    view = VersionedView(MemoryEngine(), 1, Ancestry(1, {1: []}))
    wbox = Box(tuple(origin), (shape[2], shape[1], shape[0]))
    write_batches(view, encode_blocks(vol, wbox, bs, "lz4", "none"))
    for _ in range(5):
        o = [origin[a] + int(rng.integers(-bs[a], (nb[a] + 1) * bs[a])) for a in range(3)]
        s = [int(rng.integers(1, 2 * bs[a] + 3)) for a in range(3)]
        got = gather(view, Box(tuple(o), tuple(s)), bs, np.dtype(np.uint8), channels)
        ref = np.zeros((s[2], s[1], s[0]) + shape[3:], np.uint8)
        src_lo = [max(o[a], origin[a]) for a in range(3)]
        src_hi = [min(o[a] + s[a], origin[a] + (shape[2 - a])) for a in range(3)]
        if all(src_lo[a] < src_hi[a] for a in range(3)):
            ref[src_lo[2] - o[2]: src_hi[2] - o[2], src_lo[1] - o[1]: src_hi[1] - o[1], src_lo[0] - o[0]: src_hi[0] - o[0]] = \
                vol[src_lo[2] - origin[2]: src_hi[2] - origin[2], src_lo[1] - origin[1]: src_hi[1] - origin[1],
                    src_lo[0] - origin[0]: src_hi[0] - origin[0]]
        assert np.array_equal(got, ref)
