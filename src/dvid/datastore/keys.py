"""DVID's storage key layout (core.md §5.2).

Data key: ``0x01 | InstanceID (4B BE) | TKey | VersionID (4B BE) | ClientID (4B BE, 0) | marker``
with marker 0x03 for a value and 0x4F for a tombstone. Because the version follows the type-key,
every version of one TKey is adjacent, so one ordered scan sees them all.

Metadata keys (prefix 0x00) hold the repo/DAG/instance metadata and the job records; every name in
that key space is defined here.
"""

from __future__ import annotations

import struct

METADATA_PREFIX = b"\x00"
DATA_PREFIX = b"\x01"
BLOB_PREFIX = b"\x02"

MARKER_VALUE = 0x03
MARKER_TOMBSTONE = 0x4F
#: bytes after the TKey in a data key: version (4) + client (4) + marker (1)
SUFFIX_LEN = 9
#: where the version and the marker sit in a data key, counted from its end. Hot loops slice with
#: these (``key[KEY_VERSION]``, ``key[KEY_MARKER]``) instead of calling ``split_data_key`` per key.
KEY_VERSION = slice(-SUFFIX_LEN, -SUFFIX_LEN + 4)
KEY_MARKER = -1
#: a type-key starts with its class byte and 0x01
TKEY_HEADER_LEN = 2

_U32 = struct.Struct(">I")
_SUFFIX = struct.Struct(">IIB")


def tkey(klass: int, payload: bytes = b"") -> bytes:
    """A type-specific key: ``[class][0x01][payload]``."""
    return bytes((klass, 0x01)) + payload


def instance_prefix(instance_id: int) -> bytes:
    return DATA_PREFIX + _U32.pack(instance_id)


def instance_range(instance_id: int) -> tuple[bytes, bytes]:
    """Half-open key range holding every key of one instance in every version."""
    return instance_prefix(instance_id), instance_prefix(instance_id + 1)


def data_key(instance_id: int, tk: bytes, version: int, tombstone: bool = False) -> bytes:
    return (
        DATA_PREFIX
        + _U32.pack(instance_id)
        + tk
        + _SUFFIX.pack(version, 0, MARKER_TOMBSTONE if tombstone else MARKER_VALUE)
    )


def split_data_key(key: bytes, prefix_len: int = 5) -> tuple[bytes, int, bool]:
    """``(tkey, version, is_tombstone)`` of a data key."""
    version, _client, marker = _SUFFIX.unpack_from(key, len(key) - SUFFIX_LEN)
    return key[prefix_len : len(key) - SUFFIX_LEN], version, marker == MARKER_TOMBSTONE


#: the whole type-key space of one instance, as a half-open ``scan`` range of a view
ALL_TKEYS: tuple[bytes, bytes] = (b"", b"\xff" * 32)


def metadata_key(tk: bytes) -> bytes:
    return METADATA_PREFIX + tk


#: format 1 metadata: ONE JSON document holding every repo (read once, to migrate an old store)
LEGACY_META_KEY = metadata_key(b"\x00meta")
#: where a migrated format-1 document is kept, untouched, in case it is ever wanted again
LEGACY_META_BACKUP_KEY = metadata_key(b"\x00meta-format1")
#: format 2: the generation record, read at every request (``dvid.datastore.records``)
META_ROOT_KEY = metadata_key(b"\x00md")
_META_RECORD = metadata_key(b"\x00md/")


def meta_record_key(epoch: str, name: str) -> bytes:
    """One metadata record (a repo head, repo log, instance or DAG node) of metadata ``epoch``."""
    return _META_RECORD + f"{epoch}/{name}".encode()


def meta_record_range(epoch: str, prefix: str) -> tuple[bytes, bytes]:
    """Half-open key range of the records whose names start with ``prefix`` (names are ASCII)."""
    lo = meta_record_key(epoch, prefix)
    return lo, lo + b"\xff"


_JOB_PREFIX = b"\x00job:"


def job_key(job_id: str) -> bytes:
    """The record of one long-running command (``dvid.datastore.jobs``)."""
    return metadata_key(_JOB_PREFIX + job_id.encode())


def lease_key(name: str) -> bytes:
    """A named lease (``dvid.datastore.lease``)."""
    return metadata_key(b"lease:" + name.encode())


def job_range() -> tuple[bytes, bytes]:
    """Half-open key range holding every job record."""
    return metadata_key(_JOB_PREFIX), metadata_key(_JOB_PREFIX[:-1] + bytes([_JOB_PREFIX[-1] + 1]))


def blob_key(ref_hash: bytes) -> bytes:
    return BLOB_PREFIX + ref_hash


_BIAS = COORD_BIAS = 0x80000000  # block coordinates are stored XOR this, so bytes sort as signed ints


def zyx_bytes(x: int, y: int, z: int) -> bytes:
    """Block index bytes: z, y, x as big-endian uint32 of ``coord XOR 0x80000000`` so byte order is
    signed numeric (z, y, x) order."""
    return struct.pack(">III", (z + _BIAS) & 0xFFFFFFFF, (y + _BIAS) & 0xFFFFFFFF, (x + _BIAS) & 0xFFFFFFFF)


#: the x coordinate's bytes in a type-key whose payload is ``zyx_bytes`` (an image block's key)
ZYX_TKEY_X = slice(TKEY_HEADER_LEN + 8, TKEY_HEADER_LEN + 12)


def zyx_tkey_x(tk: bytes) -> int:
    """The x of a type-key whose payload is ``zyx_bytes``, read straight from its bytes."""
    return int.from_bytes(tk[ZYX_TKEY_X], "big") - _BIAS


def zyx_from_bytes(b: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Inverse of ``zyx_bytes``: returns ``(x, y, z)``."""
    z, y, x = struct.unpack_from(">III", b, offset)
    return x - _BIAS, y - _BIAS, z - _BIAS
