"""How glibc's malloc treats large blocks: memory first (the window), speed first (the command, training).

By default glibc keeps freed large blocks in its heaps for reuse. The window's analysis runner
calls ``hand_large_blocks_back`` so that every block of 1 MiB or more is mapped on its own and handed
back when freed: ten minutes of 720p stay under its 1.5 GB goal. The price is speed: the model's
activations (megabytes per batch) then come as fresh mappings that fault in page by page, and on
2 cores inference took 1.5x as long (docs/detector-2026-12-03.md, "Fourth round: speed"). The
``cffd`` command keeps glibc's default. Decoded frames are reused either way
(``media.frames.FramePool``), so neither policy fragments the heaps with them.

Training goes further, inside ``freed_memory_kept``: even glibc's default maps blocks over 32 MiB
afresh, and a training step's activations are hundreds of them (docs/continual-2026-12-04.md,
"A faster update").
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
LARGE_BLOCK = 1 << 20
_SETTLED_MMAP_THRESHOLD = 32 << 20  # where glibc's own adjustment of the threshold ends, on 64-bit
_KEPT_MMAP_THRESHOLD, _KEPT_TRIM_THRESHOLD = 1 << 30, (1 << 31) - 1  # mallopt takes a C int

_mmap_threshold: int | None = None  # what this module last set outside freed_memory_kept; None: glibc's own


def _glibc() -> ctypes.CDLL | None:
    """glibc itself, on Linux; None elsewhere or with another C library (musl): nothing to tune."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def _set_thresholds(libc: ctypes.CDLL, mmap_threshold: int) -> None:
    libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * mmap_threshold)  # glibc's own rule, kept when it is switched off


def hand_large_blocks_back() -> None:
    """Process-wide, once: blocks of ``LARGE_BLOCK`` bytes or more go back to the system when freed."""
    global _mmap_threshold
    libc = _glibc()
    if libc is not None:
        _set_thresholds(libc, LARGE_BLOCK)
        _mmap_threshold = LARGE_BLOCK


@contextlib.contextmanager
def freed_memory_kept() -> Iterator[None]:
    """Inside, glibc keeps the memory torch frees for its next allocation instead of giving it back.

    Each training step would otherwise fault in and zero its activations again: on 2 cores a
    quarter of an update's CPU time went into the kernel. Inside, blocks up to 1 GiB come from the
    heaps and the heaps are not trimmed; afterwards the policy before it is back (glibc's settled
    thresholds where it was glibc's own) and what is free goes back to the system.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _KEPT_MMAP_THRESHOLD)
    libc.mallopt(_M_TRIM_THRESHOLD, _KEPT_TRIM_THRESHOLD)
    try:
        yield
    finally:
        _set_thresholds(libc, _mmap_threshold or _SETTLED_MMAP_THRESHOLD)
        libc.malloc_trim(0)
