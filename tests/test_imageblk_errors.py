"""imageblk bad input over HTTP: each endpoint answers 400 with DVID's one-line message (imageblk.md §1,
§8.3 items 6-9, 15-16) and a rejected write leaves the stored voxels untouched."""

import numpy as np
import pytest
import requests

from helpers import get_raw, new_instance, post_raw

BAD_GETS = [
    ("raw/xy/64_64/0_0_0/JPG", "Illegal image format requested: JPG"),
    ("raw/xy/64_64/0_0_0/png:x", "Illegal image format requested: png:x"),
    ("raw/0_1_2/64_64_64/0_0_0?roi=r&attenuation=9", "Attenuation should be from 1 to 7"),
    ("raw/0_1_2/64_64_64/0_0_0?roi=r&attenuation=x", 'strconv.Atoi: parsing "x": invalid syntax'),
    ("raw/0_1_2/64_64_64/0_0_0?roi=nope", 'Can\'t get ROI with name "nope"'),
    ("raw/0_1_2/64_64_64/0_0_0?roi=g", 'Data name "g" was not of roi data type'),
    ("raw/0_1_2/0_64_64/0_0_0", "Illegal geometry requested"),
    ("raw/0_1_2/64_64/0_0_0", "Size must be 3 (not 2) dimensions"),
    ("raw/xyz/64_64_64/0_0_0", "Unknown data shape specification (xyz)"),
    ("raw/0_1_2/4096_4096_4096/0_0_0", "exceeds the server limit of 3221225472 bytes (raise [server] maxRequestBytes"),
    ("specificblocks?blocks=0,0,0,1", "block query string should be three coordinates per block"),
    ("subvolblocks", '"subvolblocks" must be followed by size/offset'),
    ("subvolblocks/64_64_64/0_0_0?compression=gzip", "don't understand 'compression' query string value: gzip"),
    ("subvolblocks/64_64_64/0_0_0?compression=jpeg", "not stored as JPEG"),
    ("arb/0_0_0/1_0_0/0_1_0/0", "Bad arbitrary image size requested"),
    ("blocks/0_0_0/x", 'strconv.Atoi: parsing "x": invalid syntax'),
]


@pytest.fixture
def filled(server, repo):
    """A uint8blk instance "g" holding one random 64³ block, and an empty roi "r"."""
    base = new_instance(server, repo, "g")
    new_instance(server, repo, "r", typename="roi")
    vol = np.random.default_rng(3).integers(0, 256, (64, 64, 64), dtype=np.uint8)
    assert post_raw(base, vol, (0, 0, 0)).status_code == 200
    return base, vol


@pytest.mark.parametrize("path,message", BAD_GETS)
def test_bad_get_is_400_with_dvid_message(filled, path, message):
    base, _ = filled
    r = requests.get(f"{base}/{path}", timeout=30)
    assert r.status_code == 400
    text = r.text.strip()
    assert message in text
    assert text.endswith(").") and "\n" not in text


def test_verbs_and_formats(filled):
    base, _ = filled
    r = requests.post(f"{base}/info", timeout=30)
    assert r.status_code == 400 and "info endpoint only supports GET" in r.text
    assert requests.delete(f"{base}/info", timeout=30).status_code == 400
    assert requests.get(f"{base}/raw/0_1_2/64_64_64/0_0_0/jpg:90", timeout=30).headers["Content-Type"] \
        == "application/octet-stream"
    assert requests.get(f"{base}/raw/0_1_2/64_64_64/0_0_0/jpg", timeout=30).headers["Content-Type"] == "image/jpeg"
    meta = requests.get(f"{base}/metadata", timeout=30)
    assert meta.headers["Content-Type"] == "application/vnd.dvid-nd-data+json"
    assert meta.content.endswith(b"\n")
    for q in ("specificblocks", "specificblocks?blocks=0,0,0&prefetch=true"):
        r = requests.get(f"{base}/{q}", timeout=30)
        assert r.status_code == 200 and r.content == b""


def test_rejected_writes_leave_voxels(filled):
    base, vol = filled
    other = np.full((64, 64, 64), 9, np.uint8)
    assert post_raw(base, other, (0, 0, 0), "?roi=nope").status_code == 400
    assert post_raw(base, other, (0, 0, 0), "?roi=r&attenuation=9").status_code == 400
    assert post_raw(base, other[:, :, :63].copy(), (0, 0, 0)).status_code == 400
    assert requests.post(f"{base}/raw/0_1_2/64_64_64/0_0_0", data=other.tobytes()[:-1], timeout=30).status_code == 400
    assert requests.post(f"{base}/blocks/0_0_0/1", data=other.tobytes()[:100], timeout=30).status_code == 400
    assert np.array_equal(get_raw(base, (64, 64, 64), (0, 0, 0)), vol)
