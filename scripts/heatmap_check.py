"""Measure where a model's Grad-CAM heatmaps point, against the regions the synthetic families changed.

    .venv/bin/python scripts/heatmap_check.py --model resources/default-model.cffd --faces 40 \
        --out docs/heatmap-check.json

Real photos the default recipe never used: UTKFace in the builder's own shuffled order
(seed 0), taken from the end of it (training takes its photos and donors from the start).
Each family's forgery of each photo is cropped as analysis crops; see
``cffd_engine.analysis.heatmap_check`` for the figures. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cffd_engine.analysis import load_analysis_model
from cffd_engine.analysis.heatmap_check import heatmap_check
from cffd_engine.data.synth import FAMILY_NAMES, Face
from cffd_engine.data.synth.builder import photos_never_built
from cffd_engine.data.synth.pool import shared_faces_candidates
from cffd_engine.media.faces import FaceLandmarker
from cffd_engine.media.video import read_image
from cffd_engine.store import ModelStore


def held_out_faces(count: int) -> list[Face]:
    folder = next((f for f in shared_faces_candidates() if f.is_dir()), None)
    if folder is None:
        raise SystemExit("UTKFace not found: set CFFD_SHARED_DATA to the folder holding faces/utkface")
    faces = []
    with FaceLandmarker(max_faces=1) as landmarker:
        for path in reversed(photos_never_built(folder)):
            image = read_image(path)
            found = landmarker.landmarks(image)
            if found:
                faces.append(Face(image, found[0], path.name))
            if len(faces) == count:
                break
    return faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="a .cffd bundle")
    parser.add_argument("--faces", type=int, default=40, help="photos per family")
    parser.add_argument("--families", default=",".join(FAMILY_NAMES))
    parser.add_argument("--out", type=Path, default=Path("heatmap_check.json"))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    faces = held_out_faces(args.faces)
    donors = faces[::-1]
    with tempfile.TemporaryDirectory() as store_dir:
        version = ModelStore(store_dir).import_bundle(args.model).version
        model, _ = load_analysis_model(version, store=store_dir)
        figures = heatmap_check(model, faces, donors, args.families.split(","), fused_levels=(1, 2, 3, 4))
    print("| family | level | faces | heat inside the region | region's share of the crop | peak inside |")
    print("| --- | --- | --- | --- | --- | --- |")
    for family, levels in figures.items():
        for level, f in levels.items():
            print(
                f"| {family} | {level} | {f['faces']} | {f['mass_inside']:.3f} | {f['region_share']:.3f} | "
                f"{f['pointing']:.3f} |"
            )
    seconds = time.perf_counter() - started
    args.out.write_text(
        json.dumps({"model": str(args.model), "seconds": round(seconds, 1), "figures": figures}, indent=2)
    )
    print(f"{seconds:.0f} s; written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
