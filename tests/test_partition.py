"""The bounded ROI partition against the straightforward reference model, and its bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvid.budget import Budget, bounded
from dvid.datatypes.roi.partition import partition
from dvid.errors import BadRequest
from roi_partition_reference import partition as reference

span = st.tuples(st.integers(-6, 12), st.integers(-6, 12), st.integers(-20, 30), st.integers(0, 12))


def _spans(raw):
    rows = sorted({(z, y, x, x + n) for z, y, x, n in raw})
    return np.array(rows, np.int64).reshape(-1, 4)


@settings(max_examples=400, deadline=None)
@given(raw=st.lists(span, min_size=0, max_size=25), b=st.integers(1, 9), optimized=st.booleans(),
       bs=st.sampled_from([[1, 1, 1], [32, 32, 32], [8, 16, 4]]))
def test_matches_reference(raw, b, optimized, bs):
    spans = _spans(raw)
    assert partition(spans, b, bs, optimized) == reference(spans, b, bs, optimized)


@pytest.mark.parametrize("optimized", [False, True])
def test_far_apart_spans_with_batchsize_one_answer_at_once(optimized):
    # Three spans at the corners of the int32 range: the reference would walk ~2^31 layers.
    spans = np.array([[-(2**31), -(2**31), -(2**31), -(2**31) + 3], [0, 0, 0, 0],
                      [2**31 - 1, 2**31 - 1, 2**31 - 5, 2**31 - 1]], np.int64)
    with bounded(Budget(60)):  # a walk over the gaps would take hours and be stopped here
        out = partition(spans, 1, [32, 32, 32], optimized)
    assert out["NumActiveBlocks"] == 4 + 1 + 5
    assert sum(s["ActiveBlocks"] for s in out["Subvolumes"]) == 10


def test_too_many_subvolumes_refused_with_the_limit_named():
    spans = np.array([[0, 0, 0, 999]], np.int64)
    assert partition(spans, 1, [1, 1, 1], False, max_subvolumes=1000)["NumSubvolumes"] == 1000
    with pytest.raises(BadRequest, match="maxPartitionSubvolumes"):
        partition(spans, 1, [1, 1, 1], False, max_subvolumes=999)
    with pytest.raises(BadRequest, match="maxPartitionSubvolumes"):
        partition(spans, 1, [1, 1, 1], True, max_subvolumes=999)
