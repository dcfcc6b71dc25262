"""Face detection (mediapipe Tasks) and the 478-point face mesh (mediapipe's networks via OpenCV).

Both take RGB uint8 frames and answer in frame pixels. "No face" is an empty
list, never an exception. Each object holds a native mediapipe graph: close it
(or use it as a context manager) when done.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cffd_engine import assets
from cffd_engine.errors import AssetError

DETECTOR_ASSETS = {"short": "face_detector", "full": "face_detector_full_range"}

# What mediapipe's LiteRT runtime writes straight to the process's stderr when a detector is made, first
# run and closed: its INFO lines, its WARNINGs (46 "Sparsity tensors..." for the full-range model) and
# absl's first warning. None of it is about the evidence; errors ("ERROR:", "E0000 ...") are kept.
_NATIVE_CHATTER = re.compile(r"(INFO: |WARNING: \[|WARNING: Logging before InitGoogle|[IW]\d{4} \d\d:)")
_stderr_redirect = threading.Lock()
# LiteRT warns once per process that an input tensor was not aligned, on whichever inference first meets one
# (usually a detector's first, sometimes a later one); until it has, every detection drops the chatter.
_ALIGNMENT_WARNING = "Input tensor memory is not aligned"
_alignment_warned = False


@contextmanager
def _native_chatter_dropped():
    """Send file descriptor 2 to a file for the duration, then write back every line that is not
    LiteRT's chatter: native errors, and whatever this program's own threads printed meanwhile (the
    command's progress lines go to stderr too)."""
    global _alignment_warned
    stream = sys.stderr  # None in a windowed program on Windows
    with _stderr_redirect, tempfile.TemporaryFile() as captured:
        try:
            saved = os.dup(2)
        except OSError:  # no file descriptor 2 at all: nothing to keep quiet
            yield
            return
        if stream is not None:
            stream.flush()
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            if stream is not None:
                stream.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not _NATIVE_CHATTER.match(line))
            if any(_ALIGNMENT_WARNING in line for line in lines):
                _alignment_warned = True
            if kept and stream is not None:
                stream.write(kept)
                stream.flush()


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


def _mp_image(rgb: np.ndarray):
    import mediapipe as mp  # loaded with the first detector, not with every module that names a face

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


class FaceDetector:
    """mediapipe's BlazeFace detector: ``short`` range (faces near the camera) or ``full`` range (small faces)."""

    is_fallback = False

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
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            min_detection_confidence=min_confidence,
        )
        with _native_chatter_dropped():
            self._detector = vision.FaceDetector.create_from_options(options)
        self._has_run = False

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        """All faces at least ``min_face_size`` pixels wide, most confident first."""
        height, width = rgb.shape[:2]
        # The first real frame, not a blank warm-up at creation: a warm-up left LiteRT's alignment
        # warning to the first frame of `cffd analyze`.
        if self._has_run and _alignment_warned:
            result = self._detector.detect(_mp_image(rgb))
        else:
            with _native_chatter_dropped():
                result = self._detector.detect(_mp_image(rgb))
            self._has_run = True
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
            with _native_chatter_dropped():
                self._detector.close()
            self._detector = None

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def roi_transform(center: np.ndarray, size: float, angle_rad: float, out_size: int) -> np.ndarray:
    """The 2x3 affine map from frame pixels to an ``out_size`` square crop of side ``size`` around
    ``center``, rotated by ``angle_rad`` so that the rotated direction becomes horizontal."""
    matrix = cv2.getRotationMatrix2D(
        (float(center[0]), float(center[1])), np.degrees(angle_rad), out_size / size
    )
    matrix[:, 2] += out_size / 2 - np.asarray(center, dtype=np.float64)
    return matrix


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arctan2(b[1] - a[1], b[0] - a[0]))


@dataclass(frozen=True)
class _Output:
    name: str
    shape: tuple[int, ...]  # the values it must hold, reshaped so


class _Network:
    """A TFLite network read by OpenCV whose outputs are fetched by name and checked for size."""

    def __init__(self, asset_name: str, outputs: tuple[_Output, ...]):
        self.path = assets.require(asset_name)
        self.outputs = outputs
        self._net = cv2.dnn.readNetFromTFLite(str(self.path))
        found = set(self._net.getUnconnectedOutLayersNames())
        wanted = [output.name for output in outputs]
        if not set(wanted) <= found:
            raise AssetError(
                f"{self.path}: this network has the outputs {sorted(found)}, not {wanted}. "
                f"It is not the expected model file; run `cffd assets fetch` to replace it"
            )

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        self._net.setInput(blob)
        values = self._net.forward([output.name for output in self.outputs])
        shaped = []
        for output, value in zip(self.outputs, values, strict=True):
            if value.size != int(np.prod(output.shape)):
                raise AssetError(
                    f"{self.path}: output {output.name} has shape {tuple(value.shape)}, expected "
                    f"{int(np.prod(output.shape))} values {output.shape}. The model file or this OpenCV "
                    f"({cv2.__version__}) reads it differently; run `cffd assets fetch` to replace the file"
                )
            shaped.append(value.reshape(output.shape))
        return shaped


