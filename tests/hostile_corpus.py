"""Hostile evidence, made in a test's folder: pipes, sockets, devices, link loops, bombs, damage.

``build(folder)`` makes every entry and returns what each must be reported as: the path's
kind, the result's NOT APPLICABLE code (None: analysed, with a verdict) and words its reason
must hold. The CLI test and the window test analyse the same corpus as one batch.
"""

from __future__ import annotations

import os
import socket
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests import synthetic_media as sm

VERDICTS = {"LIKELY_MANIPULATED", "NO_MANIPULATION_DETECTED"}
FACE_SIDE = 120  # the face's height in the 8K photo, in pixels


@dataclass(frozen=True)
class Entry:
    """What the batch must say of one corpus path."""

    path: Path
    kind: str
    code: str | None  # None: analysed (a verdict, or NOT APPLICABLE with the codes in ``analysed_codes``)
    words: str = ""
    note: str = ""  # why an entry's expectation is not the obvious one (e.g. root reads chmod 000)


def _face_video(path: Path, frames: int = 8) -> Path:
    return sm.write_video(path, sm.drifting_portrait_frames(frames, size=(320, 240), face_height=200))


def png_bomb(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A valid PNG header declaring ``width`` x ``height`` RGB pixels, with one short row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path.write_bytes(body + chunk(b"IEND", b""))
    return path


def absurd_video(path: Path, width: int = 16_000, height: int = 16_000) -> Path:
    """A YUV4MPEG2 stream whose header declares ``width`` x ``height`` frames (256 million pixels)."""
    header = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode()
    path.write_bytes(header + bytes(4096))
    return path


def photo_8k_with_small_face(path: Path, face_photo: Path) -> Path:
    """A 7680 x 4320 textured photo with a real face about ``FACE_SIDE`` pixels high, far from the centre."""
    rng = np.random.default_rng(0)
    canvas = cv2.GaussianBlur(rng.integers(60, 200, (4320, 7680, 3), dtype=np.uint8), (0, 0), 6)
    chip = cv2.imread(str(face_photo))  # a UTKFace chip: the face fills about 85% of it
    side = round(FACE_SIDE / 0.85)
    canvas[3000 : 3000 + side, 5000 : 5000 + side] = cv2.resize(
        chip, (side, side), interpolation=cv2.INTER_AREA
    )
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def long_non_ascii_video(folder: Path, length: int = 250) -> Path:
    """A valid video whose full path is about ``length`` characters, every part non-ASCII."""
    part, name = "Beweisstück_évidence_证据_видео", "клип_证据_ü.mp4"
    target = folder
    while len(str(target / part / name)) < length:
        target = target / part
    target.mkdir(parents=True)
    return _face_video(target / name)


def unix_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))  # the socket file stays after the socket is closed
    server.close()
    return path


def build(folder: Path, face_photo: Path | None) -> dict[str, Entry]:
    """Every hostile entry in ``folder`` (the 8K photo only when ``face_photo`` is given)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries: dict[str, Entry] = {}

    def add(name: str, path: Path, kind: str, code: str | None, words: str = "", note: str = "") -> None:
        entries[name] = Entry(path, kind, code, words, note)

    os.mkfifo(folder / "pipe.mp4")
    add("fifo", folder / "pipe.mp4", "fifo", "unreadable", "named pipe (FIFO)")
    add("socket", unix_socket(folder / "sock.mp4"), "socket", "unreadable", "this is a socket")
    os.symlink("/dev/zero", folder / "zero.mp4")
    add("dev-zero-link", folder / "zero.mp4", "character-device", "unreadable", "character device")
    os.symlink("/dev/null", folder / "null.mp4")
    add("dev-null-link", folder / "null.mp4", "character-device", "unreadable", "character device")
    os.symlink("loop.mp4", folder / "loop.mp4")
    add("link-loop", folder / "loop.mp4", "link-loop", "unreadable", "symbolic link loop")
    os.symlink(folder / "gone.mp4", folder / "dangling.mp4")
    add("dangling-link", folder / "dangling.mp4", "dangling-link", "unreadable", "broken symbolic link")
    (folder / "x.mp4").mkdir()
    add("folder-named-mp4", folder / "x.mp4", "folder", "unreadable", "this is a folder, not a file")
    add("png-bomb", png_bomb(folder / "bomb.png"), "file", "unreadable", "50000 x 50000 pixels")
    add("absurd-video", absurd_video(folder / "huge.mkv"), "file", "unreadable", "16000 x 16000 pixels")
    locked = _face_video(folder / "locked.mp4")
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        add("unreadable", locked, "file", None, note="running as root: chmod 000 does not stop root reading")
    else:
        add("unreadable", locked, "file", "unreadable", "permission denied")
    (folder / ".work").mkdir()  # hidden: a folder's hidden entries are not picked
    data = _face_video(folder / ".work" / "whole.mp4", frames=16).read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    add("truncated-mp4", folder / "truncated.mp4", "file", "unreadable", "truncated or damaged")
    (folder / "empty.mp4").touch()
    add("zero-bytes", folder / "empty.mp4", "file", "unreadable", "empty (0 bytes)")
    (folder / "notes.mp4").write_text("These are my notes, not a video.\n", encoding="utf-8")
    add("text-named-mp4", folder / "notes.mp4", "file", "unreadable", "not a video or image format")
    add("long-non-ascii-path", long_non_ascii_video(folder), "file", None)
    add("valid-video", _face_video(folder / "valid.mp4"), "file", None)
    if face_photo is not None:
        add("photo-8k-small-face", photo_8k_with_small_face(folder / "photo8k.jpg", face_photo), "file", None)
    return entries


if (
    __name__ == "__main__"
):  # python -m tests.hostile_corpus FOLDER [FACE_PHOTO]: the corpus, for timing a batch
    import sys

    made = build(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(f"{len(made)} entries in {sys.argv[1]}")
