"""Unit tests of the roi datatype's pure parts and handlers over MemoryEngine + a real VersionedView."""

from types import SimpleNamespace

import numpy as np
import pytest

from dvid.datastore.view import Ancestry, VersionedView
from dvid.datatypes.base import Request
from dvid.datatypes.roi.partition import partition
from dvid.datatypes.roi.spans import (
    SpanIndex,
    read_spans,
    replace_spans,
    span_from_tkey,
    span_tkey,
    voxel_bounds_inside,
)
from dvid.datatypes.roi.types import RoiType
from dvid.errors import BadRequest
from dvid.limits import DEFAULT
from dvid.storage.memory import MemoryEngine

TEST_SPANS = [[100, 101, 200, 210], [100, 102, 200, 210], [100, 103, 201, 212], [101, 101, 201, 213],
              [101, 102, 202, 215], [101, 103, 202, 216], [102, 101, 200, 210], [102, 103, 201, 216],
              [102, 104, 203, 217], [103, 101, 200, 210], [103, 103, 200, 210], [103, 105, 201, 212]]
PARENTS = {1: [], 2: [1]}


def make_view(store, version=1):
    return VersionedView(store, 5, Ancestry(version, PARENTS))


def make_ctx(view, bs=(32, 32, 32)):
    saved = []
    inst = SimpleNamespace(props={"BlockSize": list(bs), "MinZ": 2**31 - 1, "MaxZ": -(2**31)}, name="r")
    return SimpleNamespace(view=view, instance=inst, save_instance=lambda: saved.append(1), saved=saved,
                           limits=DEFAULT, host="localhost:8000")


def handle(ctx, request):
    """An roi request served through the datatype's route table, as the server does, without HTTP."""
    return RoiType().handle(ctx, request)


def req(method, *args, body=b"", query=None):
    parts = ["node", "abc", "r", *args]
    return Request(method, "/api/" + "/".join(parts), parts, query or {}, body)


def test_key_round_trip_and_signed_order():
    spans = [(-5, 3, -10, -2), (0, 0, 0, 0), (-5, 3, -10, 7), (2**31 - 1, -(2**31), 4, 4)]
    assert [span_from_tkey(span_tkey(*s)) for s in spans] == spans
    assert sorted(spans) == [span_from_tkey(k) for k in sorted(span_tkey(*s) for s in spans)]
    assert span_tkey(1, 2, 3, 5)[:2] == b"\x5a\x01" and len(span_tkey(1, 2, 3, 5)) == 18


def test_replace_is_versioned_sorted_and_deduped():
    store = MemoryEngine()
    root = make_view(store, 1)
    replace_spans(root, [[0, 0, 5, 9], [0, 0, 5, 7], [0, 0, 5, 9], [-1, 2, 0, 0]])
    got = read_spans(root)
    assert got.dtype == np.int32 and got.tolist() == [[-1, 2, 0, 0], [0, 0, 5, 7], [0, 0, 5, 9]]
    child = make_view(store, 2)
    assert read_spans(child).tolist() == got.tolist()  # child inherits
    replace_spans(child, [[0, 0, 5, 7], [3, 3, 3, 3]])
    assert read_spans(child).tolist() == [[0, 0, 5, 7], [3, 3, 3, 3]]
    assert read_spans(root).tolist() == got.tolist()  # parent untouched
    replace_spans(child, [])
    assert read_spans(child).shape == (0, 4)


def test_tuples_and_index():
    idx = SpanIndex(np.array([[10, 11, 20, 30]]))
    assert [idx.inside(*b) for b in [(19, 11, 10), (20, 11, 10), (30, 11, 10), (31, 11, 10),
                                     (25, 11, 11), (25, 11, 9), (25, 10, 10), (25, 12, 10)]] == \
        [False, True, True, False, False, False, False, False]


def test_voxel_bounds_inside():
    spans = np.array(TEST_SPANS)
    bs = [10, 10, 10]
    cases = [((2030, 1010, 990), (2040, 1040, 990), False), ((2030, 1010, 1000), (2040, 1040, 1000), True),
             ((2130, 1010, 1000), (2900, 1040, 1000), False), ((2129, 1030, 1000), (2900, 1040, 1000), True),
             ((2130, 1010, 200), (2130, 1040, 900), False), ((2130, 1040, 1000), (2900, 1040, 2000), True)]
    for lo, hi, want in cases:
        assert voxel_bounds_inside(lo, hi, bs, spans) is want, (lo, hi)


