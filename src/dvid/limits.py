"""Every bound on the work one request may ask for, with the defaults a lab would accept.

Each limit is a ``[server]`` key of the configuration (named in ``CONFIG_KEYS``); a request past a
limit is refused with a 400 whose message names the limit and the key that raises it, before any
work starts (``refuse``). ``docs/reliability.md`` lists them with the tests that prove each one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from dvid.errors import BadRequest

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Limits:
    #: bytes of a request body, and of a voxel answer (raw, blocks, masks): DVID's MaxDataRequest
    max_request_bytes: int = 3 << 30
    #: pixels of a 2-D answer (xy/xz/yz slices, isotropic, arb)
    max_image_pixels: int = 1 << 28
    #: bytes of a JSON request body (ROI span lists of whole brains reach ~100 MB)
    max_json_bytes: int = 256 << 20
    #: bytes of the request line plus headers (Go's net/http default, which DVID uses)
    max_header_bytes: int = 1 << 20
    #: distinct query-string parameters in one URL
    max_query_params: int = 100
    #: blocks named by one request (specificblocks list, blocks span)
    max_request_blocks: int = 100_000
    #: subvolumes one ROI partition answer may hold
    max_partition_subvolumes: int = 1_000_000
    #: the largest throttle setting (concurrent throttled operations)
    max_throttle: int = 256
    #: seconds a request may run, sending its answer included, before it is stopped (DVID has no
    #: such limit); a client that stops reading an answer is dropped then
    request_timeout: float = 600.0
    #: seconds a client has to send the request line and headers
    header_timeout: float = 60.0
    #: seconds a client has to send a whole request body (DVID's 600 s HTTP read timeout)
    read_timeout: float = 600.0


#: limit field -> its ``[server]`` key in DVID's camelCase style
CONFIG_KEYS: dict[str, str] = {
    "max_request_bytes": "maxRequestBytes",
    "max_image_pixels": "maxImagePixels",
    "max_json_bytes": "maxJSONBytes",
    "max_header_bytes": "maxHeaderBytes",
    "max_query_params": "maxQueryParams",
    "max_request_blocks": "maxRequestBlocks",
    "max_partition_subvolumes": "maxPartitionSubvolumes",
    "max_throttle": "maxThrottle",
    "request_timeout": "requestTimeout",
    "header_timeout": "headerTimeout",
    "read_timeout": "readTimeout",
}
assert set(CONFIG_KEYS) == {f.name for f in fields(Limits)}

DEFAULT = Limits()


def refuse(what: str, amount: int | float, field: str, limit: int | float, unit: str = "") -> BadRequest:
    """The 400 for a request past a limit: says what, how much, the limit and how to raise it,
    e.g. ``request body of 5000 bytes exceeds the server limit of 4096 bytes (raise [server]
    maxRequestBytes to allow it)``."""
    return BadRequest(f"{what} of {amount}{unit} exceeds the server limit of {limit}{unit} "
                      f"(raise [server] {CONFIG_KEYS[field]} to allow it)")
