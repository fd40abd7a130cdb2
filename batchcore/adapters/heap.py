"""Give large freed buffers back to the operating system (glibc), so an upload's memory does not stay.

Six 9 MB references pass through the server as ``bytes`` objects: Streamlit receives each
file, the page checks and sends it, and then every copy is freed. CPython hands buffers this
large straight to ``malloc``. glibc serves an allocation of at least ``M_MMAP_THRESHOLD``
(128 KiB at start) with its own ``mmap`` and unmaps it on ``free`` — but its *dynamic*
threshold rises to the size of every such buffer freed (up to 32 MiB), so from the first
freed 9 MB file on, later ones come from the heap arenas, and freed arena memory is only
returned when it happens to lie at the top of a heap. Measured (``bench/uploads.py``): the
server kept every upload's ~110 MB after the upload was over and after its session ended.

* :func:`large_buffers_to_os` sets a fixed ``M_MMAP_THRESHOLD`` (1 MiB by default), which
  also turns the dynamic threshold off: every buffer of 1 MiB or more is its own mapping and
  goes back to the system the moment it is freed. Small objects are not affected.
* :func:`trim` (``malloc_trim(0)``) returns the free pages inside the arenas, for what was
  allocated before the threshold was set, or below it.

Both are no-ops (returning ``False``) where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

__all__ = ["MMAP_THRESHOLD", "large_buffers_to_os", "trim"]

MMAP_THRESHOLD = 1024 * 1024
"""Buffers at least this large get their own mapping (and are unmapped when freed)."""

_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
_lock = threading.Lock()
_done: dict[int, bool] = {}


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return None  # musl, macOS, Windows: nothing to tune
    return libc


def large_buffers_to_os(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve every allocation of ``threshold`` bytes or more by its own mapping, unmapped when freed.

    Once per process and threshold (later calls return what the first did). True when glibc
    took the setting.
    """
    threshold = max(4096, min(int(threshold), 32 * 1024 * 1024))
    with _lock:
        if threshold in _done:
            return _done[threshold]
        libc = _libc()
        ok = bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, threshold) == 1)
        _done[threshold] = ok
        return ok


def trim() -> bool:
    """Return the free memory inside glibc's arenas to the system; True if any was returned."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0) == 1)
