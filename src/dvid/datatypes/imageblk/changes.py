"""Change records: which blocks a version wrote since its scale pyramid was last brought up to date.

Every batch that writes blocks of an image instance also stores one small record, in the same
atomic batch: a key of its own class with a unique id, holding the coordinates of the batch's
blocks. A pyramid update reads the records visible at its version *before* it reads any voxels
(so every block a record names is already stored), recomputes what they touch, then consumes
them: its own version's records are removed, an ancestor's are hidden by a tombstone at this
version, so the ancestor (usually committed) keeps them while this version and its descendants
treat them as done. "Since the last run" is therefore exact, across worker processes and
restarts, with no timestamps: a record exists exactly as long as its change is unprocessed.

A record costs 12 bytes per written block plus one key per batch (256³ POST of 64³ blocks: 64
blocks, one 800-byte record), against 16 MiB of voxels.
"""

from __future__ import annotations

import itertools
import os
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dvid.datastore import keys
from dvid.datastore.view import VersionedView

CHANGE_CLASS = 0x30
_LO, _HI = keys.tkey(CHANGE_CLASS), keys.tkey(CHANGE_CLASS + 1)
_ID = struct.Struct(">QII")  # wall-clock ns, process id, per-process counter: unique, roughly ordered
_COUNTER = itertools.count()


def record(block_tkeys: Iterable[bytes]) -> tuple[bytes, bytes]:
    """The ``(tkey, value)`` of one change record naming the blocks of ``block_tkeys``."""
    payload = b"".join(tk[2:14] for tk in block_tkeys)  # the 12 z,y,x bytes of each block key
    tk = keys.tkey(CHANGE_CLASS, _ID.pack(time.time_ns(), os.getpid() & 0xFFFFFFFF, next(_COUNTER) & 0xFFFFFFFF))
    return tk, payload


def coords_of(payload: bytes | memoryview) -> np.ndarray:
    """Block coordinates ``[n, 3]`` (x, y, z) named by a record's value."""
    zyx = np.frombuffer(payload, ">u4").reshape(-1, 3).astype(np.int64) - keys.COORD_BIAS
    return zyx[:, ::-1]


@dataclass(frozen=True)
class Change:
    tkey: bytes
    version: int  # the version that wrote it
    coords: np.ndarray  # [n, 3] x, y, z


def pending(view: VersionedView) -> list[Change]:
    """The change records visible at the view's version: written here or by an ancestor and not
    yet consumed here or by an ancestor in between."""
    values: dict[bytes, tuple[int, bytes]] = {}
    hidden: set[bytes] = set()
    for tk, version, tomb, val in view.entries(_LO, _HI):
        if tomb:
            hidden.add(tk)
        else:
            values[tk] = (version, bytes(val))
    return [Change(tk, v, coords_of(val)) for tk, (v, val) in values.items() if tk not in hidden]


def count_pending(view: VersionedView) -> tuple[int, int]:
    """(records, blocks) pending at the view's version, without decoding coordinates."""
    live: dict[bytes, int] = {}
    hidden: set[bytes] = set()
    for tk, _, tomb, val in view.entries(_LO, _HI):
        if tomb:
            hidden.add(tk)
        else:
            live[tk] = len(val) // 12
    n = [b for tk, b in live.items() if tk not in hidden]
    return len(n), sum(n)


def split(view: VersionedView, changes: Iterable[Change]) -> tuple[list[bytes], list[bytes]]:
    """(own, inherited) record keys: the view's version forgets its own, hides inherited ones."""
    own, inherited = [], []
    for c in changes:
        (own if c.version == view.version else inherited).append(c.tkey)
    return own, inherited


def consume(view: VersionedView, changes: Iterable[Change]) -> None:
    """Mark ``changes`` processed at the view's version (see the module docstring)."""
    own, inherited = split(view, changes)
    if own:
        view.forget(own)
    if inherited:
        view.write(deletes=inherited)


def clear(view: VersionedView) -> None:
    """Drop every record visible here (for instances whose writes nobody downsamples: levels)."""
    consume(view, pending(view))
