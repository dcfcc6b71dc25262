"""Judge models on real video, side by side: genuine footage, manipulations made from it, the demo.

    .venv/bin/python scripts/real_video_check.py --model OLD.cffd --model NEW.cffd \
        --genuine ../shared/data/videos/*.mp4 --manipulated EVAL/*_swap.mp4 EVAL/*_blend.mp4 \
        EVAL/demo/demo_manipulated.mp4 --out check.json [--summary]

A manipulated video is one written by `cffd synth video` (or `cffd synth demo`): its sidecar JSON
names the manipulated frames and its pristine twin (`X_pristine.mp4`) holds the same frames untouched.
For each, the frame AUC compares P(fake) of the assessed faces on the manipulated frames with the
twin's on the same frames; both videos' verdicts are shown. Genuine videos pass when no assessed
track is called likely manipulated. Prints a table and writes the figures as JSON: every frame's
probability, or with ``--summary`` each track's extent, mean and peak (small enough to keep in docs/).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from cffd_engine.analysis import AnalysisSettings, analyze, load_analysis_model
from cffd_engine.analysis.result import LIKELY_MANIPULATED
from cffd_engine.analysis.settings import PRECISIONS
from cffd_engine.store import ModelStore


def assessed_scores(result, frames: set[int] | None = None) -> np.ndarray:
    return np.array(
        [
            score.fake_probability
            for track in result.tracks
            if track.counts_for_video
            for score in track.scores
            if frames is None or score.frame_index in frames
        ]
    )


def assessed_tracks(result) -> list[dict]:
    """Each assessed track's frame probabilities in time order, for comparing aggregation rules afterwards."""
    return [
        {
            "track": track.track_id,
            "times": [round(score.timestamp_s, 3) for score in track.scores],
            "p": [round(score.fake_probability, 6) for score in track.scores],
        }
        for track in result.tracks
        if track.counts_for_video
    ]


def track_summary(track: dict) -> dict:
    """A track of :func:`assessed_tracks` reduced to its extent, mean and peak probability."""
    p = np.array(track["p"])
    return {
        "track": track["track"],
        "frames": len(p),
        "from_s": track["times"][0],
        "to_s": track["times"][-1],
        "mean_p": round(float(p.mean()), 4),
        "max_p": round(float(p.max()), 4),
    }


def auc(positive: np.ndarray, negative: np.ndarray) -> float | None:
    if not len(positive) or not len(negative):
        return None
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


def sidecar(video: Path) -> dict:
    for candidate in (video.with_suffix(".json"), video.parent / "demo.json"):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise SystemExit(f"{video}: no sidecar JSON naming its manipulated frames (made by cffd synth video?)")


def twin_of(video: Path) -> Path:
    name = video.stem.removesuffix("_manipulated")
    return video.with_name(f"{name}_pristine{video.suffix}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", action="append", required=True, type=Path, help=".cffd file or bundle folder"
    )
    parser.add_argument("--genuine", nargs="*", default=[], type=Path)
    parser.add_argument("--manipulated", nargs="*", default=[], type=Path)
    parser.add_argument("--out", type=Path, default=Path("real_video_check.json"))
    parser.add_argument("--precision", choices=PRECISIONS, default=AnalysisSettings().precision)
    parser.add_argument(
        "--summary", action="store_true", help="write each track's extent, mean and peak, not every frame"
    )
    args = parser.parse_args(argv)

    settings = AnalysisSettings(explain=False, precision=args.precision)
    rows = []
    with tempfile.TemporaryDirectory() as store_dir:
        store = ModelStore(store_dir)
        for model_path in args.model:
            version = store.import_bundle(model_path).version
            model, info = load_analysis_model(version, store=store_dir)
            for video in args.genuine:
                result = analyze(video, settings, model, info)
                scores = assessed_scores(result)
                rows.append({
                    "model": str(model_path), "video": video.name, "kind": "genuine", "verdict": result.verdict,
                    "score": result.video_probability,
                    "assessed_tracks": sum(t.counts_for_video for t in result.tracks),
                    "tracks_called_manipulated": sum(
                        t.counts_for_video and t.verdict == LIKELY_MANIPULATED for t in result.tracks
                    ),
                    "mean_frame_p": float(scores.mean()) if len(scores) else None,
                    "pass": all(not (t.counts_for_video and t.verdict == LIKELY_MANIPULATED) for t in result.tracks),
                    "threshold": result.threshold, "tracks": assessed_tracks(result),
                })  # fmt: skip
            for video in args.manipulated:
                frames = set(sidecar(video)["manipulated_frames"])
                fake, twin = (
                    analyze(video, settings, model, info),
                    analyze(twin_of(video), settings, model, info),
                )
                positive, negative = assessed_scores(fake, frames), assessed_scores(twin, frames)
                frame_auc = auc(positive, negative)
                rows.append({
                    "model": str(model_path), "video": video.name, "kind": "manipulated",
                    "verdict": fake.verdict, "score": fake.video_probability,
                    "twin_verdict": twin.verdict, "twin_score": twin.video_probability,
                    "frame_auc": frame_auc,
                    "mean_p_manipulated": float(positive.mean()) if len(positive) else None,
                    "mean_p_twin": float(negative.mean()) if len(negative) else None,
                    "pass": fake.verdict == LIKELY_MANIPULATED and (frame_auc or 0) >= 0.9,
                    "threshold": fake.threshold, "tracks": assessed_tracks(fake), "twin_tracks": assessed_tracks(twin),
                })  # fmt: skip
    if args.summary:
        for row in rows:
            for key in ("tracks", "twin_tracks"):
                if key in row:
                    row[key] = [track_summary(track) for track in row[key]]
    args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(
        "| model | video | verdict (score) | twin verdict (score) | frame AUC | mean P manip / twin | pass |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        twin = f"{row['twin_verdict']} ({row['twin_score']})" if row["kind"] == "manipulated" else "-"
        means = (
            f"{row['mean_p_manipulated']:.3f} / {row['mean_p_twin']:.3f}"
            if row["kind"] == "manipulated" and row["mean_p_twin"] is not None
            else "-"
        )
        frame_auc = f"{row['frame_auc']:.3f}" if row.get("frame_auc") is not None else "-"
        print(
            f"| {Path(row['model']).name} | {row['video']} | {row['verdict']} ({row['score']}) | {twin} | "
            f"{frame_auc} | {means} | {'yes' if row['pass'] else 'NO'} |"
        )
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
