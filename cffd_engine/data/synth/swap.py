"""``swap``: another person's inner face pasted in, imitating FaceSwap (the graphics-based method of FF++).

The donor's face is aligned onto the target by the similarity transform that
best maps its rigid landmarks onto the target's, rendered at a lower
resolution (FaceSwap's rendered texture is soft), its colours moved towards
the target's (Reinhard transfer in Lab), and Poisson-blended
(``cv2.seamlessClone``) inside the hull of the target's inner face. The
eyes, nose, mouth and skin texture are the donor's; the face outline, hair
and forehead stay the target's. No 3-D model is fitted, so large pose
differences between donor and target give visibly wrong results: choose
donors of similar pose (``donor_pose_distance``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Forgery, Params, uniform
from cffd_engine.data.synth.pool import utk_attributes

PAD = 16  # seamlessClone refuses masks that touch the border; work on a padded copy


def sample(rng: np.random.Generator, face: Face, donor: Face | None = None) -> Params:
    """Random render resolution, colour-transfer strength, mask erosion and edge softness; the donor is the caller's choice."""
    return {
        "donor": Path(donor.name).name if donor is not None else "",
        # FaceSwap renders the donor's texture on a low-resolution model: the pasted face is softer.
        "render_scale": uniform(rng, 0.45, 0.85),
        "colour_transfer": uniform(rng, 0.6, 1.0),
        "erode": uniform(rng, 0.02, 0.12),
        "feather": uniform(rng, 0.02, 0.06),
        "clone": str(rng.choice(["poisson", "poisson", "alpha"])),
    }


