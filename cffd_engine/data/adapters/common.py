"""What the dataset adapters share: which files are evidence, stable splits, layout checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cffd_engine.data.manifest import DatasetLayoutError
from cffd_engine.media.video import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def is_media(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MEDIA_SUFFIXES and not path.name.startswith(".")


def videos_in(folder: Path) -> list[Path]:
    """The video files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_video(p)) if folder.is_dir() else []


def media_under(folder: Path) -> list[Path]:
    """Video and image files anywhere under ``folder``, sorted by path."""
    return sorted(p for p in folder.rglob("*") if is_media(p)) if folder.is_dir() else []


def check_root(root: Path | str, fix: str) -> Path:
    """``root`` as a Path if it is a folder; DatasetLayoutError otherwise."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetLayoutError(root, [f"the folder itself ({root} does not exist or is not a folder)"], fix)
    return root


def hashed_split(group: str, val_fraction: float, test_fraction: float = 0.0) -> str:
    """A split for ``group`` that depends only on its name: the same on every machine and every run.

    Everything of one group (an identity, a source video) lands in the same split.
    """
    bucket = int(hashlib.sha1(group.encode("utf-8")).hexdigest()[:8], 16) / 2**32
    if bucket < test_fraction:
        return "test"
    if bucket < test_fraction + val_fraction:
        return "val"
    return "train"


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
