"""Go-style timestamps: clients and tests compare against DVID's RFC3339 strings."""

from __future__ import annotations

import time
from datetime import datetime


def _offset(dt: datetime) -> str:
    off = dt.utcoffset()
    secs = int(off.total_seconds()) if off is not None else 0
    if secs == 0:
        return "Z"
    sign = "+" if secs > 0 else "-"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"


def rfc3339_nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in local time: fractional seconds with trailing zeros trimmed."""
    ns = time.time_ns() if ns is None else ns
    dt = datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + _offset(dt)


def rfc3339(ns: int | None = None) -> str:
    """Go's time.RFC3339 (whole seconds) in local time, used for log entry prefixes."""
    ns = time.time_ns() if ns is None else ns
    dt = datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _offset(dt)


def log_line(msg: str) -> str:
    return f"{rfc3339()}  {msg}"