@dataclass(frozen=True)
class FaceMesh:
    """One face's 478 landmarks (x, y in pixels, z in the x scale) and the mesh network's face score."""

    points: np.ndarray  # (478, 3) float32
    face_score: float  # 0-1: how sure the mesh network is that its crop holds a face


class FaceLandmarker:
    """The 478-point face mesh: mediapipe's face-mesh and iris networks, run with OpenCV's TFLite reader.

    The face is found by ``FaceDetector``; the mesh network reads a 192 px crop aligned on the eyes
    (a second pass re-crops on the first pass's landmarks, as mediapipe's tracking does), and the iris
    network completes points 468-477 from 64 px eye crops. mediapipe's Tasks landmarker is not used:
    fed the only mesh network that can be had here (468 points), it returns 478 meaningless points.

    Each network's outputs are asked for by name and their sizes checked: OpenCV's default output
    differs between versions (5.x returns the iris network's 71 eye-contour points, 4.x its 5 iris
    points), and a model file with other outputs is refused, not read as something else.
    """

    MESH_SIZE = 192
    IRIS_SIZE = 64
    FACE_ROI_SCALE = 1.5
    EYE_ROI_SCALE = 2.3
    # (corner, corner, flip): the iris network is trained on one eye; the other is mirrored for it.
    EYES = ((33, 133, False), (362, 263, True))
    MESH_OUTPUTS = (_Output("conv2d_21", (468, 3)), _Output("conv2d_31", (1,)))  # points, face logit
    IRIS_OUTPUTS = (_Output("output_iris", (5, 3)),)

    def __init__(self, max_faces: int = 1, min_confidence: float = 0.5, detector: FaceDetector | None = None):
        self.max_faces = max_faces
        self._mesh = _Network("face_landmarks", self.MESH_OUTPUTS)
        self._iris = _Network("iris_landmarks", self.IRIS_OUTPUTS)
        self._own_detector = detector is None
        self._detector = detector or FaceDetector(min_confidence=min_confidence)

    def landmarks(self, rgb: np.ndarray, faces: list[FaceDetection] | None = None) -> list[np.ndarray]:
        """One (478, 3) float32 array per face (most confident first): x, y in pixels, z in the x scale.

        ``faces`` may pass detections already made on this frame, to avoid detecting twice.
        """
        return [mesh.points for mesh in self.meshes(rgb, faces)]

    def meshes(self, rgb: np.ndarray, faces: list[FaceDetection] | None = None) -> list[FaceMesh]:
        """Like ``landmarks``, with the mesh network's face score of each face."""
        faces = self._detector.detect(rgb) if faces is None else faces
        results = []
        for face in faces[: self.max_faces]:
            x, y, w, h = face.box
            right_eye, left_eye = face.keypoints[0], face.keypoints[1]
            center = np.array([x + w / 2, y + h / 2])
            mesh, _ = self._run_mesh(
                rgb, center, max(w, h) * self.FACE_ROI_SCALE, _angle(right_eye, left_eye)
            )
            low, high = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
            size = float((high - low).max()) * self.FACE_ROI_SCALE
            mesh, face_logit = self._run_mesh(rgb, (low + high) / 2, size, _angle(mesh[33], mesh[263]))
            irises = [self._run_iris(rgb, mesh[a, :2], mesh[b, :2], flip) for a, b, flip in self.EYES]
            points = np.concatenate([mesh, *irises]).astype(np.float32)
            results.append(FaceMesh(points, float(1 / (1 + np.exp(-face_logit[0])))))
        return results

    def _run_mesh(self, rgb: np.ndarray, center, size: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
        points, (face_logit,) = self._run(self._mesh, rgb, center, size, angle, self.MESH_SIZE, flip=False)
        return points, face_logit

    def _run_iris(
        self, rgb: np.ndarray, corner_a: np.ndarray, corner_b: np.ndarray, flip: bool
    ) -> np.ndarray:
        size = float(np.linalg.norm(corner_b - corner_a)) * self.EYE_ROI_SCALE
        center, angle = (corner_a + corner_b) / 2, _angle(corner_a, corner_b)
        points, _ = self._run(self._iris, rgb, center, size, angle, self.IRIS_SIZE, flip)
        return points

    @staticmethod
    def _run(
        network: _Network, rgb: np.ndarray, center, size: float, angle: float, out_size: int, flip: bool
    ):
        """The network's points mapped back to frame pixels, and its other outputs as they are."""
        matrix = roi_transform(np.asarray(center), max(size, 1.0), angle, out_size)
        crop = cv2.warpAffine(
            rgb, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        if flip:
            crop = crop[:, ::-1]
        points, *others = network.run(cv2.dnn.blobFromImage(crop.astype(np.float32) / 255.0))
        points = points.astype(np.float64)
        if flip:
            points[:, 0] = out_size - points[:, 0]
        inverse = cv2.invertAffineTransform(matrix)
        xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        return np.column_stack([xy, points[:, 2] * size / out_size]), others

    def close(self) -> None:
        if self._own_detector and self._detector is not None:
            self._detector.close()
        self._detector = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
