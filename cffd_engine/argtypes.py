"""Checked option values for the ``cffd`` commands: argparse ``type=`` functions.

A value the command cannot use is refused while the command line is read, before
anything is loaded, with argparse's usage and a message naming the option, what is
wrong and what to write instead (``cffd analyze: error: argument --stride: must be a
whole number of at least 1, got -1``). Nothing here imports torch: building the
``cffd`` parser stays fast.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def whole_number(minimum: int) -> Callable[[str], int]:
    """A type for whole numbers of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number; write one of at least {minimum}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def number(minimum: float, *, above: bool = False, maximum: float | None = None) -> Callable[[str], float]:
    """A type for numbers of at least ``minimum`` (greater than it with ``above``), at most ``maximum``."""
    bounds = f"{'greater than' if above else 'at least'} {minimum:g}"
    if maximum is not None:
        bounds = f"between {minimum:g} and {maximum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; write one {bounds}") from None
        if (
            value != value  # NaN
            or value < minimum
            or (above and value == minimum)
            or (maximum is not None and value > maximum)
        ):
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text}")
        return value

    parse.__name__ = f"number {bounds}"
    return parse


positive_float = number(0.0, above=True)
non_negative_float = number(0.0)
fraction = number(0.0, maximum=1.0)


def device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, as ``model.device.select_device`` takes them."""
    if DEVICE_PATTERN.fullmatch(text.strip()):
        return text.strip()
    raise argparse.ArgumentTypeError(f"{text!r} is not a device; write {DEVICE_HELP}")


def existing_file(text: str) -> Path:
    """A file that is there (not a folder)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; name a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path}: no such file; check the path")
    return path


def existing_folder(text: str) -> Path:
    """A folder that is there."""
    path = Path(text)
    if path.is_dir():
        return path
    if path.exists():
        raise argparse.ArgumentTypeError(f"{path} is a file, not a folder; name a folder")
    raise argparse.ArgumentTypeError(f"{path}: no such folder; check the path")


def _blocked_by_file(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (then nothing can be written under it)."""
    for parent in path.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def file_to_write(text: str) -> Path:
    """A file to (over)write: not a folder, and not under a file; missing folders above it are created."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{path} is a folder; name the file to write (e.g. a new file inside it)"
        )
    blocker = _blocked_by_file(path)
    if blocker is not None:
        raise argparse.ArgumentTypeError(
            f"cannot write {path}: {blocker} is a file, not a folder; name a path in a folder"
        )
    return path


def folder_to_write(text: str) -> Path:
    """A folder to write into: there already, or created; not a file and not under one."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{path} is a file, not a folder; name a folder (it is created if missing)"
        )
    blocker = _blocked_by_file(path)
    if blocker is not None:
        raise argparse.ArgumentTypeError(
            f"cannot make the folder {path}: {blocker} is a file, not a folder; name another folder"
        )
    return path
