"""DVID's stored-value serialization (imageblk.md §3.3, core.md §5.2), byte-compatible.

``[format byte][optional LE CRC32 of payload][payload]`` with the format byte
``(compression & 7) << 5 | (checksum & 3) << 3``. Stored LZ4 payloads carry DVID's 4-byte
little-endian size prefix, so ``subvolblocks`` can send them exactly as DVID does.
"""

from __future__ import annotations

import gzip
import struct
import zlib

import cramjam
import lz4.block
import numpy as np
import simplejpeg

_CODES = {"none": 0, "snappy": 1, "gzip": 2, "lz4": 4, "jpeg": 5}
_NAMES = {v: k for k, v in _CODES.items()}
_CRC = struct.Struct("<I")
JPEG_QUALITY = 80
_LZ4_PLAIN = 4 << 5  # format byte of an lz4 value with no checksum
_PLAIN_FORMATS = frozenset(code << 5 for code in _CODES.values())  # format bytes without a checksum


class CodecError(Exception):
    """A stored value that cannot be decoded (corrupt, truncated, bad checksum)."""


def format_byte(compression: str, checksum: str) -> int:
    name = compression.split(":", 1)[0]  # the compression without its level (gzip:6 -> gzip)
    ck = 1 if checksum == "crc32" and name != "gzip" else 0
    return (_CODES[name] & 7) << 5 | (ck & 3) << 3


