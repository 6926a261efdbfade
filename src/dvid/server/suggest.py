"""Closest-name suggestions for typos in config keys and instance settings."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable

from dvid.datatypes import registry
from dvid.datatypes.base import GENERIC_SETTINGS, DataType

log = logging.getLogger("dvid.server")


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a typo most likely meant (case-insensitive), or None."""
    lowered = {c.lower(): c for c in candidates}
    hit = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


def ignored_settings(dt: DataType, keys: Iterable[str]) -> str:
    """A note naming the creation settings ``dt`` does not know (DVID accepts and ignores them, and
    so do we, since clients send extras), each with the closest known name; "" when all are known."""
    known = GENERIC_SETTINGS + dt.settings
    low = {k.lower() for k in known}
    notes = []
    for key in keys:
        if key.lower() in low:
            continue
        guess = closest(key, known)
        notes.append(f"{key} (did you mean {guess}?)" if guess else key)
    if not notes:
        return ""
    return f"ignored unknown setting{'s' if len(notes) > 1 else ''} for {dt.name}: " + ", ".join(notes)


def instance_note(typename: str, name: str, uuid: str, keys: Iterable[str] | None) -> str:
    """``ignored_settings`` for a new instance, also written to the server log."""
    dt = registry.get(typename)
    if dt is None or not keys:
        return ""
    note = ignored_settings(dt, keys)
    if note:
        log.warning('new instance "%s" @ %s: %s', name, uuid, note)
    return note
