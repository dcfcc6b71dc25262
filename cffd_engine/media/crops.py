"""Face crops for the model: a square around the face, scaled (1.3 by the field's convention), resized.

Every crop keeps its ``CropGeometry``: the affine map between frame pixels and
crop pixels, so a point, a box or a whole heatmap on the crop can be drawn back
on the frame. Coordinates follow OpenCV: pixel (i, j) has its centre at
(x=i, y=j). Parts of the square outside the frame are black; the crop is never
shifted or shrunk to fit, so the face stays centred and the map stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # the window draws crops without loading mediapipe
    from cffd_engine.media.faces import FaceDetection

DEFAULT_SCALE = 1.3
DEFAULT_SIZE = 224
# Above this shrink factor a bilinear warp aliases; the region is first reduced by area averaging.
_AREA_FIRST = 2.0


@dataclass(frozen=True)
class CropGeometry:
    """Where a crop lies in its frame: a 2x3 affine matrix from frame pixels to crop pixels.

    ``square`` is the (x, y, side) of the unrotated square in frame pixels,
    ``angle_deg`` the rotation applied to level the eyes (0 for plain crops).
    """

    matrix: tuple[tuple[float, float, float], tuple[float, float, float]]
    size: int
    frame_size: tuple[int, int]  # (width, height)
    square: tuple[float, float, float]
    angle_deg: float = 0.0

    @property
    def frame_to_crop(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.float64)

    @property
    def crop_to_frame(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.frame_to_crop)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) frame pixel coordinates -> crop pixel coordinates."""
        return _apply(self.frame_to_crop, points)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) crop pixel coordinates -> frame pixel coordinates."""
        return _apply(self.crop_to_frame, points)

    def corners_in_frame(self) -> np.ndarray:
        """The crop's outline on the frame: (4, 2) corners, clockwise from top-left."""
        edge = self.size - 0.5
        return self.to_frame(np.array([[-0.5, -0.5], [edge, -0.5], [edge, edge], [-0.5, edge]]))

    def heatmap_to_frame(self, heatmap: np.ndarray) -> np.ndarray:
        """A map over the crop (any resolution, e.g. Grad-CAM) laid on the frame; zero outside the crop."""
        heatmap = np.asarray(heatmap, dtype=np.float32)
        if heatmap.shape[:2] != (self.size, self.size):
            heatmap = cv2.resize(heatmap, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return cv2.warpAffine(
            heatmap,
            self.frame_to_crop,
            self.frame_size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )

    def to_dict(self) -> dict:
        return {
            "matrix": [list(row) for row in self.matrix],
            "size": self.size,
            "frame_size": list(self.frame_size),
            "square": list(self.square),
            "angle_deg": self.angle_deg,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CropGeometry:
        return cls(
            matrix=tuple(tuple(float(v) for v in row) for row in data["matrix"]),
            size=int(data["size"]),
            frame_size=tuple(data["frame_size"]),
            square=tuple(data["square"]),
            angle_deg=float(data.get("angle_deg", 0.0)),
        )


@dataclass
class FaceCrop:
    """One face crop (S x S x 3 RGB uint8) with where it came from."""

    image: np.ndarray
    geometry: CropGeometry
    detection: FaceDetection
    frame_index: int = 0
    timestamp_s: float = 0.0
    track_id: int = 0
    landmarks: np.ndarray | None = None  # (478, 3) in frame pixels, when asked for

    def to_dict(self) -> dict:
        """Everything but the pixels, JSON-ready."""
        return {
            "frame_index": self.frame_index,
            "timestamp_s": self.timestamp_s,
            "track_id": self.track_id,
            "box": list(self.detection.box),
            "score": self.detection.score,
            "keypoints": np.round(self.detection.keypoints, 2).tolist(),
            "detector": self.detection.detector,
            "geometry": self.geometry.to_dict(),
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 2).tolist(),
        }


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ matrix[:, :2].T + matrix[:, 2]


def square_box(
    box: tuple[float, float, float, float], scale: float = DEFAULT_SCALE
) -> tuple[float, float, float]:
    """The square (x, y, side) centred on a face box, ``scale`` times its longer side."""
    x, y, w, h = box
    side = max(w, h) * scale
    return x + w / 2 - side / 2, y + h / 2 - side / 2, side


def eye_angle(detection: FaceDetection) -> float:
    """Angle in degrees of the line from the subject's right eye to the left eye (0 when level)."""
    right_eye, left_eye = detection.keypoints[0], detection.keypoints[1]
    return float(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])))