def _jpeg_encode(data: memoryview, width: int) -> bytes:
    n = len(data)
    if width <= 0 or n % width:
        raise CodecError(f"cannot JPEG-encode {n} bytes as an image of width {width}")
    img = np.frombuffer(data, np.uint8).reshape(n // width, width, 1)
    return simplejpeg.encode_jpeg(img, quality=JPEG_QUALITY, colorspace="GRAY", colorsubsampling="Gray")


def serialize(data: bytes | bytearray | memoryview, compression: str, checksum: str, *, block_width: int = 32) -> bytes:
    mv = memoryview(data).cast("B")
    if len(mv) == 0:
        return b""
    name = compression.split(":", 1)[0]
    if name == "lz4":
        payload = lz4.block.compress(mv, store_size=True)
    elif name == "none":
        payload = bytes(mv)
    elif name == "gzip":
        level = int(compression.split(":", 1)[1]) if ":" in compression else 6
        payload = gzip.compress(mv, compresslevel=level, mtime=0)
    elif name == "snappy":
        payload = bytes(cramjam.snappy.compress_raw(mv))
    elif name == "jpeg":
        payload = _jpeg_encode(mv, block_width)
    else:
        raise CodecError(f"unknown compression {compression!r}")
    head = bytes((format_byte(compression, checksum),))
    if checksum == "crc32" and name != "gzip":
        return head + _CRC.pack(zlib.crc32(payload)) + payload
    return head + payload


def lz4_value_bound(nbytes: int) -> int:
    """Largest stored lz4 value for ``nbytes`` of voxels: format byte, CRC, size prefix, LZ4 bound."""
    return 1 + 4 + 4 + nbytes + nbytes // 255 + 16


def serialize_lz4_into(data: np.ndarray | memoryview, checksum: str, out: memoryview) -> int:
    """Write the stored lz4 value of ``data`` into ``out`` (at least ``lz4_value_bound`` long) and
    return its length: one compression straight into the caller's buffer, no intermediate bytes
    (6.5 us per 32 KiB EM block against 10.3 us for compress-then-concatenate)."""
    start = 5 if checksum == "crc32" else 1
    n = cramjam.lz4.compress_block_into(data, out[start:], store_size=True)
    out[0] = format_byte("lz4", checksum)
    if start == 5:
        out[1:5] = _CRC.pack(zlib.crc32(out[5 : 5 + n]))
    return start + n


def _split(value: bytes | memoryview) -> tuple[str, memoryview]:
    mv = memoryview(value)
    if len(mv) == 0:
        raise CodecError("empty stored value")
    fb = mv[0]
    code = (fb >> 5) & 7
    if code not in _NAMES:
        raise CodecError(f"unknown compression code {code} in format byte 0x{fb:02x}")
    ck = (fb >> 3) & 3
    if ck == 1:
        if len(mv) < 5:
            raise CodecError("stored value too short for its CRC32")
        want = _CRC.unpack_from(mv, 1)[0]
        payload = mv[5:]
        if zlib.crc32(payload) != want:
            raise CodecError("CRC32 mismatch: stored block is corrupt")
        return _NAMES[code], payload
    return _NAMES[code], mv[1:]


def stored_format(value: bytes | memoryview) -> str:
    return _split(value)[0]


def stored_payload(value: bytes | memoryview) -> memoryview:
    """The payload as stored (what ``subvolblocks`` sends), checking the format and any CRC."""
    if len(value) and value[0] in _PLAIN_FORMATS:  # known format, no CRC: nothing to check
        return memoryview(value)[1:]
    return _split(value)[1]


def deserialize(value: bytes | memoryview) -> bytes:
    if len(value) == 0:
        return b""
    compression, payload = _split(value)
    try:
        if compression == "lz4":
            return lz4.block.decompress(payload)
        if compression == "none":
            return bytes(payload)
        if compression == "gzip":
            return gzip.decompress(payload)
        if compression == "snappy":
            return bytes(cramjam.snappy.decompress_raw(payload))
        img = simplejpeg.decode_jpeg(bytes(payload), colorspace="GRAY")
        return img.tobytes()
    except (lz4.block.LZ4BlockError, OSError, EOFError, ValueError, cramjam.DecompressionError) as e:
        raise CodecError(f"cannot decode {compression} block: {e}") from e


def deserialize_into(value: bytes | memoryview, out: memoryview | bytearray | np.ndarray) -> None:
    """Decode into ``out`` (exactly the decoded size), avoiding an intermediate copy where possible."""
    if value[0] == _LZ4_PLAIN and len(value) >= 5:  # the common case, without _split's overhead
        size = len(out) if isinstance(out, bytearray) else out.nbytes
        if int.from_bytes(value[1:5], "little") != size:
            raise CodecError(f"lz4 block decodes to {int.from_bytes(value[1:5], 'little')} bytes, "
                             f"expected {size}")
        # cramjam decodes straight into out with ~0.3 us of call overhead: 1.9 us for a 32 KiB EM
        # block against 7.6 us through imagecodecs (whose per-call overhead is ~5.6 us).
        try:
            got = cramjam.lz4.decompress_block_into(memoryview(value)[5:], out, output_len=size)
        except (cramjam.DecompressionError, ValueError, TypeError, BufferError) as e:
            raise CodecError(f"cannot decode lz4 block: {e}") from e
        if got != size:
            raise CodecError(f"lz4 block decodes to {got} bytes, expected {size}")
        return
    dst = memoryview(out).cast("B")
    compression, payload = _split(value)
    try:
        if compression == "lz4":
            n = struct.unpack_from("<I", payload, 0)[0]
            if n != len(dst):
                raise CodecError(f"block decodes to {n} bytes, expected {len(dst)}")
            got = cramjam.lz4.decompress_block_into(payload[4:], dst, output_len=n)
            if got != n:
                raise CodecError(f"lz4 block decodes to {got} bytes, expected {n}")
            return
        if compression == "none":
            if len(payload) != len(dst):
                raise CodecError(f"raw block of {len(payload)} bytes, expected {len(dst)}")
            dst[:] = payload
            return
        if compression == "snappy":
            got = cramjam.snappy.decompress_raw(payload)
        elif compression == "gzip":
            got = gzip.decompress(payload)
        else:
            got = simplejpeg.decode_jpeg(bytes(payload), colorspace="GRAY")
        mv = memoryview(got).cast("B")
        if len(mv) != len(dst):
            raise CodecError(f"block decodes to {len(mv)} bytes, expected {len(dst)}")
        dst[:] = mv
    except (lz4.block.LZ4BlockError, OSError, EOFError, ValueError, struct.error, RuntimeError, BufferError,
            cramjam.DecompressionError) as e:
        raise CodecError(f"cannot decode {compression} block: {e}") from e
