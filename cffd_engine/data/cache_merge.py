"""Joining the caches of ``cffd preprocess --shard K/N`` runs into the cache one run would have made.

Each shard writes its own cache folder: the index is SQLite, whose locking is not
safe on network file systems, so shards never share one. The merge checks that the
shards are all N of one batch, made with the same settings, and each complete; then,
a batch of videos at a time, it copies their crop PNGs (each to a temporary file,
then renamed) and after them their index rows, unchanged, in one transaction. So the
joined cache holds the same index rows and the same crop files as one ``cffd
preprocess`` over every video, and an interrupted merge resumes when run again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from cffd_engine.data.cache import (
    CROPS_DIR,
    MANIFEST_FILE,
    CacheError,
    CacheIndex,
    cache_manifest,
    record_manifest,
)
from cffd_engine.shards import check_shards

BATCH_VIDEOS = 200  # videos per index transaction: few commits (slow on network disks), little to redo


@dataclass
class CacheMergeReport:
    """What a merge did: the joined cache, its videos, those copied now and those it already held."""

    out: str
    shards: int
    videos: int
    copied: int
    already_there: int
    crop_files: int

    def to_dict(self) -> dict:
        return asdict(self)


def merge_caches(shards: Sequence[Path | str], out: Path | str) -> CacheMergeReport:
    """Join the shard caches into ``out`` (created, or resumed); CacheError/CFFDError naming what is wrong."""
    shards, out = [Path(path) for path in shards], Path(out)
    for path in shards:
        if path.resolve() == out.resolve():
            raise CacheError(
                f"{out}: --out is one of the shard caches; name a new folder for the joined cache"
            )
    with ExitStack() as stack:
        opened = [(path, stack.enter_context(CacheIndex(path))) for path in shards]
        opened = _checked(opened)
        target = stack.enter_context(CacheIndex(out, create=True))
        if target.meta("shard") is not None:
            raise CacheError(f"{out}: this is a shard's cache; name a new folder for the joined cache")
        target.claim(opened[0][1].settings())
        report = CacheMergeReport(str(out), len(shards), 0, 0, 0, 0)
        for path, index in opened:
            keys = sorted(index.finished_keys())
            for start in range(0, len(keys), BATCH_VIDEOS):
                _copy_batch(path, index, out, target, keys[start : start + BATCH_VIDEOS], report)
        joined = [
            {"cache": str(path.absolute()), "shard": index.meta("shard")["shard"]} for path, index in opened
        ]
        target.set_meta("merged_from", joined)
        for path, _ in opened:
            if (path / MANIFEST_FILE).is_file():
                record_manifest(out, cache_manifest(path))
        report.videos = len(target.finished_keys())
    return report


def _checked(opened: list[tuple[Path, CacheIndex]]) -> list[tuple[Path, CacheIndex]]:
    """The shards in K order, once checked: all N of one batch, same settings, each holding all its videos."""
    order = check_shards([(str(path), index.meta("shard")) for path, index in opened], "cache")
    opened = [opened[i] for i in order]
    first_path, first = opened[0][0], opened[0][1].settings() or {}
    for path, index in opened:
        settings = index.settings() or {}
        if settings != first:
            changed = sorted(k for k in set(first) | set(settings) if first.get(k) != settings.get(k))
            raise CacheError(
                f"{path}: made with other settings than {first_path} ({', '.join(changed)} differ); "
                "run every shard with the same options"
            )
        record = index.meta("shard")
        held, expected = len(index.finished_keys()), record.get("videos")
        if held != expected:
            raise CacheError(
                f"{path}: shard {record['shard']} is incomplete ({held} of {expected} videos in its index); "
                "run its `cffd preprocess ... --shard` command again to finish it, then merge"
            )
    return opened


def _copy_batch(
    source_dir: Path,
    source: CacheIndex,
    out: Path,
    target: CacheIndex,
    keys: list[str],
    report: CacheMergeReport,
) -> None:
    """Copy these videos' crop files, then their rows in one transaction; skip those ``out`` already holds."""
    batch = []
    for key in keys:
        rows = source.rows(key)
        held = target.rows(key)
        if held is not None:
            if held != rows:
                raise CacheError(
                    f"{out}: already holds video {key} with other content than {source_dir} "
                    "(an earlier merge of other shards?); merge into a new folder"
                )
            report.already_there += 1
            continue
        for crop in rows[1]:
            relative = PurePosixPath(crop[4])
            if relative.parts[:1] != (CROPS_DIR,) or ".." in relative.parts or relative.is_absolute():
                raise CacheError(f"{source_dir}: the index names a crop outside {CROPS_DIR}/ ({crop[4]}); "
                                 "the cache is damaged, run that shard again")  # fmt: skip
            _copy_file(source_dir / relative, out / relative)
            report.crop_files += 1
        batch.append(rows)
    target.put_rows(batch)
    report.copied += len(batch)


def _copy_file(source: Path, target: Path) -> None:
    """Copy to a temporary file beside ``target``, then rename: ``target`` is whole or absent."""
    if not source.is_file():
        raise CacheError(
            f"{source}: a crop the index lists is missing; the cache is damaged, run that shard again"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
