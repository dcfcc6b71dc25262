"""How glibc's malloc treats large blocks: memory first (the window) or speed first (the command).

By default glibc keeps freed large blocks in its heaps for reuse. The window's analysis runner
calls ``hand_large_blocks_back`` so that every block of 1 MiB or more is mapped on its own and handed
back when freed: ten minutes of 720p stay under its 1.5 GB goal. The price is speed: the model's
activations (megabytes per batch) then come as fresh mappings that fault in page by page, and on
2 cores inference took 1.5x as long (docs/detector-2026-12-03.md, "Fourth round: speed"). The
``cffd`` command keeps glibc's default. Decoded frames are reused either way
(``media.frames.FramePool``), so neither policy fragments the heaps with them.
"""

from __future__ import annotations

import ctypes
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
LARGE_BLOCK = 1 << 20


def hand_large_blocks_back() -> None:
    """Process-wide, once: blocks of ``LARGE_BLOCK`` bytes or more go back to the system when freed.

    Linux with glibc only; elsewhere (or with another C library) nothing is done.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)
    except (OSError, AttributeError):
        pass  # another C library (musl): nothing to tune
