"""GridStore: read-only imageblk instances backed by neuroglancer-precomputed volumes (TensorStore)."""

import io
import struct

import numpy as np
import pytest
import requests
import tensorstore as ts
from PIL import Image

SIZE = (100, 90, 70)  # x, y, z


def write_precomputed(path, vol_zyx, encoding, chunk, scales=1):
    n = vol_zyx.shape
    base = {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(path)}}
    for level in range(scales):
        f = 2**level
        v = vol_zyx[::f, ::f, ::f]
        spec = dict(base, create=True,
                    multiscale_metadata={"data_type": "uint8", "num_channels": 1, "type": "image"},
                    scale_metadata={"size": [v.shape[2], v.shape[1], v.shape[0]], "encoding": encoding,
                                    "chunk_size": chunk, "resolution": [8.0 * f, 8.0 * f, 30.0 * f]})
        if encoding == "jpeg":
            spec["scale_metadata"]["jpeg_quality"] = 95
        ts.open(spec).result()[..., 0].write(v.transpose(2, 1, 0)).result()
    return n


@pytest.fixture(scope="module")
def grid_server(server_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("grid")
    rng = np.random.default_rng(3)
    vol = rng.integers(0, 256, SIZE[::-1], dtype=np.uint8)
    smooth = np.repeat(np.repeat(np.repeat(rng.integers(40, 200, (3, 3, 3), np.uint8), 32, 0), 32, 1), 32, 2)[:64, :64, :64]
    write_precomputed(d / "raw", vol, "raw", [32, 32, 32], scales=2)
    write_precomputed(d / "jpg", np.ascontiguousarray(smooth), "jpeg", [32, 32, 32])
    toml = (f'[store.em]\nengine = "ngprecomputed"\nref = "{d / "raw"}"\n\n'
            f'[store.emjpg]\nengine = "ngprecomputed"\nref = "file://{d / "jpg"}"\n')
    srv = server_factory(extra_toml=toml)
    uuid = srv.new_repo()
    for name, store, level in (("em", "em", "0"), ("em_1", "em", "1"), ("emjpg", "emjpg", "0")):
        r = requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                          json={"typename": "uint8blk", "dataname": name, "GridStore": store, "ScaleLevel": level})
        assert r.status_code == 200, r.text
    return srv, uuid, vol, smooth


def test_info_and_raw_reads(grid_server):
    srv, uuid, vol, _ = grid_server
    base = f"{srv.url}/api/node/{uuid}"
    e = requests.get(f"{base}/em/info").json()["Extended"]
    assert e["GridStore"] == "em" and e["BlockSize"] == [32, 32, 32] and e["VoxelSize"] == [8, 8, 30]
    assert e["MinPoint"] == [0, 0, 0] and e["MaxPoint"] == [99, 89, 69]
    e1 = requests.get(f"{base}/em_1/info").json()["Extended"]
    assert e1["ScaleLevel"] == 1 and e1["MaxPoint"] == [49, 44, 34] and e1["VoxelSize"] == [16, 16, 60]
    r = requests.get(f"{base}/em/raw/0_1_2/50_40_30/10_20_30")
    assert r.content == vol[30:60, 20:60, 10:60].tobytes()
    r = requests.get(f"{base}/em/raw/0_1_2/20_20_20/90_80_60")  # partly outside: zeros there
    got = np.frombuffer(r.content, np.uint8).reshape(20, 20, 20)
    assert np.array_equal(got[:10, :10, :10], vol[60:70, 80:90, 90:100]) and not got[10:].any()
    png = np.asarray(Image.open(io.BytesIO(requests.get(f"{base}/em/raw/xy/100_90/0_0_5").content)))
    assert np.array_equal(png, vol[5])
    half = np.frombuffer(requests.get(f"{base}/em_1/raw/0_1_2/50_45_35/0_0_0").content, np.uint8).reshape(35, 45, 50)
    assert np.array_equal(half, vol[::2, ::2, ::2])


