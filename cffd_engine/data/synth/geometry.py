"""Face geometry for the forgery families: landmark groups, face-relative units, masks, alignment.

Landmarks are mediapipe's 478-point mesh as (478, 2 or 3) arrays in pixels.
Every size a family samples is in inter-ocular distances (IOD), so one set of
parameters means the same manipulation on a 200 px photo and a 1080p frame,
and on every frame of a video.
"""

from __future__ import annotations

import cv2
import numpy as np

# Index lists follow mediapipe's FaceLandmarksConnections (face oval, lips, eyes, eyebrows).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]  # fmt: skip
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
LIP_UPPER_INNER_MID, LIP_LOWER_INNER_MID = 13, 14
MOUTH_CORNERS = (61, 291)
LEFT_EYEBROW = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336]
RIGHT_EYEBROW = [46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398]
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173]
NOSE = [168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45, 220, 115, 48, 64]
CHIN = 152
# Points that follow the skull rather than the expression: used to align one face onto another.
RIGID = sorted(set(LEFT_EYE + RIGHT_EYE + NOSE + FACE_OVAL[6:31]))


def xy(landmarks: np.ndarray) -> np.ndarray:
    """The (N, 2) float64 pixel coordinates of a landmark array."""
    return np.asarray(landmarks, dtype=np.float64)[:, :2]


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the person's right and left eye (image left and right for a frontal face)."""
    points = xy(landmarks)
    return points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)


def iod(landmarks: np.ndarray) -> float:
    """Inter-ocular distance in pixels: the unit of every family's sizes."""
    right, left = eye_centres(landmarks)
    return float(np.linalg.norm(left - right))


def face_axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors across the face (right eye to left eye) and down it (perpendicular, towards the chin)."""
    right, left = eye_centres(landmarks)
    across = (left - right) / max(np.linalg.norm(left - right), 1e-6)
    down = np.array([-across[1], across[0]])
    if np.dot(xy(landmarks)[CHIN] - (left + right) / 2, down) < 0:
        down = -down
    return across, down


def inner_face_indices(landmarks: np.ndarray, margin_iod: float = 0.05) -> np.ndarray:
    """Landmarks from the eyebrows down to the chin: the region a face swap replaces (no forehead)."""
    points = xy(landmarks)
    _, down = face_axes(landmarks)
    depth = points @ down
    brow_top = depth[LEFT_EYEBROW + RIGHT_EYEBROW].min() - margin_iod * iod(landmarks)
    return np.flatnonzero(depth >= brow_top)


def hull_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """A uint8 0/1 mask of the convex hull of ``points`` (pixels) in an image of ``shape``."""
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    return mask


def polygon_mask(shape: tuple[int, ...], polygon: np.ndarray) -> np.ndarray:
    """A uint8 0/1 mask of a (possibly non-convex) polygon given in pixels."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a 0/1 mask by a disc of that radius."""
    radius = int(round(abs(pixels)))
    if radius == 0:
        return mask.copy()
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask, disc) if pixels > 0 else cv2.erode(mask, disc)


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """A float32 soft mask in [0, 1]: the 0/1 mask blurred; non-zero only within 3 sigma of it."""
    soft = mask.astype(np.float32)
    if sigma > 0.3:
        radius = int(np.ceil(3 * sigma))
        soft = cv2.GaussianBlur(soft, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_CONSTANT)
    return np.clip(soft, 0.0, 1.0)


def resample(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` shrunk by ``factor`` (area averaging) and enlarged back: its detail lost, its size kept."""
    if factor >= 1.0:
        return image
    height, width = image.shape[:2]
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(cv2.resize(image, small, interpolation=cv2.INTER_AREA), (width, height))


def composite(image: np.ndarray, fake: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` where ``mask`` is 0, ``fake`` where it is 1, a mix between; uint8 out."""
    alpha = mask[..., None].astype(np.float32)
    base = image.astype(np.float32)
    mixed = base + alpha * (fake.astype(np.float32) - base)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) that best maps ``source`` onto ``target``."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mean_s, target - mean_t
    covariance = t.T @ s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / max(s.var(axis=0).sum(), 1e-12)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - scale * rotation @ mean_s
    return matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2+) points; extra columns (depth) are scaled by the matrix's scale."""
    points = np.asarray(points, np.float64)
    moved = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    if points.shape[1] == 2:
        return moved
    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
    return np.column_stack([moved, points[:, 2:] * scale])


def shape_distance(a: np.ndarray, b: np.ndarray, indices: list[int] | np.ndarray | None = None) -> float:
    """Mean distance between two landmark sets after similarity alignment, in IOD of ``b``: shape, not pose."""
    index = np.arange(len(a)) if indices is None else np.asarray(indices)
    pa, pb = xy(a)[index], xy(b)[index]
    aligned = transform_points(pa, umeyama(pa, pb))
    return float(np.linalg.norm(aligned - pb, axis=1).mean() / iod(b))


def face_box(landmarks: np.ndarray, scale: float = 1.3) -> tuple[int, int, int]:
    """The square crop (x, y, side) around the landmarks, enlarged by ``scale`` (the field's 1.3)."""
    points = xy(landmarks)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    side = int(round(max(high - low) * scale))
    return int(round(centre[0] - side / 2)), int(round(centre[1] - side / 2)), side


def crop_square(image: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """The square ``box`` of ``image`` (zero-padded where it leaves the image), resized to ``size``."""
    x, y, side = box
    height, width = image.shape[:2]
    pad = max(0, -x, -y, x + side - width, y + side - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        x, y = x + pad, y + pad
    patch = image[y : y + side, x : x + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)
