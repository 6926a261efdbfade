"""Request-body JSON as DVID reads it: bounded in size and depth, clear 400s for malformed input.

Shared by the server (repos, nodes, settings) and the datatypes (extents, resolution, ROI spans,
point queries), so every JSON body in the API is parsed under the same limits.
"""

from __future__ import annotations

import json
from typing import Any

from dvid.errors import BadRequest
from dvid.limits import DEFAULT, refuse


def load(body: bytes | bytearray | memoryview, *, limit: int = DEFAULT.max_json_bytes,
         what: str = "Malformed JSON request in body") -> Any:
    """Parse ``body``; None for an empty body. ``what`` prefixes parse errors (DVID's texts; ""
    for none).

    Depth is bounded by the parser itself: nesting past Python's recursion limit (about a
    thousand levels) is refused instead of failing as an internal error.
    """
    n = body.nbytes if isinstance(body, memoryview) else len(body)
    if n > limit:
        raise refuse("JSON body", n, "max_json_bytes", limit, " bytes")
    raw = bytes(body)
    if not raw.strip():
        return None
    prefix = f"{what}: " if what else ""
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadRequest(f"{prefix}JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"{prefix}{str(e).splitlines()[0]}") from None


def parse_json(body: bytes | bytearray | memoryview, *, required: bool = False,
               limit: int = DEFAULT.max_json_bytes) -> Any:
    doc = load(body, limit=limit)
    if doc is None and required:
        raise BadRequest("Malformed JSON request in body: unexpected end of JSON input")
    return doc


def config_object(body: bytes | bytearray | memoryview, *, required: bool = False,
                  limit: int = DEFAULT.max_json_bytes) -> dict[str, Any]:
    """A JSON object with case-insensitive (lower-cased) top-level keys; empty body -> {}."""
    doc = parse_json(body, required=required, limit=limit)
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
