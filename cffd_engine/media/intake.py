"""Evidence in, before anything is opened: what each given path is, and which files a folder gives.

One list of media suffixes and one rule for folders, shared by ``cffd analyze``, the
window's Open and drag-and-drop. ``classify`` looks at a path with ``stat`` only, never
``open``: a named pipe, a socket or a device would block a reader, or never end. Only a
regular file is read; every other kind gets its own reason (``check_regular_file``).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cffd_engine.errors import EvidenceError

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts"}
)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
EVIDENCE_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES

# What a path is. Only FILE is ever read.
FILE = "file"
FOLDER = "folder"
FIFO = "fifo"
SOCKET = "socket"
CHARACTER_DEVICE = "character-device"
BLOCK_DEVICE = "block-device"
MISSING = "missing"
DANGLING_LINK = "dangling-link"
LINK_LOOP = "link-loop"
INACCESSIBLE = "inaccessible"
OTHER = "other"

_KINDS = (
    (stat.S_ISREG, FILE),
    (stat.S_ISDIR, FOLDER),
    (stat.S_ISFIFO, FIFO),
    (stat.S_ISSOCK, SOCKET),
    (stat.S_ISCHR, CHARACTER_DEVICE),
    (stat.S_ISBLK, BLOCK_DEVICE),
)

_NOT_A_FILE = {
    FOLDER: ("this is a folder, not a file", "Open the files inside it, or drop the folder"),
    FIFO: (
        "this is a named pipe (FIFO), not a file: it has no fixed content to hash or analyse",
        "Save the stream to a regular file and analyse that file",
    ),
    SOCKET: ("this is a socket, not a file", "Analyse a regular video or image file"),
    CHARACTER_DEVICE: (
        "this is a character device, not a file (it can produce data without end)",
        "Analyse a regular video or image file; to examine a device, image it to a file first",
    ),
    BLOCK_DEVICE: (
        "this is a block device (a disk or partition), not a file",
        "Image the device and extract the videos from it, then analyse those files",
    ),
    OTHER: ("this is not a regular file", "Analyse a regular video or image file"),
}


@dataclass(frozen=True)
class Intake:
    """What a given path is: ``kind`` (one of the kinds above), where a link leads, and why it is refused."""

    path: Path
    kind: str
    target: Path | None = None  # where a symbolic link leads (resolved as far as possible)
    problem: str = ""
    fix: str = ""

    @property
    def readable(self) -> bool:
        return self.kind == FILE

    def error(self) -> EvidenceError:
        return EvidenceError(self.path, self.problem, self.fix, kind=self.kind)


def _link_note(path: Path, target: Path | None) -> str:
    return f" (a symbolic link to {target})" if target is not None and target != path else ""


def classify(path: Path | str) -> Intake:
    """What ``path`` is, from ``lstat``/``stat`` alone (nothing is opened); links are followed and named."""
    path = Path(path)
    try:
        own = os.lstat(path)
    except FileNotFoundError:
        return Intake(
            path, MISSING, None, "no such file", "Check the path; the file may have been moved or renamed"
        )
    except PermissionError:
        return Intake(path, INACCESSIBLE, None, "permission denied", "Give your user access to the folder")
    except OSError as exc:  # e.g. a name too long for the file system
        return Intake(
            path, INACCESSIBLE, None, f"the path cannot be examined ({exc.strerror})", "Check the path"
        )
    target = None
    if stat.S_ISLNK(own.st_mode):
        target = Path(os.path.realpath(path))
    try:
        status = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Intake(
                path,
                LINK_LOOP,
                target,
                "this is a symbolic link loop: the link leads back to itself and never reaches a file",
                "Replace the link with the evidence file it should point to",
            )
        if exc.errno == errno.ENOENT and target is not None:
            return Intake(
                path,
                DANGLING_LINK,
                target,
                f"this is a broken symbolic link: its target {os.readlink(path)} does not exist",
                "Restore the target, or open the evidence file itself",
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return Intake(
                path, INACCESSIBLE, target, "permission denied", "Give your user access to the file"
            )
        return Intake(
            path, INACCESSIBLE, target, f"the path cannot be examined ({exc.strerror})", "Check the path"
        )
    kind = next((name for test, name in _KINDS if test(status.st_mode)), OTHER)
    if kind == FILE:
        return Intake(path, FILE, target)
    problem, fix = _NOT_A_FILE[kind]
    return Intake(path, kind, target, problem + _link_note(path, target), fix)


def check_regular_file(path: Path | str) -> Intake:
    """``classify(path)`` if it is a regular file; else its ``EvidenceError`` (the kind in ``error.kind``)."""
    intake = classify(path)
    if not intake.readable:
        raise intake.error()
    return intake


def open_regular_file(path: Path | str):
    """A binary read handle on ``path``, opened without blocking and refused unless it is a regular file.

    ``classify`` came first, but the path may have been swapped since (a race): a pipe
    opened with ``O_NONBLOCK`` does not wait for a writer, and ``fstat`` then says what it is.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            check_regular_file(path)
            raise EvidenceError(path, "the file changed while it was being opened", "Analyse it again")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def looks_like_evidence(path: Path) -> bool:
    return path.suffix.lower() in EVIDENCE_SUFFIXES


def pick_files(paths: list[Path | str] | tuple[Path | str, ...]) -> list[Path]:
    """The entries to analyse: each given path, and the media entries inside each given folder.

    A given path is kept as it is (whatever it is: ``classify`` reports it later), except a
    folder, which gives every entry below it, sorted, whose name has a media suffix and does
    not start with a dot; links to folders are not followed (no loops). A folder named like a
    video (``clip.mp4``), given or found, is kept as an entry, to be reported as a folder.
    """
    picked: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not looks_like_evidence(path):
            picked += _inside(path)
        else:
            picked.append(path)
    return picked


def _inside(folder: Path) -> list[Path]:
    found = []
    for root, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in folders + files:
            if not name.startswith(".") and looks_like_evidence(Path(name)):
                found.append(Path(root) / name)
    return sorted(found)
