"""glibc allocator settings for a server that handles many requests of tens of MiB.

With glibc's defaults a freed 16 MiB answer goes back to the kernel (mmap threshold, heap trim),
so the next request page-faults all of it in again; on our VMs a page fault costs microseconds and
a 256³ POST spent ~20 ms of ~120 ms on it (perf measurements in docs/performance.md). Keeping freed
memory in the process up to a bound removes that cost; RSS stays near the peak of recent requests.
Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("dvid.server")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False if not on glibc."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not ok:
        log.info("mallopt refused the allocator settings; using the defaults")
    return ok
