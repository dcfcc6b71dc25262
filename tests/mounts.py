"""Disks that are small or read-only, for the fault tests: real mounts, so root cannot write past them.

Running as root defeats file permissions, so a read-only store is a read-only bind mount and a
full disk a small tmpfs. Mounting needs root (CAP_SYS_ADMIN): where it is refused, as on many CI
runners and in unprivileged containers, the test is skipped and says why. Every mount is undone
when the ``with`` block ends, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> str | None:
    """Run ``mount ARGS``; None when it worked, else why not."""
    try:
        done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")


def _unmount(folder: Path) -> None:
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)  # busy: detach it now


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` bind-mounted read-only onto itself for the block; skips the test where mounting is refused."""
    problem = _mount("--bind", str(folder), str(folder))
    if problem is not None:
        pytest.skip(
            f"cannot bind-mount {folder} to make it read-only ({problem}): needs root and mount rights"
        )
    try:
        problem = _mount("-o", "remount,ro,bind", str(folder))
        if problem is not None:
            pytest.skip(f"cannot remount {folder} read-only ({problem})")
        yield folder
    finally:
        _unmount(folder)


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` for the block; skips the test where mounting is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    problem = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    if problem is not None:
        pytest.skip(f"cannot mount a {size} tmpfs at {folder} ({problem}): needs root and mount rights")
    try:
        yield folder
    finally:
        _unmount(folder)


def leave_free(disk: Path, free_bytes: int) -> None:
    """Grow or shrink a filler file on ``disk`` until about ``free_bytes`` are left (0: full)."""
    filler = disk / ".filler"
    filler.touch()
    size = filler.stat().st_size
    target = max(0, size + shutil.disk_usage(disk).free - free_bytes)
    with open(filler, "r+b", buffering=0) as handle:
        if target <= size:
            handle.truncate(target)
            return
        handle.seek(size)
        chunk = bytes(1 << 16)
        try:
            while (left := target - handle.tell()) > 0:
                handle.write(chunk[:left])
        except OSError as exc:  # the last pages: the disk is full, which is what was asked
            if exc.errno != errno.ENOSPC:
                raise
        os.fsync(handle.fileno())
