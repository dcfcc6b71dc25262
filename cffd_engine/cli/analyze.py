"""``cffd analyze``: files or folders in, a verdict per file on stdout, optionally a PDF report and its JSON twin.

Exit status: 0 when every input was analysed (a "no face" verdict counts as
analysed), 1 when some input could not be read or its analysis failed (the
others are still analysed and reported), 2 for errors that stop everything
(no model, bad options), as every ``cffd`` command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine.analysis.settings import DETECTOR_CHOICES, PRECISIONS, AnalysisSettings
from cffd_engine.argtypes import (
    DEVICE_HELP,
    device,
    file_to_write,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from cffd_engine.cli.progress import progress_bar
from cffd_engine.errors import CFFDError
from cffd_engine.media.detectors import DetectorSettings
from cffd_engine.shards import SHARD_HELP, parse_shard, relative_key

if TYPE_CHECKING:
    from cffd_engine.analysis.result import AnalysisResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cffd analyze``, in groups (each result's reproduction command uses the same names)."""
    default = AnalysisSettings()
    parser.add_argument("inputs", nargs="+", type=Path, help="video or image files, or folders of them")
    _output_options(parser.add_argument_group("reports and model"))
    _frame_options(parser.add_argument_group("frames read"), default)
    _running_options(parser.add_argument_group("running"), default)
    _judging_options(parser.add_argument_group("judging and explaining"), default)
    _detector_options(parser.add_argument_group("face detector"), DetectorSettings())
    _case_options(parser.add_argument_group("case"))


def _output_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--report", type=file_to_write, help="write a PDF report here (its JSON twin goes beside it)"
    )
    group.add_argument("--json", type=file_to_write, help="write the JSON report here")
    group.add_argument(
        "--model", help="model version in the store (e.g. v3) or a bundle folder (default: active)"
    )
    group.add_argument("--store", type=Path, help="model store folder (default: the user data folder)")


def _frame_options(group: argparse._ArgumentGroup, default: AnalysisSettings) -> None:
    frames = group.add_mutually_exclusive_group()
    frames.add_argument(
        "--stride", type=positive_int, default=default.stride, help="judge every N-th frame (default 1)"
    )
    frames.add_argument(
        "--frames", type=positive_int, help="judge N frames evenly spaced over the video instead"
    )
    group.add_argument("--max-frames", type=positive_int, help="judge at most this many frames")


def _running_options(group: argparse._ArgumentGroup, default: AnalysisSettings) -> None:
    group.add_argument("--device", type=device, default=default.device, help=f"{DEVICE_HELP} (default auto)")
    group.add_argument(
        "--precision",
        default=default.precision,
        choices=PRECISIONS,
        help="auto: bfloat16 on a CPU with bfloat16 instructions (faster), else float32; float32: always",
    )
    group.add_argument(
        "--batch-size", type=positive_int, default=default.batch_size, help="faces per inference batch"
    )
    group.add_argument("--threads", type=positive_int, help="CPU threads for inference (default: all cores)")
    group.add_argument("--leave-core-free", action="store_true", help="use one CPU thread fewer")
    group.add_argument(
        "--time-limit",
        type=non_negative_float,
        default=default.time_limit_s,
        metavar="SECONDS",
        help="per minute of video (a minute at least): a file that takes longer is reported as timed out "
        "and the batch goes on; 0: no limit",
    )
    group.add_argument("--shard", metavar="K/N", help=SHARD_HELP + " (the JSON report records the shard)")
    group.add_argument("--quiet", action="store_true", help="no progress bar")


def _judging_options(group: argparse._ArgumentGroup, default: AnalysisSettings) -> None:
    group.add_argument(
        "--crop-scale", type=positive_float, default=default.crop_scale, help="face crop / box side"
    )
    group.add_argument(
        "--max-faces", type=positive_int, default=default.max_faces_per_frame, help="faces per frame"
    )
    group.add_argument(
        "--min-track-faces",
        type=positive_int,
        default=default.min_track_faces,
        help="faces a track needs to decide",
    )
    group.add_argument(
        "--window", type=non_negative_float, default=default.window_s, help="scoring stretch in seconds"
    )
    group.add_argument(
        "--window-faces",
        type=positive_int,
        default=default.window_min_faces,
        help="scoring stretch, at least N faces",
    )
    group.add_argument(
        "--top-k", type=non_negative_int, default=default.explain_top_k, help="key frames per track"
    )
    group.add_argument("--cam-level", type=int, choices=[1, 2, 3, 4], help="Grad-CAM level (default: auto)")
    group.add_argument("--no-explain", action="store_true", help="no Grad-CAM, spectra or key-frame pictures")


def _detector_options(group: argparse._ArgumentGroup, detector: DetectorSettings) -> None:
    group.add_argument("--detector", default=detector.model, choices=DETECTOR_CHOICES, help="face detector")
    group.add_argument(
        "--min-confidence", type=fraction, default=detector.min_confidence, help="detector threshold"
    )
    group.add_argument(
        "--min-face-size",
        type=non_negative_int,
        default=detector.min_face_size,
        help="smallest face judged, in pixels",
    )
    group.add_argument("--no-fallback", action="store_true", help="fail rather than use the Haar detector")


