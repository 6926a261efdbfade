"""The downsampling kernels against TensorStore's downsample driver and a plain numpy reference,
over random shapes, origins (negative, unaligned), factors, dtypes and channels."""

import numpy as np
import tensorstore as ts
from hypothesis import given, settings
from hypothesis import strategies as st

from dvid.datatypes.imageblk.downsample import downsample, level_extents


def ours(vol, origin, f, method):
    """Downsample ``vol`` ([z, y, x(, c)], first voxel at ``origin`` x, y, z) as the builder does:
    zero-padded to whole windows, valid box = the volume."""
    n = vol.shape[2::-1]
    lo, hi = list(origin), [o + s - 1 for o, s in zip(origin, n, strict=True)]
    a = [o // k * k for o, k in zip(lo, f, strict=True)]
    b = [-(-(h + 1) // k) * k for h, k in zip(hi, f, strict=True)]
    buf = np.zeros((b[2] - a[2], b[1] - a[1], b[0] - a[0]) + vol.shape[3:], vol.dtype)
    buf[lo[2] - a[2] :][: n[2], lo[1] - a[1] :][:, : n[1], lo[0] - a[0] :][:, :, : n[0]] = vol
    return downsample(buf, a, lo, hi, f, method)


def theirs(vol, origin, f, method):
    extra = vol.shape[3:]
    t = ts.array(vol).translate_to[(origin[2], origin[1], origin[0]) + (0,) * len(extra)]
    return ts.downsample(t, [f[2], f[1], f[0]] + [1] * len(extra), method).read().result()


def make(rng, dtype, shape):
    if dtype == "rgba8":
        return rng.integers(0, 256, shape + (4,), dtype=np.uint8)
    if dtype == "float32":
        return (rng.standard_normal(shape) * 1000).astype(np.float32)
    info = np.iinfo(dtype)
    v = rng.integers(0, info.max, shape, dtype=dtype, endpoint=True)
    return v if rng.random() < 0.5 else (v % 5).astype(dtype)  # few values: ties for mode and rounding


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["uint8", "uint16", "uint32", "uint64", "float32", "rgba8"]),
       st.tuples(*[st.integers(1, 19)] * 3), st.tuples(*[st.integers(-9, 9)] * 3),
       st.tuples(*[st.sampled_from([1, 2, 2, 3, 4])] * 3), st.integers(0, 2**32 - 1))
def test_bit_identical_to_tensorstore(dtype, shape, origin, f, seed):
    if f == (1, 1, 1):
        f = (2, 2, 2)
    n = shape[::-1]  # x, y, z
    for i in range(3):
        lo, hi = origin[i], origin[i] + n[i] - 1
        if lo % f[i] and (hi + 1) % f[i] and lo // f[i] == hi // f[i]:
            return  # a window cut at both ends: TensorStore 0.1.86 is wrong there (next test)
    vol = make(np.random.default_rng(seed), dtype, shape)
    for method in ("mean", "mode") if dtype != "float32" else ("mean",):
        want = theirs(vol, origin, f, method)
        got = ours(vol, origin, f, method)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True), (method, dtype, shape, origin, f)
        lo, hi = level_extents(origin, [o + s - 1 for o, s in zip(origin, n, strict=True)], f)
        assert [h - a + 1 for a, h in zip(lo, hi, strict=True)] == list(want.shape[2::-1])


def test_window_cut_at_both_ends_is_the_plain_mean():
    vol = np.full((3, 2), 100, np.uint8)[None]  # x = 1..2 inside the window [0, 4)
    assert ours(vol, (1, 0, 0), (4, 1, 1), "mean").ravel().tolist() == [100, 100, 100]
    assert theirs(vol, (1, 0, 0), (4, 1, 1), "mean").ravel().tolist() == [150, 150, 100]  # upstream bug


def test_rounding_and_exact_wide_sums():
    # ties go to even, like TensorStore: 1.5 -> 2, 2.5 -> 2
    v = np.array([[[1, 2, 2, 3]]], np.uint8)
    assert ours(v, (0, 0, 0), (2, 1, 1), "mean").ravel().tolist() == [2, 2]
    big = np.array([[[2**64 - 1, 2**64 - 1, 2**63 + 1, 2**63 + 2]]], np.uint64)
    assert ours(big, (0, 0, 0), (2, 1, 1), "mean").ravel().tolist() == [2**64 - 1, 2**63 + 2]
