"""Real face photos to forge from: listing a folder, UTKFace's attributes, and cached landmarks.

Running the landmarker over thousands of photos takes minutes, so landmarks
are cached per folder in the user cache directory (never in the repository),
as one ``.npz`` keyed by file name; photos without a face are remembered too.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import platformdirs

from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.intake import IMAGE_SUFFIXES

ENV_SHARED_DATA = "CFFD_SHARED_DATA"
ENV_CACHE = "CFFD_SYNTH_CACHE"
CHUNK = 64


@dataclass(frozen=True)
class Attributes:
    """What a UTKFace file name says about the person; None where it does not say."""

    age: int | None = None
    gender: int | None = None  # 0 male, 1 female
    race: int | None = None  # 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others


def shared_faces_candidates() -> list[Path]:
    """Where the UTKFace photos may be: ``$CFFD_SHARED_DATA/faces/utkface``, then ``../shared/data`` beside the checkout."""
    candidates = []
    if os.environ.get(ENV_SHARED_DATA):
        candidates.append(Path(os.environ[ENV_SHARED_DATA]) / "faces" / "utkface")
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data" / "faces" / "utkface")
    return candidates


def default_faces() -> Path | None:
    """The first of ``shared_faces_candidates`` that exists, or None."""
    return next((folder for folder in shared_faces_candidates() if folder.is_dir()), None)


def list_faces(folder: Path | str) -> list[Path]:
    """Image files directly in ``folder`` (or below it), sorted by relative path so every machine agrees."""
    folder = Path(folder)
    if not folder.is_dir():
        problem = (
            "is a file, not a folder of face photos" if folder.exists() else "no such folder of face photos"
        )
        raise FileNotFoundError(f"{folder}: {problem}; name the folder that holds the photos")
    files = [
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def utk_attributes(name: str) -> Attributes:
    """Age, gender and race from ``age_gender_race_date.jpg.chip.jpg``; missing fields are None."""
    fields = Path(name).name.split("_")

    def number(index: int) -> int | None:
        return int(fields[index]) if len(fields) > index + 1 and fields[index].isdigit() else None

    return Attributes(age=number(0), gender=number(1), race=number(2))


def default_cache_dir() -> Path:
    """``$CFFD_SYNTH_CACHE`` or the user cache directory's ``synth`` folder."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    return Path(platformdirs.user_cache_dir("cffd-studio", appauthor=False)) / "synth"


class LandmarkCache:
    """Landmarks of the photos of one folder, computed once and kept in ``<cache>/landmarks-<folder hash>.npz``."""

    def __init__(self, folder: Path | str, cache_dir: Path | str | None = None):
        self.folder = Path(folder).resolve()
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:16]
        self.path = Path(cache_dir or default_cache_dir()) / f"landmarks-{digest}.npz"
        self._known: dict[str, np.ndarray | None] = {}
        if self.path.exists():
            with np.load(self.path) as data:
                for name, points in zip(data["names"].tolist(), data["landmarks"], strict=True):
                    self._known[name] = None if np.isnan(points).any() else points

    def key(self, path: Path) -> str:
        """The photo's path inside the folder; a photo that is a link to a file elsewhere keeps its own name."""
        path = Path(path)
        return (path.parent.resolve() / path.name).relative_to(self.folder).as_posix()

    def get(
        self, paths: Sequence[Path], workers: int = 1, job: JobControl | None = None
    ) -> list[np.ndarray | None]:
        """The (478, 3) landmarks of the first face of each photo (None: no face), computing what is missing."""
        job = ensure_job(job)
        missing = sorted({self.key(p) for p in paths} - set(self._known))
        if missing:
            chunks = [missing[i : i + CHUNK] for i in range(0, len(missing), CHUNK)]
            done = 0
            if workers > 1 and len(chunks) > 1:
                with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                    futures = [pool.submit(_landmark_chunk, str(self.folder), chunk) for chunk in chunks]
                    try:
                        for future in futures:
                            job.check()
                            done = self._take(future.result(), done, len(missing), job)
                    finally:
                        for future in futures:
                            future.cancel()
                        self.save()
            else:
                try:
                    for chunk in chunks:
                        job.check()
                        done = self._take(_landmark_chunk(str(self.folder), chunk), done, len(missing), job)
                finally:
                    self.save()
        return [self._known[self.key(p)] for p in paths]

    def _take(
        self, results: list[tuple[str, np.ndarray | None]], done: int, total: int, job: JobControl
    ) -> int:
        for name, points in results:
            self._known[name] = points
        done += len(results)
        job.report(done / total, f"face landmarks: {done}/{total} photos")
        return done

    def save(self) -> None:
        """Write the cache atomically (a half-written cache would cost a rerun, never a wrong landmark)."""
        names = sorted(self._known)
        stack = np.full((len(names), 478, 3), np.nan, np.float32)
        for row, name in enumerate(names):
            if self._known[name] is not None:
                stack[row] = self._known[name]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".npz")
        os.close(handle)
        np.savez(temporary, names=np.array(names), landmarks=stack)
        os.replace(temporary, self.path)


def _landmark_chunk(folder: str, names: list[str]) -> list[tuple[str, np.ndarray | None]]:
    from cffd_engine.errors import EvidenceError
    from cffd_engine.media.faces import FaceLandmarker
    from cffd_engine.media.video import read_image

    results: list[tuple[str, np.ndarray | None]] = []
    with FaceLandmarker(max_faces=1) as landmarker:
        for name in names:
            try:
                faces = landmarker.landmarks(read_image(Path(folder) / name))
            except EvidenceError:
                faces = []
            results.append((name, faces[0] if faces else None))
    return results
