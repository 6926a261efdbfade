"""Parsing of the generic instance settings every datatype shares (core.md §1.3 step 6)."""

from __future__ import annotations

from typing import Any

from dvid.errors import BadRequest

_COMPRESSIONS = ("none", "snappy", "lz4", "gzip", "jpeg")


def string_setting(settings: dict[str, Any], key: str, label: str | None = None) -> str | None:
    """A setting that must be a JSON string (DVID's Config.GetString)."""
    if key not in settings or settings[key] is None:
        return None
    v = settings[key]
    if not isinstance(v, str):
        raise BadRequest(f"Setting for '{label or key}' was not a string: {v}")
    return v


def parse_compression(settings: dict[str, Any]) -> str:
    v = string_setting(settings, "compression", "Compression")
    if v is None or v == "":
        return "lz4"
    s = v.lower()
    if s in _COMPRESSIONS:
        return s
    if s.startswith("gzip:"):
        try:
            level = int(s[5:])
        except ValueError:
            raise BadRequest(f"Illegal compression specified: {v}") from None
        if 1 <= level <= 9:
            return f"gzip:{level}"
        return "none"  # DVID quirk Q15: gzip:0 / gzip:10 silently mean no compression
    raise BadRequest(f"Illegal compression specified: {v}")


def parse_checksum(settings: dict[str, Any]) -> str:
    v = string_setting(settings, "checksum", "Checksum")
    if v is None or v == "":
        return "none"
    s = v.lower()
    if s not in ("none", "crc32"):
        raise BadRequest(f"Illegal checksum specified: {v}")
    return s


def parse_versioned(settings: dict[str, Any]) -> bool:
    if "versioned" not in settings or settings["versioned"] is None:
        return True
    v = settings["versioned"]
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
        raise BadRequest(f"Illegal setting for 'versioned' (needs to be 'false', '0', 'true', or '1'): {v}")
    raise BadRequest(f"Setting for 'versioned' was not a string: {v}")


def parse_tags(text: str | None) -> dict[str, str] | None:
    """``"k=v,k2=v2"``; malformed pairs are ignored as in DVID."""
    if not text:
        return None
    tags: dict[str, str] = {}
    for pair in text.split(","):
        kv = pair.split("=")
        if len(kv) == 2 and kv[0].strip():
            tags[kv[0].strip()] = kv[1].strip()
    return tags or None
