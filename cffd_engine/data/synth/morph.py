"""``morph``: two people's faces averaged into one, imitating face-morphing attacks.

A morph (the passport attack; identity-blending face editors) is neither
person: the target's landmarks are moved part of the way towards the
similarity-aligned donor's, both faces are warped onto that intermediate
shape piecewise-affinely (over the landmarks plus reenact's fixed ring, so hair
and background stay), and the donor's colour-matched inner face is
cross-dissolved into the target's. What it leaves differs from the other four
families: the target's whole geometry pulled towards another's, doubled
contours where the two faces' features do not line up (ghosting), and the
averaged, smoothed skin of two images laid over each other. It is not part of
the default model's task sequence (``families.DEFAULT_SEQUENCE``): it is the
new forgery an analyst teaches the model in the walk-through and the tests.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Forgery, Params, uniform
from cffd_engine.data.synth.reenact import folded_area, outer_ring, warp_maps
from cffd_engine.data.synth.swap import align_donor, colour_transfer, skin_mask

# IOD^2 of mirrored skin tolerated before the shape change is shrunk (as in reenact).
MAX_FOLDED_AREA = 0.002


def sample(rng: np.random.Generator, face: Face, donor: Face | None = None) -> Params:
    """How far the shape moves towards the donor, how much of the donor's texture, colour match, edges."""
    return {
        "donor": Path(donor.name).name if donor is not None else "",
        "shape": uniform(rng, 0.3, 0.6),
        "texture": uniform(rng, 0.35, 0.6),
        "colour_transfer": uniform(rng, 0.6, 1.0),
        "erode": uniform(rng, 0.0, 0.08),
        "feather": uniform(rng, 0.03, 0.07),
    }


def _with_points(landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``landmarks`` (478, 3) with their x, y replaced by ``points``."""
    moved = landmarks.astype(np.float32).copy()
    moved[:, :2] = points
    return moved


def _warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` warped piecewise-affinely from ``src`` to ``dst``, and the 0/1 mask of the pixels it moved."""
    map_x, map_y = warp_maps(image.shape, src, dst)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    grid_y, grid_x = np.indices(map_x.shape, dtype=np.float32)
    moved = ((np.abs(map_x - grid_x) > 1e-3) | (np.abs(map_y - grid_y) > 1e-3)).astype(np.uint8)
    return warped, moved


def apply(face: Face, params: Params, donor: Face | None = None) -> Forgery:
    """Warp both faces to the intermediate shape and dissolve the donor's inner face into the target's."""
    if donor is None:
        raise ValueError("the 'morph' family needs a donor face")
    unit = geo.iod(face.landmarks)
    aligned, donor_landmarks = align_donor(face, donor)
    target_points, donor_points = geo.xy(face.landmarks), geo.xy(donor_landmarks)
    ring = outer_ring(face.landmarks)
    shape = float(params["shape"])
    middle = target_points + shape * (donor_points - target_points)
    while (
        folded_area(np.vstack([target_points, ring]), np.vstack([middle, ring])) > MAX_FOLDED_AREA * unit**2
    ):
        if shape < 0.05:
            middle = target_points
            break
        # A fold would smear skin over itself: a smaller change of shape is the honest fallback.
        shape *= 0.7
        middle = target_points + shape * (donor_points - target_points)
    destination = np.vstack([middle, ring])
    target_warped, moved = _warp(face.image, np.vstack([target_points, ring]), destination)
    donor_warped, _ = _warp(aligned, np.vstack([donor_points, ring]), destination)

    middle_landmarks = _with_points(face.landmarks, middle)
    inner = geo.hull_mask(face.image.shape, middle[geo.inner_face_indices(middle_landmarks)])
    region = geo.grow(inner, -params["erode"] * unit)
    skin = skin_mask(face.image.shape, middle_landmarks, region)
    donor_warped = colour_transfer(donor_warped, target_warped, skin, skin, params["colour_transfer"])
    # The soft edge lies inside the region, so the dissolve fades out before the region ends.
    edge = params["feather"] * unit
    dissolve = geo.feather(geo.grow(region, -1.5 * edge), edge) * region * np.float32(params["texture"])
    morphed = geo.composite(target_warped, donor_warped, dissolve)

    changed = moved | (dissolve > 0).astype(np.uint8)
    mask = geo.feather(geo.grow(changed, 4), 1.0)
    mask[changed > 0] = 1.0
    image = geo.composite(face.image, morphed, mask)
    return Forgery(
        image=image, mask=mask, params={**params, "applied_shape": round(shape, 4)}, family="morph"
    )


def fade(params: Params, strength: float) -> Params:
    """Less of the donor: ``strength`` 0 leaves the target's shape and texture."""
    s = float(np.clip(strength, 0, 1))
    return {**params, "shape": params["shape"] * s, "texture": params["texture"] * s}


FAMILY = Family(
    name="morph",
    imitates="face morphing: two identities' shapes and textures averaged into one face (ghosted contours, averaged skin)",
    needs_donor=True,
    sample=sample,
    apply=apply,
    fade=fade,
)