def align_donor(face: Face, donor: Face) -> tuple[np.ndarray, np.ndarray]:
    """The donor image warped into the target's frame and its landmarks moved with it."""
    matrix = geo.umeyama(geo.xy(donor.landmarks)[geo.RIGID], geo.xy(face.landmarks)[geo.RIGID])
    height, width = face.image.shape[:2]
    warped = cv2.warpAffine(
        donor.image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return warped, geo.transform_points(donor.landmarks, matrix)


def skin_mask(shape: tuple[int, ...], landmarks: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``region`` without the eyes, brows and lips of ``landmarks``: the skin whose colour is matched."""
    points = geo.xy(landmarks)
    margin = 0.08 * geo.iod(landmarks)
    features = np.zeros(shape[:2], np.uint8)
    for group in (geo.LEFT_EYE + geo.LEFT_EYEBROW, geo.RIGHT_EYE + geo.RIGHT_EYEBROW, geo.LIPS_OUTER):
        features |= geo.hull_mask(shape, points[group])
    return region & (1 - geo.grow(features, margin))


def colour_transfer(
    source: np.ndarray,
    reference: np.ndarray,
    source_skin: np.ndarray,
    reference_skin: np.ndarray,
    strength: float,
) -> np.ndarray:
    """``source`` with its Lab mean and spread over its skin moved towards ``reference``'s over its, by ``strength``.

    The spread is matched within a factor of 4/3 at most: a target's beard or
    shadow must not stretch the donor's contrast into black eyes.
    """
    src_in, ref_in = source_skin.astype(bool), reference_skin.astype(bool)
    if src_in.sum() < 16 or ref_in.sum() < 16:
        return source
    src = cv2.cvtColor(source.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ref = cv2.cvtColor(reference.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    mean_s, std_s = src[src_in].mean(axis=0), src[src_in].std(axis=0) + 1e-3
    mean_r, std_r = ref[ref_in].mean(axis=0), ref[ref_in].std(axis=0) + 1e-3
    moved = (src - mean_s) * np.clip(std_r / std_s, 0.75, 4 / 3) + mean_r
    mixed = src + strength * (moved - src)
    rgb = cv2.cvtColor(mixed.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def swap_mask(face: Face, donor_landmarks: np.ndarray, params: Params) -> np.ndarray:
    """The 0/1 region replaced: the target's inner-face hull, within the aligned donor's, eroded."""
    target = geo.hull_mask(face.image.shape, geo.xy(face.landmarks)[geo.inner_face_indices(face.landmarks)])
    donor = geo.hull_mask(face.image.shape, geo.xy(donor_landmarks)[geo.inner_face_indices(donor_landmarks)])
    return geo.grow(target & donor, -params["erode"] * geo.iod(face.landmarks))


def apply(face: Face, params: Params, donor: Face | None = None) -> Forgery:
    """Paste the donor's aligned, colour-matched inner face into ``face``."""
    if donor is None:
        raise ValueError("the 'swap' family needs a donor face")
    warped, donor_landmarks = align_donor(face, donor)
    region = swap_mask(face, donor_landmarks, params)
    if region.sum() < 16:
        return Forgery(
            image=face.image.copy(), mask=np.zeros(region.shape, np.float32), params=params, family="swap"
        )
    donor_skin = skin_mask(face.image.shape, donor_landmarks, region)
    target_skin = skin_mask(face.image.shape, face.landmarks, region)
    warped = colour_transfer(warped, face.image, donor_skin, target_skin, params["colour_transfer"])
    warped = geo.resample(warped, params["render_scale"])
    pasted = _poisson(warped, face.image, region) if params["clone"] == "poisson" else warped
    # The soft edge lies inside the region, so the Poisson boundary condition is met at the seam.
    unit = geo.iod(face.landmarks)
    mask = geo.feather(geo.grow(region, -params["feather"] * unit * 1.5), params["feather"] * unit) * region
    image = geo.composite(face.image, pasted, mask)
    return Forgery(image=image, mask=mask.astype(np.float32), params=params, family="swap")


def fade(params: Params, strength: float) -> Params:
    """Swaps do not fade gracefully (two faces would show); a segment switches at full strength."""
    return params


def donor_pose_distance(face: Face, donor: Face) -> float:
    """How differently two faces are posed (and shaped), in inter-ocular distances; small is a good donor."""
    return geo.shape_distance(donor.landmarks, face.landmarks, geo.RIGID)


def face_sharpness(face: Face) -> float:
    """Detail of the inner face: spread of the Laplacian of its grey levels, per inter-ocular distance."""
    inner = (
        geo.hull_mask(face.image.shape, geo.xy(face.landmarks)[geo.inner_face_indices(face.landmarks)]) > 0
    )
    grey = cv2.cvtColor(face.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    detail = cv2.Laplacian(grey, cv2.CV_32F)[inner]
    # Laplacian energy scales with resolution: a large, soft face and a small, sharp one are alike.
    return float(detail.std() * geo.iod(face.landmarks) / 64) if detail.size else 0.0


def donor_cost(face: Face, donor: Face, sharpness: tuple[float, float] | None = None) -> float:
    """How poor a donor is for ``face``: other gender or ethnicity, age gap (UTKFace names), pose, sharpness.

    ``sharpness`` (face's, donor's) from ``face_sharpness`` saves recomputing it for many candidates.
    """
    a, b = utk_attributes(face.name), utk_attributes(donor.name)
    cost = 0.0
    if a.gender is not None and b.gender is not None:
        cost += float(a.gender != b.gender)
    if a.race is not None and b.race is not None:
        cost += float(a.race != b.race)
    if a.age is not None and b.age is not None:
        cost += min(abs(a.age - b.age), 40) / 20
    if sharpness is not None and min(sharpness) > 0:
        cost += abs(np.log(sharpness[0] / sharpness[1]))
    return cost + 2 * donor_pose_distance(face, donor)


def _poisson(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``source`` Poisson-blended into ``target`` over ``region``, both images in the same frame."""
    pad = [(PAD, PAD), (PAD, PAD)]
    src = np.pad(source, [*pad, (0, 0)], mode="reflect")
    dst = np.pad(target, [*pad, (0, 0)], mode="reflect")
    mask = np.pad(region, pad) * 255
    x, y, w, h = cv2.boundingRect(mask)
    # seamlessClone centres the mask's bounding box at this point: this keeps source and target aligned.
    centre = (x + w // 2, y + h // 2)
    cloned = cv2.seamlessClone(src, dst, mask, centre, cv2.NORMAL_CLONE)
    return cloned[PAD:-PAD, PAD:-PAD]


FAMILY = Family(
    name="swap",
    imitates="FaceSwap: another identity's inner face, similarity-aligned, colour-matched and Poisson-blended",
    needs_donor=True,
    sample=sample,
    apply=apply,
    fade=fade,
)
