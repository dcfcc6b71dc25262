"""``reenact``: the same person with another expression, imitating Face2Face.

Mouth, jaw and eyebrow landmarks are moved (jaw drop, smile, brow raise,
in inter-ocular distances) by smooth, compactly supported displacement
fields, and the image is warped piecewise-affinely over a Delaunay
triangulation of the landmarks plus a fixed ring just outside the face oval,
so everything beyond the ring (hair, background) stays untouched. An opened
mouth gets a dark cavity; no teeth are rendered and no 3-D model is fitted.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Forgery, Params, uniform

RING_SCALE = 1.3  # the fixed ring: the face oval pushed out by 30 % from the face centre
MOUTH_WIDTH_MARGIN = 0.6  # IOD beyond the mouth corners over which the jaw's hinge softens
# IOD^2 of mirrored skin tolerated (slivers along the lips) before the change is shrunk.
MAX_FOLDED_AREA = 0.002
SLIT_CORNERS = (78, 308)  # where the inner lips meet
# The inner lips as facing pairs, person's right to left: the lower lip moves, the upper stays.
UPPER_INNER = [191, 80, 81, 82, 13, 312, 311, 310, 415]
LOWER_INNER = [95, 88, 178, 87, 14, 317, 402, 318, 324]


def sample(rng: np.random.Generator, face: Face, donor: Face | None = None) -> Params:
    """Random jaw drop, smile and brow raise (IOD), and how dark the opened mouth is."""
    return {
        "mouth_open": uniform(rng, 0.04, 0.12),
        "smile": uniform(rng, -0.04, 0.08),
        "brow_raise": uniform(rng, -0.04, 0.08),
        "cavity": uniform(rng, 0.65, 0.85),
    }


def _slit_depth(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The depth of the mouth slit at each point's position across the face, flat beyond the corners."""
    corners = [*SLIT_CORNERS, *geo.MOUTH_CORNERS]
    knots_u = np.concatenate([u[corners], (u[UPPER_INNER] + u[LOWER_INNER]) / 2])
    knots_v = np.concatenate([v[corners], (v[UPPER_INNER] + v[LOWER_INNER]) / 2])
    order = np.argsort(knots_u)
    return np.interp(u, knots_u[order], knots_v[order])


def _wendland(r: np.ndarray) -> np.ndarray:
    """A smooth bump: 1 at r = 0, exactly 0 for r >= 1, so the warp stays local."""
    r = np.clip(r, 0.0, 1.0)
    return (1 - r) ** 4 * (4 * r + 1)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def displacements(landmarks: np.ndarray, params: Params) -> np.ndarray:
    """The (N, 2) pixel displacement of every landmark for the requested expression change."""
    points = geo.xy(landmarks)
    unit = geo.iod(landmarks)
    across, down = geo.face_axes(landmarks)
    mouth = (points[geo.LIP_UPPER_INNER_MID] + points[geo.LIP_LOWER_INNER_MID]) / 2
    u = (points - mouth) @ across / unit
    v = (points - mouth) @ down / unit
    half_width = abs(float((points[geo.MOUTH_CORNERS[1]] - points[geo.MOUTH_CORNERS[0]]) @ across)) / 2 / unit

    # Jaw drop: everything below the mouth slit moves down; the hinge softens beside the mouth and
    # towards the ears, so the cheeks stretch rather than tear. Measured from the slit itself, so that
    # a smiling mouth's raised corners count as the slit and not as the lower lip.
    v = v - _slit_depth(u, v)
    beside = np.clip((np.abs(u) - half_width) / MOUTH_WIDTH_MARGIN, 0, 1)
    softness = 0.02 + 0.6 * beside
    below = _smoothstep(v / softness)
    below[LOWER_INNER] = 1.0
    below[UPPER_INNER] = 0.0
    # The lips stay joined at the corners, so the opening is lens-shaped; the chin drops as a whole.
    lens = np.sqrt(np.clip(1 - (u / half_width) ** 2, 0, 1))
    below *= lens + (1 - lens) * _smoothstep(v / 0.35)
    hinge = np.clip(1 - (u / 1.3) ** 2, 0, 1)
    shift = np.outer(params["mouth_open"] * unit * below * hinge, down)

    # Smile: the mouth corners move out and up, carrying their surroundings.
    for corner in geo.MOUTH_CORNERS:
        side = np.sign((points[corner] - mouth) @ across)
        weight = _wendland(np.linalg.norm(points - points[corner], axis=1) / (0.45 * unit))
        move = params["smile"] * unit * (0.5 * side * across - down)
        shift += weight[:, None] * move

    # Brows: each brow lifts as a whole; the influence falls off within a quarter IOD of the brow line,
    # flat along it, so the eyes below stay where they are.
    for brow in (geo.LEFT_EYEBROW, geo.RIGHT_EYEBROW):
        offset = points[:, None, :] - points[brow][None, :, :]
        r = np.hypot(offset @ across / (0.15 * unit), offset @ down / (0.25 * unit)).min(axis=1)
        shift += np.outer(-params["brow_raise"] * unit * _wendland(r), down)
    return shift


def outer_ring(landmarks: np.ndarray) -> np.ndarray:
    """The fixed ring: the face oval pushed out by ``RING_SCALE`` from the face centre (the warp ends there)."""
    points = geo.xy(landmarks)
    centre = points.mean(axis=0)
    return centre + (points[geo.FACE_OVAL] - centre) * RING_SCALE


