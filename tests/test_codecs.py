"""Block serialization byte-compatibility, image encoders/decoders and the box resampler."""

import io

import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dvid.codecs import block as B
from dvid.codecs.images import box_scale, decode_image, encode_image
from dvid.errors import BadRequest

LOSSLESS = ["none", "lz4", "gzip", "gzip:1", "gzip:9", "snappy"]


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=5000), comp=st.sampled_from(LOSSLESS),
       ck=st.sampled_from(["none", "crc32"]))
def test_lossless_round_trip(data, comp, ck):
    v = B.serialize(data, comp, ck)
    assert B.deserialize(v) == data
    out = bytearray(len(data))
    B.deserialize_into(v, out)
    assert bytes(out) == data
    assert B.stored_format(v) == comp.split(":")[0]


def test_format_bytes_and_payloads():
    data = bytes(range(256)) * 128
    expect = {("lz4", "none"): 0x80, ("none", "none"): 0x00, ("jpeg", "none"): 0xA0, ("gzip", "none"): 0x40,
              ("snappy", "none"): 0x20, ("lz4", "crc32"): 0x88, ("gzip", "crc32"): 0x40}
    for (c, k), fb in expect.items():
        assert B.serialize(data, c, k)[0] == fb, (c, k)
    v = B.serialize(data, "lz4", "crc32")
    assert bytes(B.stored_payload(v)) == lz4.block.compress(data, store_size=True)
    assert B.serialize(b"", "lz4", "none") == b""


def test_jpeg_block_is_gray_bx_by_bybz():
    data = np.random.default_rng(0).integers(100, 140, 32 * 32 * 32, dtype=np.uint8).tobytes()
    v = B.serialize(data, "jpeg", "none", block_width=32)
    im = Image.open(io.BytesIO(bytes(B.stored_payload(v))))
    assert im.size == (32, 1024) and im.mode == "L"
    got = np.frombuffer(B.deserialize(v), np.uint8).astype(int)
    assert np.abs(got - np.frombuffer(data, np.uint8)).mean() < 12


@pytest.mark.parametrize("bad", [b"\x80\x05\x00", b"\x88\x00\x00\x00\x00abc", b"\xe0abc", b"\x40notgzip"])
def test_corrupt_values_raise(bad):
    with pytest.raises(B.CodecError):
        B.deserialize(bad)


def test_crc_mismatch_detected():
    v = bytearray(B.serialize(b"hello" * 100, "lz4", "crc32"))
    v[-1] ^= 0xFF
    with pytest.raises(B.CodecError, match="CRC32"):
        B.deserialize(bytes(v))


def test_image_formats():
    g = np.random.default_rng(1).integers(0, 255, (40, 50), dtype=np.uint8)
    for fmt, ct in [("png", "image/png"), ("", "image/png"), ("tif", "image/tiff"), ("bmp", "image/bmp")]:
        data, got_ct = encode_image(g, fmt)
        assert got_ct == ct and np.array_equal(decode_image(data), g)
    data, ct = encode_image(g, "jpg:75")
    assert ct == "image/jpeg" and decode_image(data).shape == (40, 50)
    assert Image.open(io.BytesIO(encode_image(g, "png")[0])).mode == "L"
    for bad in ("JPG", "png:x", "gif", "jpg:"):
        with pytest.raises(BadRequest):
            encode_image(g, bad)
    rgba = np.full((8, 8, 4), 200, np.uint8)
    rgba[..., 3] = 255
    assert Image.open(io.BytesIO(encode_image(rgba, "png")[0])).mode == "RGB"
    rgba[0, 0, 3] = 10
    im = Image.open(io.BytesIO(encode_image(rgba, "png")[0]))
    assert im.mode == "RGBA" and np.array_equal(np.asarray(im), rgba)
    with pytest.raises(BadRequest):
        decode_image(b"not an image at all")