def crop_geometry(
    detection: FaceDetection,
    frame_size: tuple[int, int],
    size: int = DEFAULT_SIZE,
    scale: float = DEFAULT_SCALE,
    align: bool = False,
) -> CropGeometry:
    """The geometry of a face's crop: the scaled square, resized to ``size``, eyes levelled if ``align``."""
    x, y, side = square_box(detection.box, scale)
    if not align:
        # Whole-pixel squares keep plain crops sharp (area resampling) and exactly reproducible.
        x, y, side = float(round(x)), float(round(y)), float(max(1, round(side)))
    angle = eye_angle(detection) if align else 0.0
    zoom = size / side
    center = np.array([x + side / 2 - 0.5, y + side / 2 - 0.5])
    # Rotate about the square's centre by -angle (eyes become level), scale, put the centre mid-crop.
    rotation = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), angle, zoom)
    rotation[:, 2] += (size - 1) / 2 - center
    return CropGeometry(
        matrix=tuple(tuple(float(v) for v in row) for row in rotation),
        size=size,
        frame_size=(int(frame_size[0]), int(frame_size[1])),
        square=(x, y, side),
        angle_deg=angle,
    )


def _plain_crop(rgb: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """Cut the whole-pixel square (padding outside the frame with black) and resize it."""
    x, y, side = (int(v) for v in geometry.square)
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, width), min(y + side, height)
    region = np.zeros((side, side, 3), np.uint8)
    if x1 > x0 and y1 > y0:
        region[y0 - y : y1 - y, x0 - x : x1 - x] = rgb[y0:y1, x0:x1]
    shrinking = side > geometry.size
    return cv2.resize(
        region,
        (geometry.size, geometry.size),
        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
    )


def crop_image(rgb: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """The pixels of ``geometry``'s crop from ``rgb``."""
    if geometry.angle_deg == 0.0 and float(geometry.square[2]).is_integer():
        return _plain_crop(rgb, geometry)
    source, matrix = rgb, geometry.frame_to_crop
    shrink = geometry.square[2] / geometry.size
    if shrink > _AREA_FIRST:
        # Reduce the frame by area averaging first so the rotated warp samples no aliasing.
        factor = 1.0 / np.floor(shrink)
        source = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        sx = source.shape[1] / rgb.shape[1]
        sy = source.shape[0] / rgb.shape[0]
        to_small = np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]])
        matrix = (np.vstack([matrix, [0, 0, 1]]) @ np.linalg.inv(to_small))[:2]
    return cv2.warpAffine(
        source, matrix, (geometry.size, geometry.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def crop_face(
    rgb: np.ndarray,
    detection: FaceDetection,
    size: int = DEFAULT_SIZE,
    scale: float = DEFAULT_SCALE,
    align: bool = False,
    frame_index: int = 0,
    timestamp_s: float = 0.0,
    track_id: int = 0,
) -> FaceCrop:
    """The face's square crop (``scale`` x its box, resized to ``size``), with the geometry to map it back."""
    geometry = crop_geometry(detection, (rgb.shape[1], rgb.shape[0]), size, scale, align)
    return FaceCrop(
        image=crop_image(rgb, geometry),
        geometry=geometry,
        detection=detection,
        frame_index=frame_index,
        timestamp_s=timestamp_s,
        track_id=track_id,
    )
