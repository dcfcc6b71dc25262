"""The DFDC preview set: videos under original_videos/ and method_A/, method_B/, described by dataset.json.

```
<root>/dataset.json   {"method_A/1255229/1255229_A/1255229_A_001.mp4": {"label": "fake", "set": "train", ...},
                       "original_videos/1255229/1255229_001.mp4": {"label": "real", "set": "test", ...}, ...}
```
The set's train/test are kept; a ``val_fraction`` of the train identities
(hashed, the same everywhere) is kept for validation.
"""

from __future__ import annotations

import json
from pathlib import Path

from cffd_engine.data.adapters.common import check_root, hashed_split
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError, Manifest, ManifestEntry

INDEX = "dataset.json"
FIX = "Point to the DFDC preview folder that holds dataset.json next to original_videos/ and method_A/, method_B/"
LABELS = {"real": REAL, "fake": FAKE}
SETS = {"train": "train", "test": "test", "val": "val", "validation": "val"}


def load_dfdc_preview(root: Path | str, val_fraction: float = 0.1) -> Manifest:
    """DFDC preview entries from dataset.json; DatasetLayoutError if the index is missing or malformed."""
    root = check_root(root, FIX)
    index = root / INDEX
    if not index.is_file():
        raise DatasetLayoutError(root, [f"{INDEX} (the index of labels and sets)"], FIX)
    try:
        described = json.loads(index.read_text(encoding="utf-8"))
        if not isinstance(described, dict):
            raise ValueError("the top level is not an object of path -> {label, set}")
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise DatasetLayoutError(root, [f"{INDEX} as a JSON object ({exc})"], FIX) from exc
    manifest = Manifest()
    absent = []
    for key, info in sorted(described.items()):
        label = LABELS.get(str(info.get("label", "")).lower()) if isinstance(info, dict) else None
        split = SETS.get(str(info.get("set", "")).lower()) if isinstance(info, dict) else None
        if label is None or split is None:
            raise DatasetLayoutError(
                root,
                [f"{INDEX}: entry {key!r} needs 'label' (real/fake) and 'set' (train/test), got {info!r}"],
                FIX,
            )
        parts = Path(key).parts
        if Path(key).is_absolute() or ".." in parts:
            raise DatasetLayoutError(
                root, [f"{INDEX}: entry {key!r} names a file outside the dataset folder"], FIX
            )
        path = root / key
        try:
            present = path.is_file()
        except OSError:  # e.g. a name longer than the file system allows: it cannot be on disk
            present = False
        if not present:
            absent.append(key)
            continue
        identity = parts[1] if len(parts) > 2 else path.stem
        if split == "train":
            split = hashed_split(f"dfdc-p-{identity}", val_fraction)
        method = "real" if label == REAL else parts[0]
        manifest.entries.append(ManifestEntry(str(path), label, split, method, "dfdc-p", None, path.stem))
    if absent and not manifest.entries:
        raise DatasetLayoutError(
            root, [f"the {len(absent)} videos {INDEX} lists (none is on disk, e.g. {absent[0]})"], FIX
        )
    if absent:
        manifest.notes.append(f"{len(absent)} video(s) listed in {INDEX} are not on disk, e.g. {absent[0]}")
    return manifest