def _box_reference(img, w, h):
    sh, sw = img.shape
    big = img[np.arange(h * sh) // h][:, np.arange(w * sw) // w].astype(np.uint64)
    return (big.reshape(h, sh, w, sw).sum(axis=(1, 3)) // (sw * sh)).astype(img.dtype)


@settings(max_examples=40, deadline=None)
@given(sh=st.integers(1, 12), sw=st.integers(1, 12), h=st.integers(1, 20), w=st.integers(1, 20),
       seed=st.integers(0, 1000))
def test_box_scale_matches_definition(sh, sw, h, w, seed):
    img = np.random.default_rng(seed).integers(0, 256, (sh, sw), dtype=np.uint8)
    assert np.array_equal(box_scale(img, w, h), _box_reference(img, w, h))


def test_deserialize_into_rejects_truncated_lz4():
    data = np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    v = B.serialize(data, "lz4", "none")
    out = np.zeros(4096, np.uint8)
    B.deserialize_into(v, out)
    assert out.tobytes() == data
    with pytest.raises(B.CodecError):
        B.deserialize_into(v[:-10], out)
    with pytest.raises(B.CodecError):
        B.deserialize_into(v, np.zeros(100, np.uint8))


def test_rgba_jpeg_premultiplies_like_go():
    from dvid.codecs.images import _rgba_for_jpeg

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8)
    got = _rgba_for_jpeg(img)
    for y, x, c in np.ndindex(6, 7, 3):  # Go: r16 = R*0x101*A/0xff, then >> 8
        assert got[y, x, c] == ((int(img[y, x, c]) * 257 * int(img[y, x, 3])) // 255) >> 8
    full = img.copy()
    full[..., 3] = 255
    assert np.array_equal(_rgba_for_jpeg(full), full[..., :3])
    data, ct = encode_image(img, "jpg:100")
    assert ct == "image/jpeg" and decode_image(data).shape == (6, 7, 3)


@pytest.mark.parametrize("checksum", ["none", "crc32"])
def test_lz4_into_matches_serialize_and_round_trips(checksum):
    """The write path's compress-into-arena gives DVID's stored layout (any valid LZ4 encoding), and the
    read path's fast lz4 decode (with and without CRC) gives the voxels back."""
    rng = np.random.default_rng(5)
    for data in (rng.integers(0, 256, 32768, dtype=np.uint8), np.zeros(32768, np.uint8),
                 np.repeat(rng.integers(0, 256, 512, dtype=np.uint8), 64)):
        arena = memoryview(bytearray(B.lz4_value_bound(data.nbytes) + 7))
        n = B.serialize_lz4_into(data, checksum, arena[3:])
        ref = B.serialize(data, "lz4", checksum)
        got = bytes(arena[3 : 3 + n])
        head = 5 if checksum == "crc32" else 1
        assert got[:1] == ref[:1] and got[head : head + 4] == (32768).to_bytes(4, "little")
        assert lz4.block.decompress(got[head:]) == data.tobytes()  # what clients of subvolblocks run
        assert B.deserialize(got) == data.tobytes()
        out = np.empty(32768, np.uint8)
        B.deserialize_into(arena[3 : 3 + n], out)
        assert np.array_equal(out, data)
        with pytest.raises(B.CodecError):
            B.deserialize_into(arena[3 : 3 + n], np.empty(32767, np.uint8))


def test_stored_payload_checks_format_and_crc():
    """subvolblocks sends ``stored_payload``: the bytes after the format byte (and CRC), with unknown
    formats and bad checksums refused."""
    data = np.arange(4096, dtype=np.uint32).view(np.uint8)
    for comp in ("none", "lz4", "gzip", "snappy"):
        for ck in ("none", "crc32"):
            v = B.serialize(data, comp, ck)
            head = 5 if ck == "crc32" and comp != "gzip" else 1
            assert bytes(B.stored_payload(v)) == v[head:]
    with pytest.raises(B.CodecError):
        B.stored_payload(bytes([7 << 5]) + b"xyz")  # compression code 7 does not exist
    bad = bytearray(B.serialize(data, "lz4", "crc32"))
    bad[-1] ^= 0xFF
    with pytest.raises(B.CodecError):
        B.stored_payload(bytes(bad))