def test_block_endpoints(grid_server):
    srv, uuid, vol, smooth = grid_server
    base = f"{srv.url}/api/node/{uuid}"
    blk = requests.get(f"{base}/em/blocks/1_0_0/2").content
    assert len(blk) == 2 * 32768 and blk[:32768] == vol[0:32, 0:32, 32:64].tobytes()
    edge = np.frombuffer(blk[32768:], np.uint8).reshape(32, 32, 32)
    assert np.array_equal(edge[:, :, :32], vol[0:32, 0:32, 64:96])
    recs = parse(requests.get(f"{base}/em/subvolblocks/128_96_96/0_0_0?compression=uncompressed").content)
    assert len(recs) == 4 * 3 * 3 and recs[(0, 0, 0)] == vol[:32, :32, :32].tobytes()
    sb = parse(requests.get(f"{base}/em/specificblocks?blocks=0,0,0,9,9,9,3,2,2").content)
    assert set(sb) == {(0, 0, 0), (3, 2, 2)}
    # a JPEG-encoded volume passes its stored chunks through, like DVID
    recs = parse(requests.get(f"{base}/emjpg/subvolblocks/64_64_64/0_0_0").content)
    im = Image.open(io.BytesIO(recs[(1, 1, 1)]))
    assert im.format == "JPEG" and im.size == (32, 1024)
    assert np.abs(np.asarray(im).astype(int) - smooth[32:, 32:, 32:].reshape(1024, 32)).mean() < 3
    assert requests.get(f"{base}/em/subvolblocks/32_32_32/0_0_0?compression=jpeg").status_code == 400


def test_read_only_and_bad_settings(grid_server):
    srv, uuid, _, _ = grid_server
    base = f"{srv.url}/api/node/{uuid}"
    for path, body in (("raw/0_1_2/32_32_32/0_0_0", bytes(32768)), ("blocks/0_0_0/1", bytes(32768)),
                       ("extents", b'{"MinPoint":[0,0,0]}'), ("resolution", b"[1,1,1]")):
        r = requests.post(f"{base}/em/{path}", data=body)
        assert r.status_code == 400 and "read-only GridStore" in r.text
    for settings in ({"GridStore": "nosuch"}, {"GridStore": "em", "ScaleLevel": "5"}):
        r = requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "uint8blk", "dataname": "x", **settings})
        assert r.status_code == 400
    r = requests.post(f"{srv.url}/api/repo/{uuid}/instance", json={"typename": "rgba8blk", "dataname": "x", "GridStore": "em"})
    assert r.status_code == 400 and "channel" in r.text


def parse(data):
    out, i = {}, 0
    while i < len(data):
        x, y, z, n = struct.unpack_from("<iiii", data, i)
        out[(x, y, z)] = data[i + 16 : i + 16 + n]
        i += 16 + n
    return out


def test_precomputed_scales_are_levels(grid_server):
    srv, uuid, vol, _ = grid_server
    base = f"{srv.url}/api/node/{uuid}"
    half = vol[::2, ::2, ::2]
    # ?scale=1 on level 0 reads <name>_1, here made by hand the DVID way
    r = requests.get(f"{base}/em/raw/0_1_2/50_45_35/0_0_0", params={"scale": 1})
    assert r.status_code == 200 and r.content == half.tobytes()
    # the pyramid command makes the volume's other precomputed scales <name>_k GridStore instances
    r = requests.post(f"{srv.url}/api/repo/{uuid}/instance",
                      json={"typename": "uint8blk", "dataname": "pc", "GridStore": "em"})
    assert r.status_code == 200, r.text
    for _ in range(2):  # and running it again changes nothing
        r = requests.post(f"{base}/pc/pyramid")
        assert r.status_code == 200 and "pc_1" in r.text, r.text
    e1 = requests.get(f"{base}/pc_1/info").json()["Extended"]
    assert e1["GridStore"] == "em" and e1["ScaleLevel"] == 1 and e1["VoxelSize"] == [16, 16, 60]
    st = requests.get(f"{base}/pc/pyramid").json()
    assert st["Current"] and [lv["Name"] for lv in st["Levels"]] == ["pc_1"]
    assert requests.get(f"{base}/pc/raw/0_1_2/50_45_35/0_0_0?scale=1").content == half.tobytes()
    assert requests.get(f"{base}/pc/raw/0_1_2/8_8_8/0_0_0?scale=2").status_code == 400
