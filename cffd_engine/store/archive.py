"""``.cffd`` files: a bundle folder as one zip, written atomically and unpacked without trusting it."""

from __future__ import annotations

import errno
import json
import lzma
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path

from cffd_engine.store.bundle import (
    MANIFEST,
    PRIVATE_DIRS,
    BundleError,
    check_member_name,
    verify_bundle,
)

MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 8 << 30
MAX_RATIO = 200  # uncompressed / compressed per member: more is a zip bomb, not a model
# What reading a damaged member raises: a CRC or header mismatch, a broken compressed stream (zlib,
# bz2 as OSError, lzma), an unknown method, an encrypted member (RuntimeError), a name the disk refuses.
UNPACK_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
)


def export_bundle(directory: Path, destination: Path, include_private_data: bool = True) -> Path:
    """Zip a verified bundle to ``destination`` (.cffd). Without private data, the replay buffer and
    validation faces are left out and the exported manifest records it."""
    if destination.is_dir():
        raise BundleError(
            f"{destination} is a folder; name the .cffd file to write, e.g. {destination / (directory.name + '.cffd')}"
        )
    manifest = verify_bundle(directory)
    files = dict(manifest.files)
    if not include_private_data:
        files = {n: h for n, h in files.items() if not n.startswith(tuple(f"{d}/" for d in PRIVATE_DIRS))}
        manifest.files = files
        manifest.contents = {
            **manifest.contents,
            "replay_buffer": False,
            "validation_sets": False,
            "omitted": "replay buffer and validation faces left out at export (photographs of people)",
        }
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
            for name in sorted(files):
                archive.write(directory / name, name)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, destination)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return destination


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def unpack_archive(archive_path: Path, target: Path) -> None:
    """Unpack a .cffd into the new folder ``target``, refusing anything a bundle must not contain.

    Members are written one by one from their bytes (never ``extractall``): no absolute
    paths, no ``..``, no links, no code-carrying file types, and size limits against zip bombs.
    The result still has to pass ``verify_bundle``.
    """
    try:
        archive = zipfile.ZipFile(archive_path)
    except (*UNPACK_ERRORS, ValueError) as exc:  # e.g. "zip file version 8.4" is a NotImplementedError
        raise BundleError(f"{archive_path}: not a .cffd model file ({exc})") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise BundleError(
                f"{archive_path}: refused: {len(members)} files is more than a model bundle holds"
            )
        total = 0
        for info in members:
            if _is_link(info):
                raise BundleError(
                    f"{archive_path}: refused '{info.filename}': symbolic links are not allowed"
                )
            if not info.filename:  # ZipInfo.is_dir() fails on an empty name
                raise BundleError(f"{archive_path}: refused: a member has no name; the file is damaged")
            if info.is_dir():
                check_dir = info.filename.rstrip("/")
                if check_dir.startswith("/") or ".." in check_dir.split("/"):
                    raise BundleError(
                        f"{archive_path}: refused '{info.filename}': the path leaves the bundle"
                    )
                continue
            if info.filename != MANIFEST:
                check_member_name(info.filename, archive_path)
            total += info.file_size
            if total > MAX_TOTAL_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1) + (1 << 20):
                raise BundleError(
                    f"{archive_path}: refused: '{info.filename}' expands implausibly (zip bomb?)"
                )
        target.mkdir(parents=True)
        for info in members:
            if info.is_dir():
                continue
            destination = target.joinpath(*info.filename.split("/"))
            if not destination.resolve().is_relative_to(target.resolve()):
                raise BundleError(f"{archive_path}: refused '{info.filename}': the path leaves the bundle")
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, destination.open("wb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
            except UNPACK_ERRORS as exc:
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                    raise BundleError(
                        f"{destination}: cannot be written ({exc.strerror}) while importing {archive_path}; "
                        "nothing was changed. Free some space on the model store's disk and import again"
                    ) from exc
                raise BundleError(
                    f"{archive_path}: '{info.filename}' cannot be unpacked ({exc.__class__.__name__}: {exc}); "
                    "the .cffd file is damaged or not a CFFD Studio model (or the disk is full)"
                ) from exc
