"""Issue 22's must-show, measured: the wizard's update on a fresh store seeded only from the shipped default.

    .venv/bin/python scripts/wizard_update_check.py --photos ../shared/data/faces/utkface --out DIR \
        [--clips 40] [--own-faces 640] [--epochs 5] [--faces-per-video 8] [--threads 2] [--seed 0] [--cpu-bfloat16]
        [--settings '{"strategy": {"lambda_slkd": 1.0}}'] [--from-run EARLIER_DIR]

From face photos it makes what an analyst would have: short H.264 clips of genuine faces (one photo
each, a slow zoom and drift over a blurred backdrop), a morph forgery of each clip with its pristine
twin (``manipulate_video``: the fifth family, which the default never saw; another photo as donor), and
a folder of other genuine faces (links, nothing copied). A fresh store installs the shipped default,
rebuilds its memory from those own faces (as the wizard's first page does), then learns the morph
videos as the wizard does: ``gather_faces`` over the forgeries and their twins, the wizard's share of
faces kept aside (whole sources: a forgery and its twin together), the wizard's settings. Prints
accuracy and AUC on every family before and after, and writes them to DIR/report.json; the candidate
is discarded. The photos for clips, donors and own faces are disjoint and none is one the default
was built from (the back half of its build order); ``--seed`` draws other ones.

``--extra-genuine N`` adds N genuine clips of further photos beside the twins (more of the analyst's
own footage). To compare update settings on one draw: ``--settings`` changes the wizard's defaults (a JSON object laid
out as ``ContinualSettings.to_dict``), and ``--from-run`` takes the clips, forgeries and a copy of the
store with its rebuilt memory from an earlier run of the same draw instead of making them again.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import av
import cv2
import numpy as np

CLIP_SIDE = 360
CLIP_FRAMES = 48
CLIP_FPS = 24


def write_clip(photo: Path, out: Path, rng: random.Random) -> None:
    """Two seconds of ``photo``'s face drifting and zooming slowly, H.264 at a random quality."""
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    backdrop = cv2.GaussianBlur(cv2.resize(image, (CLIP_SIDE, CLIP_SIDE)), (0, 0), 12)
    dx, dy, zoom = rng.uniform(-20, 20), rng.uniform(-15, 15), rng.uniform(0.04, 0.10)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width = stream.height = CLIP_SIDE
        stream.pix_fmt = "yuv420p"
        # mbtree reads memory it never wrote (see synth.base): without it the same clip gives the same bytes.
        stream.options = {"crf": str(rng.choice([20, 23, 26, 28])), "x264-params": "mbtree=0"}
        for t in np.linspace(0.0, 1.0, CLIP_FRAMES):
            size = int(250 * (1 + zoom * t))
            face = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
            frame = backdrop.copy()
            x, y = int((CLIP_SIDE - size) / 2 + dx * t), int((CLIP_SIDE - size) / 2 + dy * t)
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + size, CLIP_SIDE), min(y + size, CLIP_SIDE)
            frame[y0:y1, x0:x1] = face[y0 - y : y1 - y, x0 - x : x1 - x]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def make_examples(photos: list[Path], donors: list[Path], out: Path, seed: int) -> tuple[Path, Path]:
    """(forgeries, twins): a morph of each clip in one folder, its pristine twin in the other."""
    from cffd_engine.data.synth.videos import manipulate_video

    clips, fake, genuine = out / "clips", out / "forgery", out / "genuine"
    for folder in (clips, fake, genuine):
        folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for index, (photo, donor) in enumerate(zip(photos, donors, strict=True)):
        clip = clips / f"clip{index:03d}.mp4"
        write_clip(photo, clip, rng)
        try:
            manipulate_video(
                clip,
                fake / clip.name,
                "morph",
                donor=donor,
                seed=index,
                pristine=genuine / f"clip{index:03d}_pristine.mp4",
            )
        except ValueError as exc:  # a photo or donor whose face the landmarker cannot fit
            print(f"skipped {clip.name}: {exc}")
    return fake, genuine


def draw_photos(args) -> list[Path]:
    """The draw's photos in order: clips, donors, own faces, then the extra genuine clips' photos."""
    from cffd_engine.data.synth.builder import photos_never_built

    photos = photos_never_built(args.photos)  # an analyst's faces are none the default trained on
    random.Random(7 + args.seed).shuffle(photos)
    return photos


def make_extra_genuine(args, photos: list[Path]) -> Path:
    """``--extra-genuine`` more genuine clips, of the draw's ``photos`` used nowhere else: other footage of
    the analyst's own, given beside the forgeries' twins."""
    start = 2 * args.clips + args.own_faces
    folder = args.out / "genuine-extra"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1000 + args.seed)
    for index, photo in enumerate(photos[start : start + args.extra_genuine]):
        write_clip(photo, folder / f"extra{index:03d}.mp4", rng)
    return folder


