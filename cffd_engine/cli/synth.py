"""``cffd synth ...``: build a task sequence, draw a contact sheet, forge a video, make the demo, check separability.

Each command is a pair ``add_<name>_arguments(parser)`` / ``run_<name>(args) -> int``;
``add_arguments(parser)`` puts them all under one ``synth`` sub-command and
``run(args)`` dispatches. Progress goes to stderr as one rewritten line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from cffd_engine.argtypes import (
    file_to_write,
    folder_to_write,
    fraction,
    non_negative_float,
    positive_int,
    whole_number,
)
from cffd_engine.cli.progress import progress_bar
from cffd_engine.data.synth.families import DEFAULT_SEQUENCE, FAMILY_NAMES, parse_methods
from cffd_engine.data.synth.pool import ENV_SHARED_DATA
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled


def default_faces() -> Path | None:
    """UTKFace in the shared data folder (``$CFFD_SHARED_DATA``), when it is there."""
    root = os.environ.get(ENV_SHARED_DATA)
    candidate = Path(root) / "faces" / "utkface" if root else None
    return candidate if candidate and candidate.is_dir() else None


def _seconds(text: str) -> float:
    """'2s', '2.5', '1:30' -> seconds; an argparse error for anything else, or a time before the start."""
    given, text = text, text.strip().lower().removesuffix("s")
    try:
        if ":" in text:
            minutes, seconds = text.split(":", 1)
            value = 60 * float(minutes) + float(seconds)
        else:
            value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{given!r} is not a time; write seconds (2s, 2.5) or minutes:seconds (1:30)"
        ) from None
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"{given!r} is before the start of the video; times count from 0")
    return value


def _faces_argument(parser: argparse.ArgumentParser) -> None:
    found = default_faces()
    parser.add_argument(
        "--faces", type=Path, default=found, required=found is None,
        help="folder of real face photos (default: UTKFace under $CFFD_SHARED_DATA)",
    )  # fmt: skip


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    _faces_argument(parser)
    parser.add_argument(
        "--methods", default=",".join(DEFAULT_SEQUENCE), help="families in task order, comma-separated"
    )
    parser.add_argument(
        "--per-task",
        type=whole_number(10),
        default=500,
        help="photos per task (as many real and fake samples)",
    )
    parser.add_argument(
        "--size", type=whole_number(16), default=160, help="side of the cached face crops, pixels"
    )
    parser.add_argument("--out", type=folder_to_write, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=fraction, default=0.1)
    parser.add_argument("--test-fraction", type=fraction, default=0.1)
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: up to 4)")
    parser.add_argument(
        "--video-like",
        action="store_true",
        help="degrade each photo and its forgery alike as video frames: blur, noise, an H.264 or MPEG-4 round trip",
    )


def run_build(args: argparse.Namespace) -> int:
    from cffd_engine.data.synth.builder import BuildSettings, build_task_sequence

    extra = {"workers": args.workers} if args.workers else {}
    settings = BuildSettings(
        faces=args.faces, out=args.out, methods=tuple(parse_methods(args.methods)), per_task=args.per_task,
        size=args.size, seed=args.seed, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        video_like=args.video_like, **extra,
    )  # fmt: skip
    sequence = build_task_sequence(settings, progress_bar("synth"))
    for task in sequence.tasks:
        print(f"{task}: {sequence.manifests[task]}  {json.dumps(sequence.counts[task])}")
    if sequence.photos_without_face:
        print(f"{sequence.photos_without_face} photos skipped: no face found")
    return 0


def add_sheet_arguments(parser: argparse.ArgumentParser) -> None:
    _faces_argument(parser)
    parser.add_argument("--out", type=file_to_write, required=True, help="PNG to write")
    parser.add_argument("--count", type=positive_int, default=6, help="faces (rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", type=whole_number(16), default=200, help="thumbnail side, pixels")
    parser.add_argument("--outline", action="store_true", help="draw each forgery's mask outline")


def run_sheet(args: argparse.Namespace) -> int:
    from cffd_engine.data.synth.sheet import SheetSettings, make_contact_sheet

    settings = SheetSettings(
        faces=args.faces, out=args.out, count=args.count, cell=args.cell, seed=args.seed, outline=args.outline
    )
    print(make_contact_sheet(settings, progress_bar("synth")))
    return 0


VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers PyAV writes H.264 into, named by the suffix


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="source", type=Path, required=True, help="real face video")
    parser.add_argument("--method", choices=FAMILY_NAMES, required=True)
    parser.add_argument("--donor", type=Path, default=None, help="photo of the donor face (swap)")
    parser.add_argument("--from", dest="start", type=_seconds, default=0.0, help="start, e.g. 2s")
    parser.add_argument(
        "--to", dest="end", type=_seconds, default=None, help="end, e.g. 6s (default: the end)"
    )
    parser.add_argument(
        "--out", type=file_to_write, required=True, help="manipulated video (.mp4); the twin gets _pristine"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ramp", type=non_negative_float, default=0.25, help="seconds to fade the manipulation in and out"
    )


def run_video(args: argparse.Namespace) -> int:
    from cffd_engine.data.synth.videos import manipulate_video

    if args.out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"--out {args.out}: the manipulated video is one file named with its format, e.g. --out "
            f"{args.out.with_suffix('.mp4')} (H.264 in {', '.join(VIDEO_SUFFIXES)})"
        )
    if args.end is not None and args.end <= args.start:
        raise ValueError(
            f"--to {args.end:g}s is not after --from {args.start:g}s, so nothing would be manipulated; "
            "give --to a later time (or leave it out: the end of the video)"
        )
    result = manipulate_video(
        args.source,
        args.out,
        args.method,
        args.donor,
        args.start,
        args.end,
        args.seed,
        args.ramp,
        job=progress_bar("synth"),
    )
    print(
        f"manipulated: {result.manipulated} ({len(result.manipulated_frames)} of {result.frame_count} frames)"
    )
    print(f"pristine:    {result.pristine}\nsidecar:     {result.sidecar}")
    if result.frames_without_face:
        print(f"{len(result.frames_without_face)} frames in the range had no face and were left as they were")
    return 0


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=folder_to_write, default=None, help="folder (default: the user data folder)"
    )
    parser.add_argument("--force", action="store_true", help="make them again even if present")


def run_demo(args: argparse.Namespace) -> int:
    from cffd_engine.data.synth.demo import default_demo_dir, ensure_demo_videos, make_demo_videos

    folder = args.out or default_demo_dir()
    videos = (
        make_demo_videos(folder, progress_bar("synth"))
        if args.force
        else ensure_demo_videos(folder, progress_bar("synth"))
    )
    print(f"pristine:    {videos.pristine}\nmanipulated: {videos.manipulated}\nsidecar:     {videos.sidecar}")
    return 0


def add_separability_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sequence", type=Path, required=True, help="a folder written by 'cffd synth build'")
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--epochs", type=positive_int, default=6)
    parser.add_argument("--batch-size", type=whole_number(2), default=32)
    parser.add_argument(
        "--max-train", type=positive_int, default=None, help="train pairs per family (default: all)"
    )
    parser.add_argument("--threads", type=positive_int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    for branch in ("spatial", "frequency"):
        parser.add_argument(
            f"--{branch}-weights",
            default=None,
            help=f"ImageNet weights (.safetensors) of the {branch} backbone (default: from scratch)",
        )
    parser.add_argument(
        "--out",
        type=file_to_write,
        default=None,
        help="JSON to write (default: <sequence>/separability.json)",
    )


def run_separability(args: argparse.Namespace) -> int:
    from cffd_engine.data.synth.builder import TaskSequence
    from cffd_engine.data.synth.separability import SeparabilitySettings, separability
    from cffd_engine.model import preset

    try:  # an unknown preset is named before minutes of loading, not after
        preset(args.preset)
    except ValueError as exc:
        raise CFFDError(f"--preset: {exc}") from None
    TaskSequence.load(args.sequence)  # and so is a folder that holds no sequence
    settings = SeparabilitySettings(
        sequence=args.sequence, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
        max_train=args.max_train, seed=args.seed, threads=args.threads,
        spatial_weights=args.spatial_weights, frequency_weights=args.frequency_weights,
    )  # fmt: skip
    result = separability(settings, progress_bar("synth"))
    out = args.out or Path(args.sequence) / "separability.json"
    out.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    print(result.table())
    in_family = (
        f"{task} {row[i]:.3f}" for i, (task, row) in enumerate(zip(result.tasks, result.paired, strict=True))
    )
    print("in-family, fake scored above its own source photo: " + ", ".join(in_family))
    print(f"verdict: {result.verdict}  ({result.seconds:.0f} s; written to {out})")
    return 0 if result.verdict == "ok" else 1


COMMANDS: dict[str, tuple[Callable, Callable, str]] = {
    "build": (add_build_arguments, run_build, "write the continual task sequence (one task per family)"),
    "sheet": (add_sheet_arguments, run_sheet, "draw a contact sheet PNG of every family"),
    "video": (add_video_arguments, run_video, "manipulate a real face video, with its pristine twin"),
    "demo": (add_demo_arguments, run_demo, "make the built-in demo videos"),
    "separability": (add_separability_arguments, run_separability, "4x4 cross-family accuracy check"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the synth commands as sub-commands of ``parser`` (e.g. the ``cffd synth`` parser)."""
    commands = parser.add_subparsers(dest="synth_command", required=True)
    for name, (add, _, text) in COMMANDS.items():
        add(commands.add_parser(name, help=text, description=text))


def run(args: argparse.Namespace) -> int:
    """Run the synth command chosen in ``args``; 130 when cancelled, 2 for bad input with its message."""
    try:
        return COMMANDS[args.synth_command][1](args)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