def _affines(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Per-triangle 2x3 affines taking destination triangles (T, 3, 2) onto source triangles."""
    ones = np.ones((len(dst), 3, 1))
    a = np.concatenate([dst, ones], axis=2)  # (T, 3, 3)
    return np.linalg.solve(a, src).transpose(0, 2, 1)  # (T, 2, 3)


def warp_maps(
    shape: tuple[int, ...], src_points: np.ndarray, dst_points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (x and y, float32) of the piecewise-affine warp that carries src_points to dst_points."""
    height, width = shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    triangles = Delaunay(dst_points).simplices
    dst_tri, src_tri = dst_points[triangles], src_points[triangles]
    keep = np.abs(_cross(dst_tri[:, 1] - dst_tri[:, 0], dst_tri[:, 2] - dst_tri[:, 0])) > 1e-6
    triangles, dst_tri, src_tri = triangles[keep], dst_tri[keep], src_tri[keep]
    label = np.full((height, width), -1.0, np.float32)
    for index, triangle in enumerate(dst_tri):
        cv2.fillConvexPoly(label, np.round(triangle * 16).astype(np.int32), float(index), cv2.LINE_8, 4)
    inside = label >= 0
    affine = _affines(dst_tri, src_tri)[label[inside].astype(np.int64)]
    xs, ys = grid_x[inside], grid_y[inside]
    map_x, map_y = grid_x.copy(), grid_y.copy()
    map_x[inside] = affine[:, 0, 0] * xs + affine[:, 0, 1] * ys + affine[:, 0, 2]
    map_y[inside] = affine[:, 1, 0] * xs + affine[:, 1, 1] * ys + affine[:, 1, 2]
    return map_x, map_y


def _signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    corners = points[triangles]
    return _cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def folded_area(src_points: np.ndarray, dst_points: np.ndarray) -> float:
    """Pixel area of the source that the warp would mirror (triangles of the output mesh turned over in the input)."""
    triangles = Delaunay(dst_points).simplices
    src_area = _signed_areas(src_points, triangles)
    flipped = np.sign(src_area) != np.sign(_signed_areas(dst_points, triangles))
    return float(np.abs(src_area[flipped]).sum() / 2)


def control_points(landmarks: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source and destination points of the warp, and the destination outline of the newly opened mouth.

    Besides the landmarks and the fixed ring, the line midway between the inner
    lips is entered twice, once riding with the upper lip and once with the
    lower: the teeth and tongue of each half follow their own jaw and the gap
    that opens between them stretches only that line, which is then shaded.
    """
    points = geo.xy(landmarks)
    ring = outer_ring(landmarks)
    midline = (points[UPPER_INNER] + points[LOWER_INNER]) / 2
    src = np.vstack([points, midline, midline, ring])
    moved = points + shift
    upper, lower = midline + shift[UPPER_INNER], midline + shift[LOWER_INNER]
    dst = np.vstack([moved, upper, lower, ring])
    gap = np.vstack([moved[SLIT_CORNERS[0]], upper, moved[SLIT_CORNERS[1]], lower[::-1]])
    return src, dst, gap


def apply(face: Face, params: Params, donor: Face | None = None) -> Forgery:
    """Warp the face to the new expression; the image beyond the ring around the face is unchanged."""
    unit = geo.iod(face.landmarks)
    shift = displacements(face.landmarks, params)
    scale = 1.0
    src, dst, gap = control_points(face.landmarks, shift)
    while folded_area(src, dst) > MAX_FOLDED_AREA * unit**2 and scale > 0.1:
        # A fold would smear skin over itself; a smaller expression change is the honest fallback.
        scale *= 0.7
        src, dst, gap = control_points(face.landmarks, scale * shift)
    map_x, map_y = warp_maps(face.image.shape, src, dst)
    warped = cv2.remap(face.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    grid_y, grid_x = np.indices(map_x.shape, dtype=np.float32)
    changed = ((np.abs(map_x - grid_x) > 1e-3) | (np.abs(map_y - grid_y) > 1e-3)).astype(np.uint8)
    cavity = geo.polygon_mask(face.image.shape, gap)
    if cavity.any():
        shade = geo.feather(geo.grow(cavity, -0.01 * unit), 0.012 * unit) * np.float32(params["cavity"])
        lips = face.image[geo.hull_mask(face.image.shape, geo.xy(face.landmarks)[geo.LIPS_OUTER]) > 0]
        dark = (np.percentile(lips, 5, axis=0) * 0.45 if len(lips) else np.zeros(3)).astype(np.uint8)
        warped = geo.composite(warped, np.broadcast_to(dark, warped.shape), shade)
        changed |= geo.grow(cavity, 0.05 * unit)
    sigma = 1.0
    mask = geo.feather(geo.grow(changed, 3 * sigma + 1), sigma)
    mask[changed > 0] = 1.0
    image = geo.composite(face.image, warped, mask)
    return Forgery(
        image=image, mask=mask, params={**params, "applied_scale": round(scale, 4)}, family="reenact"
    )


def fade(params: Params, strength: float) -> Params:
    """A smaller expression change: ``strength`` 0 is the original expression."""
    s = float(np.clip(strength, 0, 1))
    keys = ("mouth_open", "smile", "brow_raise")
    return {**params, **{key: params[key] * s for key in keys}}


FAMILY = Family(
    name="reenact",
    imitates="Face2Face: the same identity with another expression (jaw, mouth corners, brows) by a piecewise-affine warp",
    needs_donor=False,
    sample=sample,
    apply=apply,
    fade=fade,
)
