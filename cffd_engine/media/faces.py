"""Face detection and 478-point landmarks with the mediapipe Tasks API.

Both take RGB uint8 frames and answer in frame pixels. "No face" is an empty
list, never an exception. Each object holds a native mediapipe graph: close it
(or use it as a context manager) when done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from cffd_engine import assets

DETECTOR_ASSETS = {"short": "face_detector", "full": "face_detector_full_range"}


@dataclass(frozen=True)
class FaceDetection:
    """One face in one frame: box (x, y, w, h) in pixels, confidence, six keypoints (eyes, nose, mouth, ears)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2) pixel coordinates
    detector: str

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


def _mp_image(rgb: np.ndarray) -> mp.Image:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


class FaceDetector:
    """mediapipe's BlazeFace detector: ``short`` range (faces near the camera) or ``full`` range (small faces)."""

    def __init__(
        self,
        model: str = "short",
        min_confidence: float = 0.5,
        min_face_size: int = 0,
        model_path: Path | str | None = None,
    ):
        if model not in DETECTOR_ASSETS:
            raise ValueError(f"unknown detector model {model!r}; choose one of {sorted(DETECTOR_ASSETS)}")
        path = Path(model_path) if model_path else assets.require(DETECTOR_ASSETS[model])
        self.name = f"mediapipe-{model}-range"
        self.min_face_size = min_face_size
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            min_detection_confidence=min_confidence,
        )
        self._detector = vision.FaceDetector.create_from_options(options)

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces at least ``min_face_size`` pixels wide, most confident first."""
        height, width = rgb.shape[:2]
        result = self._detector.detect(_mp_image(rgb))
        faces = []
        for detection in result.detections:
            box = detection.bounding_box
            if min(box.width, box.height) < self.min_face_size:
                continue
            keypoints = np.array([[k.x * width, k.y * height] for k in detection.keypoints], dtype=np.float32)
            faces.append(
                FaceDetection(
                    box=(float(box.origin_x), float(box.origin_y), float(box.width), float(box.height)),
                    score=float(detection.categories[0].score),
                    keypoints=keypoints.reshape(-1, 2),
                    detector=self.name,
                )
            )
        return sorted(faces, key=lambda face: -face.score)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class FaceLandmarker:
    """mediapipe's face landmarker: 478 points per face, (x, y) in pixels and relative depth z."""

    def __init__(
        self,
        max_faces: int = 1,
        min_confidence: float = 0.5,
        model_path: Path | str | None = None,
    ):
        path = Path(model_path) if model_path else assets.require("face_landmarker")
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def landmarks(self, rgb: np.ndarray) -> list[np.ndarray]:
        """One (478, 3) float32 array per face found: x, y in pixels, z in the same scale as x."""
        height, width = rgb.shape[:2]
        result = self._landmarker.detect(_mp_image(rgb))
        return [
            np.array([[p.x * width, p.y * height, p.z * width] for p in face], dtype=np.float32)
            for face in result.face_landmarks
        ]

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
