"""Handing the C allocator's free memory back to the operating system.

A long-running process (an agent, `up`) allocates and frees all day: SQLite's page caches,
result rows, HTML pages, JSON answers. glibc's allocator keeps the freed memory of each
thread's arena for reuse and returns only what lies at an arena's top, so a process whose
live data stays flat still grows slowly as holes in its arenas stay resident.
`malloc_trim(0)` returns every whole free page of every arena; agents call it once a minute.
Elsewhere than glibc (musl, macOS) there is no such call, and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["release_free_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS; False where the allocator cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
