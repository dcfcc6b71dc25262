"""The review queue: faces the analyst judged differently from the model, kept as examples to learn from.

Disputing a verdict ("the evidence is genuine" or "... manipulated") can keep a face track: it cuts up to
``FACES_PER_TRACK`` of its faces from the evidence (the frames the analysis
judged, as it cut them) and keeps them as PNG files with where they came from.
The "learn new forgery" wizard offers them as examples. ``example_label`` decides which
reviews offer their faces; the window asks the analyst and runs ``keep_track`` in a worker.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import platformdirs

from cffd_engine.analysis import AnalysisResult
from cffd_engine.analysis.result import DISPUTED, GENUINE_FINDING, MANIPULATED_FINDING, FrameScore
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.crops import DEFAULT_SIZE, crop_geometry, crop_image
from cffd_engine.media.frames import FrameReader
from cffd_engine.media.video import read_image

GENUINE, MANIPULATED = GENUINE_FINDING, MANIPULATED_FINDING  # a dispute's finding is the faces' label
LABELS = (GENUINE, MANIPULATED)
FACES_PER_TRACK = 24
INDEX = "review.json"
FORMAT = 1


def example_label(decision: str, finding: str | None) -> str | None:
    """The label a reviewed track's faces are kept under: the finding of a dispute, else None.

    Only a dispute teaches the model something it does not know; agreeing keeps nothing.
    """
    return finding if decision == DISPUTED and finding in LABELS else None


def default_review_root() -> Path:
    return Path(platformdirs.user_data_dir("cffd-studio", appauthor=False)) / "review"


@dataclass
class ReviewedFace:
    """One kept face: the analyst's label, the model's score, and where in which evidence it was."""

    id: str
    label: str
    image: str  # file name in the queue's faces/ folder
    evidence_name: str
    evidence_sha256: str | None
    track_id: int
    frame_index: int
    timestamp_s: float
    model_fake_probability: float
    model_version: str | None
    marked_utc: str


class ReviewQueue:
    """Reviewed faces under ``root`` (``review.json`` and ``faces/*.png``); safe to read while written."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_review_root()
        self.faces_dir = self.root / "faces"

    def faces(self, label: str | None = None) -> list[ReviewedFace]:
        try:
            data = json.loads((self.root / INDEX).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        faces = [ReviewedFace(**entry) for entry in data.get("faces", [])]
        return [face for face in faces if label is None or face.label == label]

    def counts(self) -> dict[str, int]:
        faces = self.faces()
        return {label: sum(face.label == label for face in faces) for label in LABELS}

    def images(self, label: str) -> list[np.ndarray]:
        """The kept faces with ``label`` as RGB arrays (missing files are skipped)."""
        return [
            read_image(self.faces_dir / face.image)
            for face in self.faces(label)
            if (self.faces_dir / face.image).is_file()
        ]

    def keep_track(
        self,
        result: AnalysisResult,
        track_id: int,
        label: str,
        job: JobControl | None = None,
        limit: int = FACES_PER_TRACK,
    ) -> int:
        """Cut up to ``limit`` faces of one track from the evidence and keep them as ``label``; returns how many.

        Marking the same track again replaces its earlier faces (the analyst changed their mind).
        """
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {label!r}")
        job = ensure_job(job)
        wanted = frames_to_keep(result, track_id, limit)
        marked = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        kept = [
            self._keep_face(result, track_id, label, marked, score, face)
            for score, face in cut_faces(result, wanted, job)
        ]
        self._replace_track(result.evidence.sha256, track_id, kept)
        return len(kept)

    def _keep_face(
        self,
        result: AnalysisResult,
        track_id: int,
        label: str,
        marked: str,
        score: FrameScore,
        face: np.ndarray,
    ) -> ReviewedFace:
        """Write one face as a PNG in faces/ and say where in the evidence it came from."""
        from cffd_engine.analysis.explain import encode_png  # torch: only when faces are kept

        name = f"{uuid.uuid4().hex}.png"
        atomic_write_bytes(self.faces_dir / name, encode_png(face))
        return ReviewedFace(
            id=name[:-4],
            label=label,
            image=name,
            evidence_name=result.evidence.name,
            evidence_sha256=result.evidence.sha256,
            track_id=track_id,
            frame_index=score.frame_index,
            timestamp_s=score.timestamp_s,
            model_fake_probability=score.fake_probability,
            model_version=result.model.version,
            marked_utc=marked,
        )

    def _replace_track(self, evidence_sha256: str | None, track_id: int, kept: list[ReviewedFace]) -> None:
        """Keep ``kept`` in place of the faces kept earlier from the same track of the same evidence."""
        same = (evidence_sha256, track_id)
        earlier = [face for face in self.faces() if (face.evidence_sha256, face.track_id) != same]
        replaced = [face for face in self.faces() if (face.evidence_sha256, face.track_id) == same]
        self._write(earlier + kept)
        for face in replaced:
            (self.faces_dir / face.image).unlink(missing_ok=True)

    def clear(self, label: str | None = None) -> None:
        """Forget the faces with ``label`` (all when None)."""
        keep = [face for face in self.faces() if label is not None and face.label != label]
        gone = [face for face in self.faces() if face not in keep]
        self._write(keep)
        for face in gone:
            (self.faces_dir / face.image).unlink(missing_ok=True)

    def _write(self, faces: list[ReviewedFace]) -> None:
        atomic_write_json(self.root / INDEX, {"format": FORMAT, "faces": [asdict(face) for face in faces]})


def frames_to_keep(
    result: AnalysisResult, track_id: int, limit: int = FACES_PER_TRACK
) -> dict[int, FrameScore]:
    """Up to ``limit`` of the track's judged frames, evenly spread over it, by frame index."""
    track = result.track(track_id)
    picks = np.linspace(0, len(track.scores) - 1, min(limit, len(track.scores))).round().astype(int)
    return {track.scores[i].frame_index: track.scores[i] for i in sorted(set(picks.tolist()))}


def cut_faces(
    result: AnalysisResult, wanted: dict[int, FrameScore], job: JobControl
) -> list[tuple[FrameScore, np.ndarray]]:
    """Read the evidence again as the analysis did and cut the face of each wanted frame, as it cut it."""
    from cffd_engine.media.faces import FaceDetection  # mediapipe: only when faces are kept

    settings = result.settings
    reader = FrameReader(
        result.evidence.path, stride=settings.stride, count=settings.frames, max_frames=settings.max_frames
    )
    faces: list[tuple[FrameScore, np.ndarray]] = []
    for frame in reader:
        job.check()
        score = wanted.get(frame.index)
        if score is not None:
            height, width = frame.rgb.shape[:2]
            detection = FaceDetection(tuple(score.box), score.detection_score, np.zeros((6, 2)), "analysis")
            geometry = crop_geometry(detection, (width, height), DEFAULT_SIZE, settings.crop_scale)
            faces.append((score, crop_image(frame.rgb, geometry)))
            job.report(len(faces) / len(wanted), "keeping faces for review")
        if frame.index >= max(wanted):
            break
    return faces
