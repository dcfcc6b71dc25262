"""FaceForensics++ and Google's DeepFakeDetection (DFD), as the FaceForensics download script lays them out.

```
<root>/original_sequences/youtube/{raw,c23,c40}/videos/000.mp4            FF++ real
<root>/manipulated_sequences/<Method>/{raw,c23,c40}/videos/000_003.mp4    FF++ fake (target_source)
<root>/original_sequences/actors/<comp>/videos/01__walking.mp4            DFD real
<root>/manipulated_sequences/DeepFakeDetection/<comp>/videos/01_02__walking__ABC.mp4   DFD fake
<root>/splits/{train,val,test}.json   (or in <root>)   FF++'s official splits: lists of [id, id] pairs
```
"""

from __future__ import annotations

import json
from pathlib import Path

from cffd_engine.data.adapters.common import check_root, hashed_split, videos_in
from cffd_engine.data.manifest import (
    COMPRESSIONS,
    FAKE,
    REAL,
    SPLITS,
    DatasetLayoutError,
    Manifest,
    ManifestEntry,
    canonical_method,
)

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
DFD_METHOD = "DeepFakeDetection"
SPLITS_SOURCE = "the FaceForensics repository (github.com/ondyari/FaceForensics, folder dataset/splits)"
FFPP_FIX = (
    "Point to the FaceForensics++ root that holds original_sequences/ and manipulated_sequences/, "
    "as the official download script creates it (e.g. --compression c23)"
)


def _compressions(root: Path, source: Path, compression: str | None) -> list[str]:
    if compression is not None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; choose one of {', '.join(COMPRESSIONS)}")
        return [compression]
    found = [c for c in COMPRESSIONS if (source / c / "videos").is_dir()]
    return found or ["c23"]


def _find_split_files(root: Path, splits_dir: Path | str | None) -> tuple[dict[str, Path], list[Path]]:
    folders = [Path(splits_dir)] if splits_dir is not None else [root / "splits", root]
    found = {}
    for split in SPLITS:
        for folder in folders:
            if (folder / f"{split}.json").is_file():
                found[split] = folder / f"{split}.json"
                break
    return found, folders


def read_splits(root: Path, splits_dir: Path | str | None = None) -> dict[str, str]:
    """Video id ('953') and pair ('953_974', both orders) -> split, from the official JSON files."""
    found, folders = _find_split_files(root, splits_dir)
    missing = [split for split in SPLITS if split not in found]
    if missing:
        where = " or ".join(str(folder) for folder in folders)
        raise DatasetLayoutError(
            root,
            [f"{split}.json (FF++ split file; looked in {where})" for split in missing],
            f"Download train.json, val.json and test.json from {SPLITS_SOURCE} into {root / 'splits'}",
        )
    split_of: dict[str, str] = {}
    for split, path in found.items():
        try:
            pairs = json.loads(path.read_text(encoding="utf-8"))
            for first, second in pairs:
                for key in (str(first), str(second), f"{first}_{second}", f"{second}_{first}"):
                    split_of[key] = split
        except (json.JSONDecodeError, TypeError, ValueError, RecursionError) as exc:
            raise DatasetLayoutError(
                root,
                [f"{path}: a JSON list of [id, id] pairs ({exc.__class__.__name__}: {exc})"],
                f"Replace it with the official file from {SPLITS_SOURCE}",
            ) from exc
    return split_of


def _missing_videos(folder: Path, root: Path) -> str | None:
    if not folder.is_dir():
        return str(folder.relative_to(root))
    if not videos_in(folder):
        return f"{folder.relative_to(root)} (the folder is there but holds no videos)"
    return None


def load_ffpp(
    root: Path | str,
    compression: str | None = "c23",
    methods: list[str] | None = None,
    splits_dir: Path | str | None = None,
) -> Manifest:
    """FF++ real (youtube) and manipulated videos with the official splits; ``methods`` defaults to all present.

    Raises DatasetLayoutError naming every missing folder or split file.
    Videos that no split file lists are left out, and a note says how many.
    """
    root = check_root(root, FFPP_FIX)
    youtube = root / "original_sequences" / "youtube"
    compressions = _compressions(root, youtube, compression)
    manipulated = root / "manipulated_sequences"
    wanted = [canonical_method(m) for m in methods] if methods else None
    candidates = wanted or [m for m in FFPP_METHODS if (manipulated / m).is_dir()]
    missing = []
    for comp in compressions:
        if problem := _missing_videos(youtube / comp / "videos", root):
            missing.append(f"{problem} (real videos)")
        if not candidates:
            missing.append(
                f"manipulated_sequences/<method>/{comp}/videos for any of {', '.join(FFPP_METHODS)}"
            )
        for method in candidates:
            if problem := _missing_videos(manipulated / method / comp / "videos", root):
                missing.append(f"{problem} ({method} videos)")
    if missing:
        raise DatasetLayoutError(root, missing, FFPP_FIX)
    split_of = read_splits(root, splits_dir)

    manifest = Manifest()
    unlisted = []
    sources = [(REAL, "real", youtube)] + [(FAKE, m, manipulated / m) for m in candidates]
    for comp in compressions:
        for label, method, base in sources:
            for video in videos_in(base / comp / "videos"):
                split = split_of.get(video.stem)
                if split is None:
                    unlisted.append(video)
                    continue
                manifest.entries.append(
                    ManifestEntry(str(video), label, split, method, "ff++", comp, video.stem)
                )
    if unlisted:
        manifest.notes.append(
            f"{len(unlisted)} FF++ video(s) are in no split file and were left out, e.g. {unlisted[0]}"
        )
    return manifest


def _actor(video: Path) -> str:
    """DFD names start with the filmed actor's id: '01__scene.mp4', '01_02__scene__CODE.mp4'."""
    return video.stem.split("__")[0].split("_")[0]


def load_dfd(
    root: Path | str, compression: str | None = "c23", val_fraction: float = 0.1, test_fraction: float = 0.2
) -> Manifest:
    """DFD's actor videos (real) and DeepFakeDetection videos (fake), in the FF++ layout.

    DFD has no official split: each actor's videos, real and fake, go to one
    split chosen by a hash of the actor id (the same everywhere).
    """
    fix = (
        "Point to the folder that holds original_sequences/actors and "
        "manipulated_sequences/DeepFakeDetection, as the FaceForensics download script creates them"
    )
    root = check_root(root, fix)
    actors = root / "original_sequences" / "actors"
    fakes = root / "manipulated_sequences" / DFD_METHOD
    compressions = _compressions(root, actors, compression)
    missing = []
    for comp in compressions:
        for folder, what in ((actors, "real actor videos"), (fakes, "DeepFakeDetection videos")):
            if problem := _missing_videos(folder / comp / "videos", root):
                missing.append(f"{problem} ({what})")
    if missing:
        raise DatasetLayoutError(root, missing, fix)
    manifest = Manifest(notes=["DFD has no official split: split by actor id (hashed)"])
    for comp in compressions:
        for label, method, base in ((REAL, "real", actors), (FAKE, DFD_METHOD, fakes)):
            for video in videos_in(base / comp / "videos"):
                split = hashed_split(f"dfd-actor-{_actor(video)}", val_fraction, test_fraction)
                manifest.entries.append(
                    ManifestEntry(str(video), label, split, method, "dfd", comp, video.stem)
                )
    return manifest