def make_inputs(args, photos: list[Path], figures: dict, store) -> tuple[Path, Path, str]:
    """The draw's forgeries and twins, and ``store`` with the shipped default and its memory rebuilt
    from the draw's own faces: (forgeries, twins, the version to update)."""
    from cffd_engine.store.versions import DEFAULT_BUNDLE
    from cffd_engine.training import restore_training_faces

    own = args.out / "own-faces"
    own.mkdir(parents=True, exist_ok=True)
    for photo in photos[2 * args.clips : 2 * args.clips + args.own_faces]:
        link = own / photo.name
        if not link.exists():
            link.symlink_to(photo.resolve())

    started = time.time()
    fake, genuine = make_examples(
        photos[: args.clips], photos[args.clips : 2 * args.clips], args.out, args.seed
    )
    figures["examples_seconds"] = time.time() - started

    started = time.time()
    store.ensure_default(DEFAULT_BUNDLE)
    base = restore_training_faces(store, faces=own)
    figures["rebuild_seconds"] = time.time() - started
    return fake, genuine, base


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, required=True, help="folder of genuine face photos")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--own-faces", type=int, default=640)
    parser.add_argument("--epochs", type=int, help="passes over the examples (default: the wizard's)")
    parser.add_argument("--faces-per-video", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="another draw of photos, clips and donors")
    parser.add_argument("--cpu-bfloat16", action="store_true", help="train in bfloat16 on a CPU that has it")
    parser.add_argument("--settings", type=json.loads, default={}, help="changes to the wizard's settings")
    parser.add_argument("--from-run", type=Path, help="an earlier run's DIR of this draw: reuse its examples")
    parser.add_argument(
        "--extra-genuine", type=int, default=0, help="this many more genuine clips beside the twins"
    )
    args = parser.parse_args()

    from app.wizard.settings_page import validation_faces
    from cffd_engine.continual import learn_task, update_settings
    from cffd_engine.continual.examples import gather_faces
    from cffd_engine.store import ModelStore

    figures: dict = {"arguments": {k: str(v) for k, v in vars(args).items()}}
    photos = draw_photos(args)
    if args.from_run:
        earlier = json.loads((args.from_run / "report.json").read_text())["arguments"]
        for key in ("photos", "clips", "own_faces", "seed"):
            if earlier[key] != figures["arguments"][key]:
                parser.error(
                    f"--from-run {args.from_run} drew with {key} = {earlier[key]}, not {getattr(args, key)}"
                )
        fake, genuine = args.from_run / "forgery", args.from_run / "genuine"
        shutil.copytree(args.from_run / "store", args.out / "store")
        store = ModelStore(args.out / "store")
        base = store.active_version()
    else:
        store = ModelStore(args.out / "store")
        fake, genuine, base = make_inputs(args, photos, figures, store)
    genuine_folders = [genuine] + ([make_extra_genuine(args, photos)] if args.extra_genuine else [])
    started = time.time()
    gathered = gather_faces([fake], genuine_folders, 160, faces_per_video=args.faces_per_video)
    figures["faces"] = {"forgery": len(gathered.fake), "genuine": len(gathered.real)}
    figures["gather_seconds"] = time.time() - started
    train = {"threads": args.threads, "cpu_bfloat16": args.cpu_bfloat16}
    if args.epochs is not None:
        train["epochs"] = args.epochs
    settings = update_settings(
        {
            "validation_size": validation_faces(len(gathered.fake)),
            **args.settings,
            "train": {**train, **args.settings.get("train", {})},
        }
    )
    figures["settings"] = settings.to_dict()
    task = gathered.task_data("morph video", f"morph forgeries of {args.clips} photo clips", 160)
    started = time.time()
    candidate = learn_task(store, task, settings, base)
    figures["update_seconds"] = time.time() - started
    report = candidate.report
    figures["report"] = report.to_dict()
    # The threshold is fitted again on every task's genuine faces, the new ones included; it decides
    # whether a changed accuracy is forgetting or the threshold moving (hence accuracy_at_earlier_threshold).
    figures["threshold"] = {"before": report.threshold_before, "after": report.threshold_after}
    candidate.discard()

    print(
        f"{'family':14s} {'faces':>5s}  accuracy before -> after (at the earlier threshold)   AUC before -> after"
    )
    for i, name in enumerate(report.task_names):
        b, a, kept = (
            report.accuracy_before[i],
            report.accuracy_after[i],
            report.accuracy_at_earlier_threshold[i],
        )
        print(
            f"{name:14s} {report.validation_counts[i]:5d}  {b:.3f} -> {a:.3f} ({kept:.3f})"
            f"{'':32s}{report.auc_before[i]:.3f} -> {report.auc_after[i]:.3f}"
        )
    print(report.summary_text())
    print(
        "verdict threshold (calibrated P(fake)): {before:.3f} -> {after:.3f}".format(**figures["threshold"])
    )
    print({k: round(v) for k, v in figures.items() if k.endswith("seconds")})
    (args.out / "report.json").write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()
