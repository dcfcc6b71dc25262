"""From the analyst's examples (videos, images, folders, reviewed faces) to the faces a new task learns from.

The wizard runs ``gather_faces`` in a worker and shows what it found; ``cffd learn`` with
``[examples] forgery = ...`` calls it too, so both take the same files from one folder
(``media.intake.pick_files``) and find the same faces in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cffd_engine.analysis.review_queue import GENUINE, MANIPULATED, ReviewQueue
from cffd_engine.continual import SampleSet, TaskData, from_arrays
from cffd_engine.continual.samples import FAKE, REAL
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.detectors import create_face_detector
from cffd_engine.media.intake import pick_files
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces

FACES_PER_VIDEO = 32
MIN_THUMBNAIL_SIZE = 128


@dataclass
class SourceFaces:
    """What one example file gave: how many faces, or why none."""

    path: Path
    label: int  # FAKE or REAL
    faces: int = 0
    problem: str | None = None


@dataclass
class GatheredFaces:
    """Face crops of the new forgery (``fake``) and genuine ones (``real``), with their sources."""

    fake: list[np.ndarray] = field(default_factory=list)
    real: list[np.ndarray] = field(default_factory=list)
    fake_groups: list[str] = field(default_factory=list)
    real_groups: list[str] = field(default_factory=list)
    sources: list[SourceFaces] = field(default_factory=list)
    reviewed: dict[str, int] = field(default_factory=lambda: {GENUINE: 0, MANIPULATED: 0})

    def leave_out(self, fake: set[int], real: set[int]) -> None:
        """Drop the faces at these positions (the analyst saw they are not what they meant)."""
        self.fake = [face for i, face in enumerate(self.fake) if i not in fake]
        self.fake_groups = [group for i, group in enumerate(self.fake_groups) if i not in fake]
        self.real = [face for i, face in enumerate(self.real) if i not in real]
        self.real_groups = [group for i, group in enumerate(self.real_groups) if i not in real]

    def task_data(self, name: str, description: str, size: int) -> TaskData:
        """The new task at the model's input size; faces of one video stay together when split."""
        images = self.fake + self.real
        labels = [FAKE] * len(self.fake) + [REAL] * len(self.real)
        samples = from_arrays(images, labels, size, name)
        groups = self.fake_groups + self.real_groups
        samples = SampleSet(samples.images, samples.labels, samples.tasks, samples.ids, groups)
        return TaskData(name=name, samples=samples, description=description)


def _group_names(sources: list[SourceFaces], label: int) -> dict[Path, str]:
    """One group per source file when there are several to split between training and validation.

    With a single source, grouping would put all of it on one side of the split; its faces are
    then split one by one instead.
    """
    useful = [s for s in sources if s.label == label and s.faces]
    if len(useful) < 2:
        return {}
    return {s.path: str(s.path) for s in useful}


def gather_faces(
    fake_paths: list[Path],
    real_paths: list[Path],
    crop_size: int,
    review: ReviewQueue | None = None,
    faces_per_video: int = FACES_PER_VIDEO,
    job: JobControl | None = None,
) -> GatheredFaces:
    """Detect and crop the faces in every example (folders: their videos and images, recursively).

    A file that cannot be read or shows no face is reported in ``sources`` and skipped.
    ``review`` adds the faces the analyst marked in the review queue.
    """
    job = ensure_job(job)
    size = max(crop_size, MIN_THUMBNAIL_SIZE)
    work = [(path, FAKE) for path in pick_files(fake_paths)]
    work += [(path, REAL) for path in pick_files(real_paths)]
    settings = FaceExtractionSettings(crop_size=size, frames=faces_per_video)
    gathered = GatheredFaces()
    crops: dict[Path, list[np.ndarray]] = {}
    detector = create_face_detector(settings.detector)
    try:
        for index, (path, label) in enumerate(work):
            source = SourceFaces(path, label)
            gathered.sources.append(source)
            sub = job.sub(index / max(len(work), 1), (index + 1) / max(len(work), 1))
            sub.report(0.0, f"looking for faces in {path.name}")
            try:
                extraction = extract_faces(path, settings, detector=detector, job=sub)
            except CFFDError as exc:
                source.problem = str(exc)
                continue
            crops[path] = [crop.image for crop in extraction.crops]
            source.faces = len(crops[path])
            if not source.faces:
                source.problem = extraction.not_applicable
    finally:
        detector.close()
    for label, images, groups in (
        (FAKE, gathered.fake, gathered.fake_groups),
        (REAL, gathered.real, gathered.real_groups),
    ):
        names = _group_names(gathered.sources, label)
        for source in gathered.sources:
            if source.label == label and source.faces:
                images += crops[source.path]
                groups += [names.get(source.path, "")] * source.faces
    if review is not None:
        for label, images, groups in (
            (MANIPULATED, gathered.fake, gathered.fake_groups),
            (GENUINE, gathered.real, gathered.real_groups),
        ):
            reviewed = review.images(label)
            images += reviewed
            groups += [""] * len(reviewed)
            gathered.reviewed[label] = len(reviewed)
    job.report(1.0, "faces ready")
    return gathered
