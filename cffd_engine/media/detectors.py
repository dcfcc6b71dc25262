"""Choosing a face detector: mediapipe's when its model files can be had, else OpenCV's Haar cascade.

The Haar cascade needs no network and no download, but it is a weaker detector
(frontal faces only, more false alarms, no real keypoints), so every detection
it makes carries its name and the detector says ``is_fallback``; results
built on it must say so too.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from cffd_engine import assets
from cffd_engine.errors import AssetError
from cffd_engine.media.faces import FaceDetection, FaceDetector

log = logging.getLogger(__name__)

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
HAAR_ENV = "CFFD_HAAR_CASCADE"
DETECTOR_MODELS = ("short", "full", "haar")

# Where the keypoints of a frontal face lie in its Haar box, in mediapipe's order
# (the subject's right eye, left eye, nose tip, mouth centre, right ear, left ear).
_HAAR_KEYPOINTS = np.array(
    [[0.32, 0.40], [0.68, 0.40], [0.50, 0.60], [0.50, 0.78], [0.08, 0.48], [0.92, 0.48]], np.float32
)


@dataclass
class DetectorSettings:
    """Which detector and how strict: model ``short``/``full`` (mediapipe) or ``haar``; threshold; smallest face."""

    model: str = "short"
    min_confidence: float = 0.5
    min_face_size: int = 32
    allow_fallback: bool = True

    def __post_init__(self) -> None:
        if self.model not in DETECTOR_MODELS:
            raise ValueError(f"unknown detector {self.model!r}; choose one of {', '.join(DETECTOR_MODELS)}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0, got {self.min_face_size}")

    def to_dict(self) -> dict:
        return asdict(self)


def haar_cascade_candidates(explicit: Path | str | None = None) -> list[Path]:
    """Where the Haar cascade file is looked for, in order."""
    candidates = []
    if explicit is not None:
        candidates.append(Path(explicit))
    if os.environ.get(HAAR_ENV):
        candidates.append(Path(os.environ[HAAR_ENV]))
    cv2_data = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if cv2_data:
        candidates.append(Path(cv2_data) / HAAR_CASCADE)
    return candidates


def find_haar_cascade(explicit: Path | str | None = None) -> Path:
    """The first Haar cascade file that exists; AssetError naming every place looked at if none does."""
    candidates = haar_cascade_candidates(explicit)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    try:
        return assets.require("haar_cascade")  # verified copy in the asset folders, else obtained
    except AssetError as exc:
        looked = "\n".join(f"  {candidate}" for candidate in candidates)
        raise AssetError(
            f"OpenCV's Haar face cascade {HAAR_CASCADE} was not found; looked at:\n{looked}\n"
            f"and in the model folders: {exc}\nOr name a copy with ${HAAR_ENV}."
        ) from exc


class HaarFaceDetector:
    """OpenCV's Haar cascade for frontal faces, with FaceDetector's interface; a fallback, flagged as one.

    The score is a logistic of the cascade's final-stage weight, centred at 3
    (a rough confidence, not a calibrated probability); the keypoints are placed at
    their usual positions in the box, not detected. Large frames are searched
    at ``max_side`` pixels for speed; boxes are returned in frame pixels.
    """

    name = "opencv-haar"
    is_fallback = True

    def __init__(
        self,
        min_confidence: float = 0.5,
        min_face_size: int = 0,
        cascade_path: Path | str | None = None,
        max_side: int = 640,
    ):
        path = find_haar_cascade(cascade_path)
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise AssetError(f"{path}: OpenCV cannot load this Haar cascade (corrupt or not a cascade file)")
        self.min_confidence = min_confidence
        self.min_face_size = min_face_size
        self.max_side = max_side

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All frontal faces at least ``min_face_size`` pixels wide, most confident first."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
        scale = min(1.0, self.max_side / max(rgb.shape[:2]))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        smallest = max(20, int(self.min_face_size * scale))
        boxes, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=6, minSize=(smallest, smallest), outputRejectLevels=True
        )
        faces = []
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=True):
            score = 1.0 / (1.0 + math.exp(3.0 - float(weight)))
            x, y, w, h = (float(v) / scale for v in (x, y, w, h))
            if score < self.min_confidence or min(w, h) < self.min_face_size:
                continue
            keypoints = _HAAR_KEYPOINTS * np.array([w, h], np.float32) + np.array([x, y], np.float32)
            faces.append(
                FaceDetection(box=(x, y, w, h), score=score, keypoints=keypoints, detector=self.name)
            )
        return sorted(faces, key=lambda face: -face.score)

    def close(self) -> None:
        self._cascade = None

    def __enter__(self) -> HaarFaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def create_face_detector(settings: DetectorSettings | None = None) -> FaceDetector | HaarFaceDetector:
    """The detector ``settings`` ask for; falls back to the Haar cascade when mediapipe's model cannot be had.

    Check ``detector.is_fallback`` (and ``detector.name``) to report which one
    ran. Raises AssetError when neither can be had, naming both problems.
    """
    settings = settings or DetectorSettings()
    if settings.model == "haar":
        return HaarFaceDetector(settings.min_confidence, settings.min_face_size)
    try:
        return FaceDetector(settings.model, settings.min_confidence, settings.min_face_size)
    except AssetError as mediapipe_error:
        if not settings.allow_fallback:
            raise
        try:
            detector = HaarFaceDetector(settings.min_confidence, settings.min_face_size)
        except AssetError as haar_error:
            raise AssetError(
                f"No face detector can be had.\nmediapipe: {mediapipe_error}\nfallback: {haar_error}"
            ) from haar_error
        log.warning(
            "mediapipe's face detector is unavailable (%s); using OpenCV's Haar cascade instead, "
            "which finds fewer faces and is flagged in the results",
            str(mediapipe_error).splitlines()[0],
        )
        return detector


# BlazeFace's input sides (short range 128, full range 192): a frame larger than that is shrunk
# to it, and a face a few percent of the frame's width shrinks to a few pixels.
SHORT_RANGE_INPUT = 128
TILE_SIDE = 1024
TILE_OVERLAP = 0.25


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The share of the smaller box inside the other (a face cut by a tile's edge lies inside its whole box)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    smaller = min(aw * ah, bw * bh)
    return w * h / smaller if smaller > 0 else 0.0


def tile_origins(length: int, tile: int, step: int) -> list[int]:
    """Where tiles of side ``tile`` start along ``length`` pixels, ``step`` apart, the last flush with the end."""
    if length <= tile:
        return [0]
    return list(range(0, length - tile, step)) + [length - tile]


# In a video, faces the short-range detector misses are searched for again on the first face-less
# frame and then on every RETRY_EVERY-th (about a second), until a search finds one for sure: from then
# on, on every face-less frame of that file. Searching every face-less frame cost 3.5x (720p) to 6x (1080p,
# tiles) the analysis time of a video without faces (measured 2026-12-03, docs/detector-2026-12-03.md).
RETRY_EVERY = 30
# A search's find switches the file to every frame only when this sure: full-range BlazeFace finds
# "faces" at about 0.55 in colour blobs, and one such find must not make a face-less video 4x slower.
SURE_FIND = 0.7


class LargeFrameSearch:
    """mediapipe's detector, then, on a large frame where it finds no face, the full-range detector on the
    whole frame and then on overlapping tiles (a small face in an 8K photo is a few pixels once shrunk).

    Frames with a face cost nothing more; in a video the search runs on a schedule (``RETRY_EVERY``),
    restarted by ``start_file``. Faces found by a retry carry the name of the step that found them
    (``mediapipe-full-range`` or ``mediapipe-full-range-tiles``), and ``retried`` and
    ``found_by_retry`` count frames, for the result's warnings.
    """

    def __init__(
        self, detector, settings: DetectorSettings, tile: int = TILE_SIDE, overlap: float = TILE_OVERLAP
    ):
        self.inner = detector
        self.settings = settings
        self.name = detector.name
        self.is_fallback = bool(getattr(detector, "is_fallback", False))
        self.tile = tile
        self.step = max(1, int(tile * (1 - overlap)))
        self._full: FaceDetector | None = detector if settings.model == "full" else None
        self.retried = 0
        self.found_by_retry = 0
        self.start_file()

    def start_file(self) -> None:
        """A new file: its first face-less frame is searched again, then every ``RETRY_EVERY``-th."""
        self._faceless = 0
        self._every = RETRY_EVERY

    def _full_range(self) -> FaceDetector:
        if self._full is None:
            self._full = FaceDetector("full", self.settings.min_confidence, self.settings.min_face_size)
        return self._full

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        faces = self.inner.detect(rgb)
        if faces or self.is_fallback or max(rgb.shape[:2]) <= SHORT_RANGE_INPUT:
            return faces
        due = self._faceless % self._every == 0
        self._faceless += 1
        if not due:
            return faces
        self.retried += 1
        full = self._full_range()
        faces = [] if full is self.inner else full.detect(rgb)
        if not faces and max(rgb.shape[:2]) > self.tile:
            faces = self._tiles(rgb, full)
        self.found_by_retry += bool(faces)
        if any(face.score >= SURE_FIND for face in faces):
            self._every = 1  # this file has faces only a search finds: search every face-less frame
        return faces

    def _tiles(self, rgb: np.ndarray, detector: FaceDetector) -> list[FaceDetection]:
        height, width = rgb.shape[:2]
        found: list[FaceDetection] = []
        for y in tile_origins(height, self.tile, self.step):
            for x in tile_origins(width, self.tile, self.step):
                tile = np.ascontiguousarray(rgb[y : y + self.tile, x : x + self.tile])
                for face in detector.detect(tile):
                    box = (face.box[0] + x, face.box[1] + y, face.box[2], face.box[3])
                    keypoints = face.keypoints + np.array([x, y], np.float32)
                    found.append(FaceDetection(box, face.score, keypoints, f"{detector.name}-tiles"))
        kept: list[FaceDetection] = []
        for face in sorted(found, key=lambda f: -f.score):  # a face on two overlapping tiles counts once
            if all(_overlap(face.box, other.box) < 0.5 for other in kept):
                kept.append(face)
        return kept

    def close(self) -> None:
        if self._full is not None and self._full is not self.inner:
            self._full.close()
        self._full = None
        self.inner.close()
