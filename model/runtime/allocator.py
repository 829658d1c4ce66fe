"""The C allocator tuned for many short-lived image buffers of a few hundred KB.

glibc serves allocations above its mmap threshold (128 KB at start) with fresh pages
from the kernel and returns them on free, so every decoded canvas (313 KB of RGBA), its
float copies and the unfiltered rows page-fault again on each request: measured here,
that was ~45 % of the CPU time of preprocessing a canvas PNG (2.0 -> 1.1 ms per image).
Raising the thresholds keeps such buffers in the heap and reuses them; the heap keeps up
to TRIM_BYTES of free memory instead of returning it at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: Allocations below this come from the heap, not from mmap (a 1024x1024 RGBA display
#: copy is 4 MB; a 48 MP photo's buffers stay above it and are returned at once).
MMAP_THRESHOLD_BYTES = 16 << 20
#: Free heap memory kept before it is returned to the system (8 MB measured as fast as
#: 64 MB for a canvas; an mmap threshold of 1 MB was not enough: 1.46 against 0.92 ms).
TRIM_BYTES = 8 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

_tuned = False


def tune_allocator() -> bool:
    """Apply the thresholds once per process (glibc only); True if they are in force."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: nothing to tune
        return False
    _tuned = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES)
    )
    return _tuned
