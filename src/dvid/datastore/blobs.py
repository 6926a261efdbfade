"""Content-addressed blobs (the generic ``blobstore`` keyword): FNV-1 128-bit hash references."""

from __future__ import annotations

import base64

_FNV128_OFFSET = 0x6C62272E07BB014262B821756295C58D
_FNV128_PRIME = 0x0000000001000000000000000000013B
_MASK = (1 << 128) - 1


def fnv1_128(data: bytes) -> bytes:
    """FNV-1 (multiply, then xor), as Go's hash/fnv New128."""
    h = _FNV128_OFFSET
    for b in memoryview(data).cast("B"):
        h = ((h * _FNV128_PRIME) & _MASK) ^ b
    return h.to_bytes(16, "big")


def blob_ref(h: bytes) -> str:
    return base64.urlsafe_b64encode(h).decode()


def ref_hash(ref: str) -> bytes | None:
    try:
        h = base64.urlsafe_b64decode(ref.encode())
    except (ValueError, TypeError):
        return None
    return h if len(h) == 16 else None
