"""``cffd preprocess <root> --dataset ff++ --frames 32 --out <cache>``: the faces of a dataset, once, into a crop cache.

The work is ``cffd_engine.data.preprocess.preprocess``; this module reads the options, picks
the videos (task, split, limit, shard) and prints what was done.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cffd_engine.argtypes import (
    existing_folder,
    folder_to_write,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
)
from cffd_engine.data.adapters import load_manifest
from cffd_engine.data.cache import video_key
from cffd_engine.data.manifest import Manifest, Task, canonical_dataset
from cffd_engine.data.preprocess import PreprocessSettings, default_workers, log, preprocess
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.media.crops import DEFAULT_SCALE, DEFAULT_SIZE
from cffd_engine.media.detectors import DetectorSettings
from cffd_engine.shards import SHARD_HELP, Shard, parse_shard, relative_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cffd preprocess``."""
    parser.add_argument("root", type=Path, help="the dataset's root folder")
    parser.add_argument(
        "--dataset",
        required=True,
        help="ff++, celeb-df-v2, dfdc-p (DFDC preview), dfdc (full DFDC), dfd or folder",
    )
    parser.add_argument(
        "--out", required=True, type=folder_to_write, help="the cache folder (created, or resumed)"
    )
    parser.add_argument(
        "--frames", type=positive_int, default=32, help="frames per video, evenly spaced (default 32)"
    )
    parser.add_argument(
        "--compression", default="c23", help="FF++/DFD compression: raw, c23, c40 (default c23)"
    )
    parser.add_argument(
        "--splits-dir",
        type=existing_folder,
        help="FF++: folder of train/val/test.json (default <root>/splits)",
    )
    parser.add_argument("--task", help="only the videos of this task, e.g. ff++/c23/DF")
    parser.add_argument(
        "--split", choices=["train", "val", "test"], action="append", help="only these splits"
    )
    parser.add_argument("--limit", type=positive_int, help="only the first N videos (a trial run)")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="parallel processes")
    parser.add_argument(
        "--size", type=positive_int, default=DEFAULT_SIZE, help="crop size in pixels (default 224)"
    )
    parser.add_argument(
        "--scale", type=positive_float, default=DEFAULT_SCALE, help="crop side / face size (default 1.3)"
    )
    parser.add_argument("--align", action="store_true", help="rotate crops so the eyes are level")
    parser.add_argument(
        "--landmarks", action="store_true", help="also store the 478-point face mesh (slower)"
    )
    parser.add_argument(
        "--all-faces", action="store_true", help="keep every face track, not only the main one"
    )
    parser.add_argument(
        "--detector", default="short", choices=["short", "full", "haar"], help="face detector"
    )
    parser.add_argument(
        "--min-confidence", type=fraction, default=0.5, help="detector threshold (default 0.5)"
    )
    parser.add_argument(
        "--min-face-size", type=non_negative_int, default=32, help="smallest face side in pixels (default 32)"
    )
    parser.add_argument("--retry-failed", action="store_true", help="try again the videos that failed before")
    parser.add_argument("--shard", metavar="K/N", help=SHARD_HELP + "; give each shard its own --out folder")


def _manifest_from_args(args: argparse.Namespace) -> Manifest:
    options = {}
    if canonical_dataset(args.dataset) in ("ff++", "dfd"):
        options["compression"] = args.compression
    if args.splits_dir is not None:
        options["splits_dir"] = args.splits_dir
    manifest = load_manifest(args.root, args.dataset, **options)
    if args.task:
        try:
            task = Task.parse(args.task)
        except ValueError as exc:
            raise CFFDError(f"--task {args.task!r}: {exc}") from None
        manifest, before = manifest.filter(task), manifest
        if not manifest.entries:
            raise CFFDError(
                f"--task {args.task!r}: no video of {args.root} (dataset {args.dataset}) is in that task; "
                "name a task of this dataset, e.g. " + _task_examples(before)
            )
    if args.split:
        manifest = Manifest([e for e in manifest if e.split in args.split], manifest.notes)
    if args.limit is not None:
        manifest = Manifest(manifest.entries[: args.limit], manifest.notes)
    return manifest


def _task_examples(manifest: Manifest) -> str:
    """Up to four tasks the manifest's fakes belong to, as --task takes them (``ff++/c23/Deepfakes``)."""
    names = dict.fromkeys(
        "/".join(part for part in (e.dataset, e.compression, e.method) if part)
        for e in manifest
        if e.label == 1
    )
    return ", ".join(list(names)[:4]) or "(this dataset has no manipulated videos)"


def _shard_of(manifest: Manifest, shard: Shard, root: Path) -> tuple[Manifest, dict]:
    """The videos ``shard`` takes, by path under ``root``, and its record for the cache."""
    record = shard.record([relative_key(entry.path, root) for entry in manifest])
    entries = [manifest.entries[position] for position in record["positions"]]
    record["videos"] = len({video_key(entry) for entry in entries})  # the index holds these when complete
    print(f"shard {shard}: {len(entries)} of {len(manifest)} videos", file=sys.stderr)
    return Manifest(entries, manifest.notes), record


def run(args: argparse.Namespace) -> int:
    """``cffd preprocess``: 0 when done (failed videos are listed, not fatal), 2 on bad input, 130 if interrupted."""
    from tqdm import tqdm

    try:
        shard = parse_shard(args.shard) if args.shard is not None else None
        manifest, shard_record = _manifest_from_args(args), None
        if shard is not None:
            manifest, shard_record = _shard_of(manifest, shard, args.root)
    except (CFFDError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in manifest.notes:
        print(f"note: {note}", file=sys.stderr)
    settings = PreprocessSettings(
        frames=args.frames,
        crop_size=args.size,
        crop_scale=args.scale,
        align=args.align,
        landmarks=args.landmarks,
        all_tracks=args.all_faces,
        detector=DetectorSettings(args.detector, args.min_confidence, args.min_face_size),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(args.out / "preprocess.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    bar = tqdm(total=len(manifest), unit="video", file=sys.stderr, dynamic_ncols=True)

    def show(fraction: float, message: str) -> None:
        bar.n = round(fraction * len(manifest))
        bar.set_postfix_str(message, refresh=True)

    try:
        report = preprocess(
            manifest, args.out, settings, args.workers, args.retry_failed, JobControl(show), shard_record
        )
    except (KeyboardInterrupt, Cancelled):
        bar.close()
        print(f"\ninterrupted; run the same command again to resume into {args.out}", file=sys.stderr)
        return 130
    except CFFDError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        log.removeHandler(handler)
        handler.close()
    bar.close()
    print(
        f"{report.processed} video(s) processed, {report.already_done} already in the cache, "
        f"{report.no_face} without a face, {len(report.failed)} failed; {report.crops} crops in {report.seconds:.1f} s",
        file=sys.stderr,
    )
    for path, reason in report.failed:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    return 0
