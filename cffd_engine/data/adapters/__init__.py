"""Dataset adapters: each reads one dataset's real layout into a ``Manifest``.

``load_manifest(root, "ff++", compression="c23")`` is the one entry point; the
options are those of the adapter named. A wrong or partial layout raises
``DatasetLayoutError`` naming what is missing (and, when the folder looks like
another dataset, which one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cffd_engine.data.adapters.celebdf import TEST_LIST, load_celebdf
from cffd_engine.data.adapters.dfdc import INDEX, load_dfdc_preview
from cffd_engine.data.adapters.dfdc_full import load_dfdc, looks_like_dfdc
from cffd_engine.data.adapters.faceforensics import load_dfd, load_ffpp
from cffd_engine.data.adapters.folder import load_folder
from cffd_engine.data.manifest import DatasetLayoutError, Manifest, canonical_dataset

ADAPTERS: dict[str, Callable[..., Manifest]] = {
    "ff++": load_ffpp,
    "celeb-df-v2": load_celebdf,
    "dfdc-p": load_dfdc_preview,
    "dfdc": load_dfdc,
    "dfd": load_dfd,
    "folder": load_folder,
}


def guess_dataset(root: Path | str) -> str | None:
    """Which dataset a folder looks like, from its tell-tale files and folders; None if none."""
    root = Path(root)
    if (root / "original_sequences" / "youtube").is_dir() or (root / "manipulated_sequences").is_dir():
        has_ffpp = (root / "original_sequences" / "youtube").is_dir()
        return "ff++" if has_ffpp else "dfd"
    if (root / "original_sequences" / "actors").is_dir():
        return "dfd"
    if (root / TEST_LIST).is_file() or (root / "Celeb-synthesis").is_dir():
        return "celeb-df-v2"
    if (root / INDEX).is_file():
        return "dfdc-p"
    if looks_like_dfdc(root):
        return "dfdc"
    if (root / "real").is_dir() or (root / "fake").is_dir():
        return "folder"
    return None


def load_manifest(root: Path | str, dataset: str, **options) -> Manifest:
    """The manifest of the dataset at ``root``; ``options`` go to its adapter (e.g. compression, val_fraction)."""
    name = canonical_dataset(dataset)
    try:
        return ADAPTERS[name](root, **options)
    except DatasetLayoutError as exc:
        guess = guess_dataset(root)
        if guess is None or guess == name:
            raise
        raise DatasetLayoutError(
            exc.root, exc.missing, f"{exc.fix}. This folder looks like {guess}: try --dataset {guess}"
        ) from exc