@pytest.mark.parametrize("body,msg", [
    (b"", "Error trying to parse POSTed JSON: unexpected end of JSON input"),
    (b"{}", "Error trying to parse POSTed JSON:"),
    (b"[[0,0,5,4]]", "Got weird span [0, 0, 5, 4].  span[3] (X1) < span[2] (X0)"),
    (b"[[0,0,1.5,4]]", "Error trying to parse POSTed JSON:"),
    (b"[[0,0,0,4294967296]]", "Error trying to parse POSTed JSON:"),
])
def test_post_rejects_without_change(body, msg):
    ctx = make_ctx(make_view(MemoryEngine()))
    handle(ctx, req("POST", "roi", body=b"[[1,2,3,4]]"))
    with pytest.raises(BadRequest) as e:
        handle(ctx, req("POST", "roi", body=body))
    assert str(e.value).startswith(msg)
    assert read_spans(ctx.view).tolist() == [[1, 2, 3, 4]]
    assert (ctx.instance.props["MinZ"], ctx.instance.props["MaxZ"]) == (1, 1)


def test_post_short_and_null_spans_and_minmax():
    ctx = make_ctx(make_view(MemoryEngine()))
    handle(ctx, req("POST", "roi", body=b"[[7,1],null,[3,1,2,2,9]]"))
    assert read_spans(ctx.view).tolist() == [[0, 0, 0, 0], [3, 1, 2, 2], [7, 1, 0, 0]]
    assert (ctx.instance.props["MinZ"], ctx.instance.props["MaxZ"]) == (0, 7)
    handle(ctx, req("DELETE", "roi"))
    assert handle(ctx, req("GET", "roi")).body == b"[]"
    assert (ctx.instance.props["MinZ"], ctx.instance.props["MaxZ"]) == (2**31 - 1, -(2**31))


def test_mask_floor_division_negative_offset():
    ctx = make_ctx(make_view(MemoryEngine()), bs=(4, 4, 4))
    replace_spans(ctx.view, [[-1, -1, -1, -1]])  # voxels -4..-1 on every axis
    body = bytes(handle(ctx, req("GET", "mask", "0_1_2", "6_6_6", "-3_-3_-3")).body)
    got = np.frombuffer(body, np.uint8).reshape(6, 6, 6)
    want = np.zeros((6, 6, 6), np.uint8)
    want[:3, :3, :3] = 1
    assert np.array_equal(got, want)


@pytest.mark.parametrize("args,method,msg", [
    (("0_1_2", "0_1_1", "0_0_0"), "GET", "mask size must be at least 1"),
    (("0_1_2", "2048_2048_1024", "0_0_0"), "GET", "exceeds"),
    (("xy", "1_1_1", "0_0_0"), "GET", "Currently only 3d masks"),
    (("0_1_2", "1_1_1"), "GET", '"mask" must be followed by shape/size/offset'),
    (("0_1_2", "1_1_1", "0_0"), "GET", "Offset must be 3d coordinate, not 2-d coordinate"),
    (("0_1_2", "1_1_1", "0_0_0"), "POST", "ROI mask only supports GET"),
])
def test_mask_errors(args, method, msg):
    ctx = make_ctx(make_view(MemoryEngine()))
    with pytest.raises(BadRequest) as e:
        handle(ctx, req(method, "mask", *args))
    assert msg in str(e.value)


def test_ptquery_original_order_and_negatives():
    ctx = make_ctx(make_view(MemoryEngine()))
    replace_spans(ctx.view, TEST_SPANS + [[-1, -1, -1, -1]])
    pts = b"[[6400,3232,3167],[6400,3232,3200],[6719,3232,3200],[6720,3232,3200],[6720,4100,3263]," \
          b"[6720,3233,3201],[6720,3234,3200],[-1,-1,-1],[0,0,0]]"
    r = handle(ctx, req("POST", "ptquery", body=pts))
    assert r.body == b"[false,true,true,true,false,true,true,true,false]"
    with pytest.raises(BadRequest, match="ptquery requires POST"):
        handle(ctx, req("GET", "ptquery"))


