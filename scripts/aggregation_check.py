"""Compare rules that turn a track's frame probabilities into a video's score, on real-video checks.

    .venv/bin/python scripts/aggregation_check.py check.json [--out aggregation.json]

Reads the JSON of `scripts/real_video_check.py` (which keeps every assessed track's frame
probabilities). Negatives: the genuine videos and the pristine twins; positives: the manipulated
videos. For each model and rule: the video AUC, and at the model's threshold how many genuine
videos are called manipulated and how many manipulated ones are caught. A video's score is its
highest-scoring track's, as in the analysis. The peak-window rule is the analysis's own
(``cffd_engine.analysis.verdict``), with the default settings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.verdict import peak_window, window_length
from cffd_engine.continual.evaluate import binary_auc

SETTINGS = AnalysisSettings()


def peak(window_s: float) -> Callable[[dict], float]:
    def rule(track: dict) -> float:
        p, times = np.array(track["p"]), np.array(track["times"])
        return peak_window(p, window_length(times, window_s, SETTINGS.window_min_faces))[0]

    return rule


def top_fraction(share: float) -> Callable[[dict], float]:
    def rule(track: dict) -> float:
        p = np.sort(np.array(track["p"]))[::-1]
        return float(p[: max(1, math.ceil(share * len(p)))].mean())

    return rule


RULES: dict[str, Callable[[dict], float]] = {
    "mean": lambda track: float(np.mean(track["p"])),
    "median": lambda track: float(np.median(track["p"])),
    "top 5% mean": top_fraction(0.05),
    "top 10% mean": top_fraction(0.10),
    "top 25% mean": top_fraction(0.25),
    f"peak {SETTINGS.window_s:g} s window (analysis)": peak(SETTINGS.window_s),
    "peak 2 s window": peak(2.0),
    "peak 3 s window": peak(3.0),
}


def video_score(tracks: list[dict], rule: Callable[[dict], float]) -> float | None:
    long_enough = [t for t in tracks if len(t["p"]) >= SETTINGS.min_track_faces] or tracks
    return max((rule(t) for t in long_enough), default=None)


def compare(rows: list[dict]) -> list[dict]:
    out = []
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        threshold = mine[0]["threshold"]
        genuine = [row["tracks"] for row in mine if row["kind"] == "genuine"]
        genuine += [row["twin_tracks"] for row in mine if row["kind"] == "manipulated"]
        manipulated = [row["tracks"] for row in mine if row["kind"] == "manipulated"]
        for name, rule in RULES.items():
            negatives = np.array([s for s in (video_score(t, rule) for t in genuine) if s is not None])
            positives = np.array([s for s in (video_score(t, rule) for t in manipulated) if s is not None])
            scores = np.concatenate([positives, negatives])
            labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
            out.append({
                "model": model, "rule": name, "threshold": threshold,
                "video_auc": binary_auc(scores, labels),
                "genuine_called_manipulated": f"{int((negatives >= threshold).sum())}/{len(negatives)}",
                "manipulated_caught": f"{int((positives >= threshold).sum())}/{len(positives)}",
            })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("check", type=Path, help="JSON written by scripts/real_video_check.py")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    table = compare(json.loads(args.check.read_text(encoding="utf-8")))
    print("| model | rule | video AUC | genuine called manipulated | manipulated caught (threshold) |")
    print("| --- | --- | --- | --- | --- |")
    for row in table:
        print(
            f"| {Path(row['model']).name} | {row['rule']} | {row['video_auc']:.3f} | "
            f"{row['genuine_called_manipulated']} | {row['manipulated_caught']} ({row['threshold']:.2f}) |"
        )
    if args.out:
        args.out.write_text(json.dumps(table, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
