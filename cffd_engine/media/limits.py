"""The pixel limit: a frame is refused from its declared size, before a byte of it is decoded.

A 50,000 x 50,000 PNG is a few kilobytes on disk and 7.5 GB decoded (a decompression
bomb); a video header can declare any size too. The limit is well above 8K (7680 x 4320,
33 million pixels), the largest frames cameras record.
"""

from __future__ import annotations

import struct
from pathlib import Path

from cffd_engine.errors import EvidenceError

MAX_PIXELS = 100_000_000
_HEADER_BYTES = 1 << 16  # JPEG's frame header may follow thumbnails and tags; 64 KiB covers the usual


def check_pixels(path: Path, width: int, height: int) -> None:
    """An EvidenceError when a ``width`` x ``height`` frame is over ``MAX_PIXELS``."""
    if width * height > MAX_PIXELS:
        raise EvidenceError(
            path,
            f"its frames declare {width} x {height} pixels ({width * height / 1e6:.0f} million), over the "
            f"limit of {MAX_PIXELS / 1e6:.0f} million pixels: refused before decoding (a decompression bomb "
            "or a damaged header)",
            "If the size is real, scale a copy of the evidence down and analyse the copy",
        )


def image_dimensions(header: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG, JPEG, BMP or WebP header declares them; None if it cannot say."""
    if header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR" and len(header) >= 24:
        return struct.unpack(">II", header[16:24])
    if header[:2] == b"BM" and len(header) >= 26:
        width, height = struct.unpack("<ii", header[18:26])
        return abs(width), abs(height)
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return _webp(header)
    if header[:2] == b"\xff\xd8":
        return _jpeg(header)
    return None


def _webp(header: bytes) -> tuple[int, int] | None:
    chunk = header[12:16]
    if chunk == b"VP8X" and len(header) >= 30:
        return 1 + int.from_bytes(header[24:27], "little"), 1 + int.from_bytes(header[27:30], "little")
    if chunk == b"VP8 " and len(header) >= 30:
        width, height = struct.unpack("<HH", header[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(header) >= 25:
        bits = int.from_bytes(header[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg(header: bytes) -> tuple[int, int] | None:
    """The size in the first start-of-frame segment (SOF0..SOF15 but DHT, JPG and DAC)."""
    position = 2
    while position + 9 <= len(header):
        if header[position] != 0xFF:
            return None
        marker = header[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        length = struct.unpack(">H", header[position + 2 : position + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", header[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def check_image_pixels(path: Path, handle) -> None:
    """Refuse an image whose header declares more than ``MAX_PIXELS`` (``handle``: open, at its start)."""
    size = image_dimensions(handle.read(_HEADER_BYTES))
    if size is not None:
        check_pixels(path, *size)