def _case_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--case-id", default="", help="case number, printed in the report")
    group.add_argument("--examiner", default="", help="who examined, printed in the report")
    group.add_argument("--organisation", default="", help="printed in the report")
    group.add_argument("--notes", default="", help="printed in the report")


def settings_from_args(args: argparse.Namespace) -> AnalysisSettings:
    """The ``AnalysisSettings`` the options ask for; ValueError naming a bad value."""
    return AnalysisSettings(
        stride=args.stride if args.frames is None else 1,
        frames=args.frames,
        max_frames=args.max_frames,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        cpu_threads=args.threads,
        leave_core_free=args.leave_core_free,
        crop_scale=args.crop_scale,
        max_faces_per_frame=args.max_faces,
        min_track_faces=args.min_track_faces,
        window_s=args.window,
        window_min_faces=args.window_faces,
        explain=not args.no_explain,
        explain_top_k=args.top_k,
        cam_level=args.cam_level,
        time_limit_s=args.time_limit or None,
        detector=DetectorSettings(
            model=args.detector,
            min_confidence=args.min_confidence,
            min_face_size=args.min_face_size,
            allow_fallback=not args.no_fallback,
        ),
    )


def result_line(result: AnalysisResult) -> str:
    """One line for the terminal: the file and its verdict, or why there is none."""
    from cffd_engine.analysis.result import NOT_APPLICABLE

    if result.verdict == NOT_APPLICABLE:
        reason = result.not_applicable.reason if result.not_applicable else ""
        return f"{result.evidence.name}: NOT APPLICABLE: {reason}"
    track = result.track(result.deciding_track)
    assessed = sum(t.counts_for_video for t in result.tracks)
    return (
        f"{result.evidence.name}: {result.verdict_words} (score {result.video_probability:.3f}, track "
        f"{track.track_id}, {assessed} of {len(result.tracks)} track(s) assessed, threshold {result.threshold:.2f})"
    )


def run(args: argparse.Namespace) -> int:
    """Analyse the inputs, print a verdict per file, write the reports; the exit status says if all went."""
    # Imported here, not at the top: building the ``cffd`` parser must not load torch.
    from cffd_engine.analysis.analyzer import Analyzer, analyze_safely
    from cffd_engine.analysis.models import load_analysis_model
    from cffd_engine.jobs import JobControl
    from cffd_engine.media.intake import EVIDENCE_SUFFIXES, pick_files
    from cffd_engine.store import DEFAULT_BUNDLE

    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        raise CFFDError(f"bad option: {exc}") from exc
    shard = parse_shard(args.shard) if args.shard is not None else None
    files, keys = [], []
    for given in args.inputs:  # the same order as pick_files(args.inputs)
        inside = pick_files([given])
        files += inside
        keys += [relative_key(path, given) if path != given else path.name for path in inside]
    if not files:
        given = ", ".join(str(path) for path in args.inputs)
        raise CFFDError(
            f"no files to analyse: the folders given hold no video or image files ({given}); name video or "
            "image files (suffixes: " + ", ".join(sorted(EVIDENCE_SUFFIXES)) + ")"
        )
    extra = {}
    if shard is not None:
        extra["shard"] = shard.record(keys)
        files = [files[position] for position in extra["shard"]["positions"]]
        print(f"shard {shard}: {len(files)} of {len(keys)} input(s)", file=sys.stderr)
    model, info = load_analysis_model(args.model, args.store, DEFAULT_BUNDLE)
    results = []
    try:
        analyzer = Analyzer(settings, model, info)
    except RuntimeError as exc:  # e.g. CUDA asked for on a machine without it
        raise CFFDError(str(exc)) from exc
    with analyzer:
        for index, path in enumerate(files):
            job = JobControl() if args.quiet else progress_bar(f"[{index + 1}/{len(files)}] {path.name[:28]}")
            result = analyze_safely(analyzer, path, job)
            print(result_line(result), flush=True)
            results.append(result)
    failed = [r for r in results if not r.analysed]
    if args.report is not None or args.json is not None:
        from cffd_engine.report import CaseInfo, write_report

        case = CaseInfo(args.case_id, args.examiner, args.organisation, args.notes)
        job = JobControl() if args.quiet else progress_bar("report")
        try:
            written = write_report(results, args.report, args.json, case, job, extra)
        except OSError as exc:
            raise CFFDError(f"the report cannot be written: {exc}") from exc
        if written.pdf is not None:
            print(f"report: {written.pdf}")
        print(f"JSON:   {written.json} (SHA-256 {written.json_sha256})")
    if failed:
        print(f"{len(failed)} of {len(results)} input(s) could not be analysed:", file=sys.stderr)
        for result in failed:
            print(f"  {result.evidence.path}: {result.not_applicable.reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``cffd analyze`` on its own (argv in, exit status out), as the analysis benchmark runs it."""
    parser = argparse.ArgumentParser(prog="cffd analyze", description="Analyse videos for manipulated faces.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CFFDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
