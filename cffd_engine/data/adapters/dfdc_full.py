"""The full DFDC release (Kaggle's Deepfake Detection Challenge): train parts, each with its metadata.json.

```
<root>/dfdc_train_part_0/metadata.json   {"aaqaifqrwn.mp4": {"label": "FAKE", "split": "train",
                                                             "original": "vudstovrck.mp4"},
                                          "vudstovrck.mp4": {"label": "REAL", "split": "train",
                                                             "original": null}, ...}
<root>/dfdc_train_part_0/aaqaifqrwn.mp4
...
<root>/dfdc_train_part_49/metadata.json
```
The root may also be one part folder (or any folder with such a metadata.json
beside its videos, e.g. Kaggle's train_sample_videos).

Labels are REAL/FAKE (any case). DFDC does not name the method behind each
fake, so fakes have the one method ``DFDC`` and real videos ``real``.

Splits: the parts are all "train" and DFDC publishes no split of them, so
every video goes to the split chosen by a stable hash of its *original's*
name (a real video is its own original): ``test_fraction`` and
``val_fraction`` of the originals, the rest train, the same on every machine.
A fake therefore always lands in its original's split, even when the two are
in different parts or the original is in no part at hand, and no source
video is seen in training and tested on. ``video_id`` is the original's
stem, shared by a real video and all its fakes; the path tells them apart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from cffd_engine.data.adapters.common import check_root, hashed_split, videos_in
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError, Manifest, ManifestEntry

METADATA = "metadata.json"
PART_PATTERN = "dfdc_train_part_*"
METHOD = "DFDC"
DATASET = "dfdc"
LABELS = {"real": REAL, "fake": FAKE}
FIX = (
    "Point to the folder that holds the unpacked dfdc_train_part_0/ ... dfdc_train_part_49/ "
    f"(or to one part), each with its {METADATA} beside its videos, as the DFDC archives unpack"
)


def _part_number(folder: Path) -> tuple[int, str]:
    """Parts in numeric order (part_2 before part_10); odd names after, by name."""
    match = re.search(r"(\d+)$", folder.name)
    return (int(match.group(1)) if match else 1 << 30, folder.name)


def part_folders(root: Path) -> list[Path]:
    """The DFDC train parts under ``root``; ``[root]`` if root is itself a part (its metadata.json beside it)."""
    try:
        parts = sorted((p for p in root.glob(PART_PATTERN) if p.is_dir()), key=_part_number)
    except OSError:
        parts = []
    if not parts and (root / METADATA).is_file():
        return [root]
    return parts


def looks_like_dfdc(root: Path) -> bool:
    """Part folders under root, or root a part folder with its metadata.json."""
    if (root / METADATA).is_file() and re.fullmatch(r"dfdc_train_part_\d+", root.name):
        return True
    try:
        return any(p.is_dir() for p in root.glob(PART_PATTERN))
    except OSError:
        return False


def _stem(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).stem or name


def _read_metadata(root: Path, part: Path) -> dict[str, tuple[int, str | None]]:
    """One part's metadata.json as file name -> (label, original's file name or None)."""
    path = part / METADATA
    shown = path.relative_to(root).as_posix()
    try:
        described = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(described, dict):
            raise ValueError("the top level is not an object of file name -> {label, original}")
    except (OSError, ValueError, RecursionError) as exc:  # bad JSON and bad UTF-8 are ValueErrors
        raise DatasetLayoutError(root, [f"{shown} as a JSON object ({exc})"], FIX) from exc
    listed = {}
    for name, info in described.items():
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise DatasetLayoutError(
                root,
                [f"{shown}: entry {name!r} is not a file name (metadata.json names the videos beside it)"],
                FIX,
            )
        label = LABELS.get(str(info.get("label", "")).lower()) if isinstance(info, dict) else None
        original = info.get("original") if isinstance(info, dict) else None
        if label is None or not isinstance(original, str | None):
            raise DatasetLayoutError(
                root,
                [
                    f"{shown}: entry {name!r} needs 'label' (REAL/FAKE) and, for a fake, "
                    f"'original' (a file name or null), got {info!r}"
                ],
                FIX,
            )
        listed[name] = (label, (original.strip() or None) if original is not None else None)
    return listed


def load_dfdc(root: Path | str, val_fraction: float = 0.1, test_fraction: float = 0.2) -> Manifest:
    """Entries of every DFDC train part under ``root``; DatasetLayoutError if none or a metadata.json is bad."""
    root = check_root(root, FIX)
    parts = part_folders(root)
    if not parts:
        raise DatasetLayoutError(root, [f"{PART_PATTERN}/ folders, each with its {METADATA}"], FIX)
    no_metadata = [
        f"{p.relative_to(root).as_posix()}/{METADATA}" for p in parts if not (p / METADATA).is_file()
    ]
    if no_metadata:
        raise DatasetLayoutError(root, no_metadata, FIX)
    listed = {part: _read_metadata(root, part) for part in parts}
    everywhere = {name for names in listed.values() for name in names}
    manifest = Manifest(notes=["DFDC's train parts have no split: split by original video (hashed)"])
    absent, unlisted, orphans, no_original = [], [], [], []
    for part, names in listed.items():
        for name, (label, original) in sorted(names.items()):
            path = part / name
            try:
                present = path.is_file()
            except OSError:  # e.g. a name longer than the file system allows: it cannot be on disk
                present = False
            if not present:
                absent.append(path.relative_to(root).as_posix())
                continue
            if label == REAL:
                source = name
            elif original is None:
                no_original.append(path.relative_to(root).as_posix())
                source = name
            else:
                source = original
                if original not in everywhere:
                    orphans.append(path.relative_to(root).as_posix())
            group = _stem(source)
            split = hashed_split(f"{DATASET}-{group}", val_fraction, test_fraction)
            method = "real" if label == REAL else METHOD
            manifest.entries.append(ManifestEntry(str(path), label, split, method, DATASET, None, group))
        unlisted += [v.relative_to(root).as_posix() for v in videos_in(part) if v.name not in names]
    if absent and not manifest.entries:
        raise DatasetLayoutError(
            root,
            [f"the {len(absent)} videos the {METADATA} files list (none is on disk, e.g. {absent[0]})"],
            FIX,
        )
    if absent:
        manifest.notes.append(
            f"{len(absent)} video(s) listed in {METADATA} are not on disk, e.g. {absent[0]}"
        )
    if unlisted:
        manifest.notes.append(
            f"{len(unlisted)} video(s) are in no {METADATA}, so without a label: left out, e.g. {unlisted[0]}"
        )
    if orphans:
        manifest.notes.append(
            f"{len(orphans)} fake(s) name an original that is in no part here: kept, in the split of "
            f"the original's name, e.g. {orphans[0]}"
        )
    if no_original:
        manifest.notes.append(
            f"{len(no_original)} fake(s) name no original: each is split by its own name, e.g. {no_original[0]}"
        )
    return manifest
