"""dvid.client's Volume against a real server: numpy slicing for reads and writes of any box
(partial blocks read-modify-written, nothing else touched), metadata, scales, clear errors; and
``put remote`` giving the same voxel extents as the server-side ``load``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dvid.client import DVIDClient, DVIDConnectionError, DVIDError, UnsupportedVolume


@pytest.fixture
def client(server):
    return DVIDClient(server.url.removeprefix("http://"))  # no scheme: http is meant


def test_unaligned_writes_and_reads(client, repo):
    client.new_instance(repo, "uint8blk", "g", BlockSize="64,64,64", VoxelSize="4,5,40")
    vol = client.volume(repo, "g")
    assert vol.shape == (0, 0, 0) and vol.dtype == np.uint8
    assert vol.block_size == (64, 64, 64) and vol.voxel_size == (40, 5, 4)  # [z, y, x] like the arrays
    old = np.full((128, 576, 768), 9, np.uint8)
    vol[0:128, 0:576, 0:768] = old  # aligned: posted as it is
    stack = np.random.default_rng(1).integers(0, 256, (64, 500, 700), dtype=np.uint8)  # the stack
    vol[10:74, 3:503, 5:705] = stack
    got = vol[0:128, 0:576, 0:768]
    expect = old.copy()
    expect[10:74, 3:503, 5:705] = stack
    assert np.array_equal(got, expect), "only the box changed"
    assert got.flags.writeable
    got[0, 0, 0] = 1  # writable, and a copy
    assert vol[0, 0, 0] == 9
    assert vol.bounds.start == (0, 0, 0) and vol.bounds.stop == (128, 576, 768) and vol.shape == (128, 576, 768)
    assert vol[11, 4:6, 6:9].tolist() == stack[1, 1:3, 1:4].tolist()  # an integer index drops the axis
    assert vol[:, 0, 0].shape == (128,)  # open ends are the extents
    vol[200, 300, 400] = 77  # outside the extents: they grow to the voxel, not the block grid
    assert vol[200, 300, 400] == 77 and vol.bounds.stop == (201, 576, 768)
    assert client.info(repo, "g")["Extended"]["MaxPoint"] == [767, 575, 200]
    assert vol[-5:-1, 0:2, 0:2].shape == (4, 2, 2)  # negative coordinates are coordinates, not from the end


def test_rgba_scales_and_errors(client, repo, server):
    client.new_instance(repo, "rgba8blk", "c", BlockSize="32,32,32")
    cv = client.volume(repo, "c")
    cv[5:9, 5:9, 5:9] = np.full((4, 4, 4, 4), 200, np.uint8)
    assert cv.shape == (4, 4, 4, 4) and cv[5, 5:7, 5:7, 0].tolist() == [[200, 200], [200, 200]]
    client.new_instance(repo, "uint8blk", "em", BlockSize="32,32,32")
    client.new_instance(repo, "uint8blk", "em_1", BlockSize="32,32,32")
    em = client.volume(repo, "em")
    assert em.scales() == [0, 1]
    low = client.volume(repo, "em", scale=1)
    assert low.name == "em_1" and low.scale == 1
    with pytest.raises(DVIDError, match="no pyramid level 2 of em: instance em_2 does not exist"):
        client.volume(repo, "em", scale=2)
    client.new_instance(repo, "roi", "r")
    with pytest.raises(UnsupportedVolume, match="roi is not an image type"):
        client.volume(repo, "r")
    with pytest.raises(IndexError, match="steps are not supported"):
        em[0:10:2]
    with pytest.raises(ValueError, match="do not fit a uint8 volume"):
        em[0:2, 0:2, 0:2] = 300
    with pytest.raises(ValueError, match=r"cannot write an array of shape \(3,\) into a box of shape \(2, 2, 2\)"):
        em[0:2, 0:2, 0:2] = np.arange(3)
    client.commit(repo, "done")
    with pytest.raises(DVIDError) as e:
        em[0:2, 0:2, 0:2] = 1
    assert e.value.status == 400 and "locked" in e.value.message
    with pytest.raises(DVIDConnectionError, match="cannot reach the DVID server at http://127.0.0.1:1: "):
        DVIDClient("127.0.0.1:1").repos_info()


def test_put_remote_and_load_give_the_same_extents(server, repo, tmp_path):
    c = DVIDClient(server.url)
    stack = np.random.default_rng(2).integers(0, 256, (5, 30, 50), dtype=np.uint8)
    for i, im in enumerate(stack):
        Image.fromarray(im).save(tmp_path / f"s{i:03d}.png")
    for name in ("viaload", "viaput"):
        c.new_instance(repo, "uint8blk", name, BlockSize="32,32,32")
    assert server.cli("node", repo, "viaload", "load", "3,4,30", str(tmp_path / "s*.png")).returncode == 0
    res = server.cli(f"--http={server.url}", "node", repo, "viaput", "put", "remote", "xy", "3,4,30",
                     str(tmp_path / "s*.png"))
    assert res.returncode == 0, res.stderr
    ext = [c.info(repo, n)["Extended"] for n in ("viaload", "viaput")]
    assert [e["MinPoint"] for e in ext] == [[3, 4, 30]] * 2 and [e["MaxPoint"] for e in ext] == [[52, 33, 34]] * 2
    assert np.array_equal(c.volume(repo, "viaput")[30:35, 4:34, 3:53], stack)
    # the other planes put the image's axes where the server-side put local does
    c.new_instance(repo, "uint8blk", "yz", BlockSize="32,32,32")
    res = server.cli(f"--http={server.url}", "node", repo, "yz", "put", "remote", "yz", "7,0,0", str(tmp_path / "s*.png"))
    assert res.returncode == 0, res.stderr
    got = c.volume(repo, "yz")[0:30, 0:50, 7:12]  # image height along z, width along y, one x per file
    assert np.array_equal(np.moveaxis(got, 2, 0), stack)

