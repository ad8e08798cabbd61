"""This process's memory: traced by tracemalloc, handed out by malloc, resident; settle()
before each reading leaves only what is really in use."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import tracemalloc

_STATM = "/proc/self/statm"
_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None

GLIBC_LINUX = os.path.exists(_STATM) and hasattr(_LIBC, "malloc_trim") and hasattr(_LIBC, "mallinfo2")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


if GLIBC_LINUX:
    _LIBC.mallinfo2.restype = _MallInfo2

# CPython 3.11's type attribute cache keeps a reference to the last attribute name looked up
# in each of its 4096 slots, and numpy builds a new name string for each dtype.name
# ("_name_get"): without clearing the cache, up to 4096 such strings (240 KB) stay alive.
_clear_type_cache = getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache


def settle():
    """Free what is only waiting to be freed: cyclic garbage and the interpreter's free lists of
    tuples, floats, ... (a full collection empties them), the names the type attribute cache
    holds, and (glibc) malloc's free pages, so that malloc's free memory cannot absorb a leak
    without the RSS growing (Python's own free pools still can)."""
    gc.collect()
    _clear_type_cache()
    if GLIBC_LINUX:
        _LIBC.malloc_trim(0)


def traced_bytes():
    """Bytes of the blocks allocated since tracemalloc.start() and still alive."""
    return tracemalloc.get_traced_memory()[0]


def malloc_bytes():
    """Bytes malloc has handed out and not had back: C and C++ allocations, NumPy's buffers,
    not Python's small objects."""
    info = _LIBC.mallinfo2()
    return info.uordblks + info.hblkhd


def rss_bytes():
    with open(_STATM) as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