def test_partition_fixtures_exact():
    spans = np.array(TEST_SPANS)
    opt = partition(spans, 5, [32, 32, 32], True)
    assert (opt["NumTotalBlocks"], opt["NumActiveBlocks"], opt["NumSubvolumes"]) == (450, 152, 3)
    assert opt["ROI"] == {"MinChunk": [0, 0, 100], "MaxChunk": [217, 105, 103]}
    assert [(s["MinChunk"], s["MaxChunk"], s["TotalBlocks"], s["ActiveBlocks"]) for s in opt["Subvolumes"]] == [
        ([200, 101, 100], [205, 105, 104], 150, 61), ([206, 101, 100], [211, 105, 104], 150, 67),
        ([212, 101, 100], [217, 105, 104], 150, 24)]
    assert (opt["Subvolumes"][0]["MinPoint"], opt["Subvolumes"][0]["MaxPoint"]) == ([6400, 3232, 3200],
                                                                                    [6591, 3391, 3359])
    simple = partition(spans, 5, [32, 32, 32], False)
    assert (simple["NumTotalBlocks"], simple["NumActiveBlocks"], simple["NumSubvolumes"]) == (1375, 152, 10)
    assert [s["ActiveBlocks"] for s in simple["Subvolumes"]] == [25, 40, 30, 8, 5, 5, 5, 11, 15, 8]
    assert simple["Subvolumes"][7]["MinChunk"] == [199, 101, 103]
    assert (simple["Subvolumes"][0]["MinPoint"], simple["Subvolumes"][0]["MaxPoint"]) == ([6368, 3168, 3136],
                                                                                          [6527, 3327, 3295])


def test_partition_empty_and_batchsize_errors():
    ctx = make_ctx(make_view(MemoryEngine()))
    r = handle(ctx, req("GET", "partition", query={"batchsize": "3"}))
    assert r.body.startswith(b'{\n    "NumTotalBlocks": 0,')
    assert b'"Subvolumes": []' in r.body and b'"MinChunk": [\n            0,' in r.body
    with pytest.raises(BadRequest, match='parsing "": invalid syntax'):
        handle(ctx, req("GET", "partition"))
    with pytest.raises(BadRequest, match="batchsize must be positive"):
        handle(ctx, req("GET", "partition", query={"batchsize": "0"}))
    with pytest.raises(BadRequest, match="partition only supports GET"):
        handle(ctx, req("POST", "partition", query={"batchsize": "3"}))


def test_partition_z_gap_advances_layers():
    out = partition(np.array([[0, 0, 0, 1], [20, 0, 0, 1]]), 2, [1, 1, 1], True)
    zs = [(s["MinChunk"][2], s["MaxChunk"][2]) for s in out["Subvolumes"]]
    assert all(lo <= z <= hi for (lo, hi), z in zip(zs, [0, 20], strict=True))


@pytest.mark.parametrize("setting,msg", [
    (32, "Setting for 'BlockSize' was not a string: 32"),
    ("32", "cannot convert '32' into a Point."),
    ("32,32", "BlockSize must be 3d, not 2d"),
    ("32,a,32", 'strconv.ParseInt: parsing "a": invalid syntax'),
    ("32,99999999999,32", 'strconv.ParseInt: parsing "99999999999": value out of range'),
    ("32,0,32", "BlockSize must be positive"),
])
def test_blocksize_setting_errors(setting, msg):
    from dvid.datatypes.roi.types import RoiType

    with pytest.raises(BadRequest) as e:
        RoiType().init_props({"blocksize": setting})
    assert str(e.value).startswith(msg)
    assert RoiType().init_props({"blocksize": " 15, 16 ,17"})["BlockSize"] == [15, 16, 17]


def test_optimized_hole_in_first_column_starts_a_subvolume():
    out = partition(np.array([[0, 0, 0, 1], [0, 0, 5, 9]]), 5, [10, 10, 10], True)
    got = [(s["MinChunk"], s["MaxChunk"], s["TotalBlocks"], s["ActiveBlocks"]) for s in out["Subvolumes"]]
    assert got == [([0, 0, 0], [1, 5, 4], 60, 2), ([5, 0, 0], [9, 5, 4], 150, 5)]
    assert out["Subvolumes"][0]["MaxPoint"] == [19, 59, 49]  # rows are b+1 tall here; x is the block's last voxel (Q7)
    assert (out["NumTotalBlocks"], out["NumActiveBlocks"]) == (210, 7)


def test_ptquery_rejects_out_of_int32_points():
    ctx = make_ctx(make_view(MemoryEngine()))
    with pytest.raises(BadRequest, match="cannot unmarshal number 2147483648 into Go value of type int32"):
        handle(ctx, req("POST", "ptquery", body=b"[[0,2147483648,0]]"))
    assert handle(ctx, req("POST", "ptquery", body=b"null")).body == b"[]"
    assert handle(ctx, req("PUT", "ptquery", body=b"[[0,0,0]]")).body == b""
