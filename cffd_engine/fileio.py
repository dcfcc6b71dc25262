"""Atomic writes: a file is either its old content or its new content, never a mix."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over ``path``."""
    atomic_write_files({path: data})


def atomic_write_files(files: dict[Path, bytes]) -> None:
    """``atomic_write_bytes`` for files that belong together: every one is written to a temporary
    file first and only then are they renamed, so a write that fails (a full disk) changes none.

    An ``OSError`` while writing names the file it was for (the operating system's does not).
    """
    written: list[tuple[str, Path]] = []
    try:
        for path, data in files.items():
            try:
                written.append((_write_beside(path, data), path))
            except OSError as exc:
                if exc.errno is None:
                    raise
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
        for tmp, path in written:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise
    for directory in {path.parent for path in files}:
        fsync_dir(directory)


def _write_beside(path: Path, data: bytes) -> str:
    """A temporary file beside ``path`` holding ``data``, flushed to disk; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def json_bytes(value: Any) -> bytes:
    """``value`` as the JSON text every file the engine writes holds (for ``atomic_write_files``)."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, json_bytes(value))
