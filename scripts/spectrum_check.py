"""How far genuine faces fall outside a model's spectrum band: held-out genuine crops and genuine videos.

    .venv/bin/python scripts/spectrum_check.py --model OLD.cffd --model NEW.cffd \
        --sequence WORK/data --videos ../shared/data/videos/*.mp4 --out spectrum_check.json

For each model's reference band (``reference_spectrum.json`` in its bundle): the share of
frequency rings outside the band (``analysis.spectrum.compare``) for the genuine test crops of a
built synthetic sequence (made like the default's training faces, never used to draw its band),
and for the face crops of each video's assessed tracks (found by ``cffd analyze``'s own rules),
cropped as the analysis crops them. Prints median, 95th percentile and mean per model and source.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from cffd_engine.analysis import AnalysisSettings, analyze, load_analysis_model
from cffd_engine.analysis.spectrum import compare, fallback_reference, radial_power
from cffd_engine.continual.protocols import load_synthetic_sequence
from cffd_engine.continual.samples import REAL
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces
from cffd_engine.store import ModelStore


def test_genuine_crops(sequence: Path, size: int) -> list[np.ndarray]:
    return [
        image.permute(1, 2, 0).numpy()
        for task in load_synthetic_sequence(sequence, size)
        for image in task.test.of_label(REAL).images
    ]


def video_crops(video: Path, model, info) -> list[np.ndarray]:
    """Crops of the tracks the analysis assesses (same tracker, same crop), every frame."""
    result = analyze(video, AnalysisSettings(explain=False), model, info)
    assessed = {track.track_id for track in result.tracks if track.counts_for_video}
    settings = FaceExtractionSettings(crop_size=info.input_size)
    return [crop.image for crop in extract_faces(video, settings).crops if crop.track_id in assessed]


def figures(crops: list[np.ndarray], reference) -> dict:
    shares = np.array([compare(radial_power(crop), reference).outside_fraction for crop in crops])
    return {
        "faces": len(shares),
        "median": round(float(np.median(shares)), 4),
        "p95": round(float(np.percentile(shares, 95)), 4),
        "mean": round(float(shares.mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, action="append", required=True, help=".cffd bundle (repeatable)"
    )
    parser.add_argument(
        "--sequence", type=Path, help="a built synthetic sequence (cffd synth build / cffd train)"
    )
    parser.add_argument("--videos", type=Path, nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=Path("spectrum_check.json"))
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as store_dir:
        store = ModelStore(store_dir)
        for path in args.model:
            model, info = load_analysis_model(store.import_bundle(path).version, store=store_dir)
            sources = {}
            if args.sequence:
                sources["held-out genuine crops"] = test_genuine_crops(args.sequence, info.input_size)
            for video in args.videos:
                sources[video.name] = video_crops(video, model, info)
            bands = {"its band": info.reference or fallback_reference(), "generic band": fallback_reference()}
            for band_name, reference in bands.items():
                for source, crops in sources.items():
                    row = {"model": path.name, "band": band_name, "band_source": reference.describe()}
                    rows.append({**row, "faces_from": source, **figures(crops, reference)})
    print("| model | band | faces from | faces | rings outside: median | 95th percentile | mean |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['model']} | {r['band']} | {r['faces_from']} | {r['faces']} | {100 * r['median']:.0f}% | "
            f"{100 * r['p95']:.0f}% | {100 * r['mean']:.0f}% |"
        )
    args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
