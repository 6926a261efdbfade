"""Request-body JSON as DVID reads it: keys lower-cased, clear 400s for malformed input."""

from __future__ import annotations

import json
from typing import Any

from dvid.errors import BadRequest


def parse_json(body: bytes | bytearray | memoryview, *, required: bool = False) -> Any:
    raw = bytes(body)
    if not raw.strip():
        if required:
            raise BadRequest("Malformed JSON request in body: unexpected end of JSON input")
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"Malformed JSON request in body: {str(e).splitlines()[0]}") from None


def config_object(body: bytes | bytearray | memoryview, *, required: bool = False) -> dict[str, Any]:
    """A JSON object with case-insensitive (lower-cased) top-level keys; empty body -> {}."""
    doc = parse_json(body, required=required)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise BadRequest("Malformed JSON request in body: expected a JSON object")
    return {str(k).lower(): v for k, v in doc.items()}


def opt_string(cfg: dict[str, Any], key: str, message: str) -> str | None:
    if key not in cfg or cfg[key] is None:
        return None
    v = cfg[key]
    if not isinstance(v, str):
        raise BadRequest(f"{message}: {v!r} is not a string")
    return v


def dumps(obj: Any) -> bytes:
    """Go's json.Marshal shape: no spaces, non-ASCII kept."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
