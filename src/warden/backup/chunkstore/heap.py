"""Keep memory a backup has freed from staying resident in glibc's heap.

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB) and trims the heap
only when twice that is free at its top. After the first 16 MiB pack is freed, every later
allocation below 16 MiB comes from the heap and up to 32 MiB of freed memory stays resident, spread
over the arenas of the sealing and upload threads: a first backup of Debian's kernel tree peaked at
113-135 MiB of RSS for ~61 MiB of live data. Fixed thresholds (blocks from 1 MiB are mapped
separately and returned when freed; the heap is trimmed past 4 MiB free) brought the peak to
102-105 MiB at no measurable cost in time (bench/backup_vs_restic.py).

Setting them is process-wide, so it is done once, by the first backup of the process, and only on
glibc (elsewhere ``mallopt`` is absent and nothing changes).
"""

from __future__ import annotations

import ctypes
import threading

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1024 * 1024
TRIM_THRESHOLD = 4 * 1024 * 1024

_lock = threading.Lock()
_applied: bool | None = None


def bound_heap_retention() -> bool:
    """Fix glibc's mmap and trim thresholds (once per process); return whether they are set."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply() -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; setting either threshold also stops glibc adjusting it.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
