"""A plain folder of examples: ``real/`` and ``fake/`` (optionally ``fake/<method>/``), videos or images.

Splits are chosen per file by a hash of its path under the root (the same
everywhere): ``val_fraction`` and ``test_fraction`` of the files, the rest train.
"""

from __future__ import annotations

from pathlib import Path

from cffd_engine.data.adapters.common import check_root, hashed_split, media_under, relative
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError, Manifest, ManifestEntry

FIX = (
    "Put real examples in <folder>/real/ and manipulated ones in <folder>/fake/ "
    "(or fake/<method name>/), as videos or images"
)


def load_folder(
    root: Path | str, val_fraction: float = 0.1, test_fraction: float = 0.2, dataset: str = "folder"
) -> Manifest:
    """Entries for every video and image under real/ and fake/; DatasetLayoutError if neither holds any."""
    root = check_root(root, FIX)
    real, fake = media_under(root / "real"), media_under(root / "fake")
    if not real and not fake:
        raise DatasetLayoutError(root, ["real/ with videos or images", "fake/ with videos or images"], FIX)
    manifest = Manifest()
    for name, files in (("real", real), ("fake", fake)):
        if not files:
            manifest.notes.append(
                f"{root / name} has no videos or images: this set has only {'fake' if name == 'real' else 'real'} examples"
            )
    for path in real + fake:
        parts = path.relative_to(root).parts
        label = REAL if parts[0] == "real" else FAKE
        method = "real" if label == REAL else (parts[1] if len(parts) > 2 else "fake")
        split = hashed_split(f"{dataset}-{relative(path, root)}", val_fraction, test_fraction)
        manifest.entries.append(ManifestEntry(str(path), label, split, method, dataset, None, path.stem))
    return manifest
