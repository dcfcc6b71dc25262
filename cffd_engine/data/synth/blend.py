"""``blend``: self-blended images (SBI, Shiohara and Yamasaki 2022), imitating Deepfakes-style blending.

The face is pasted onto itself: a copy with changed colour, sharpness and
scale, shifted by a slight affine transform, is blended inside a randomly
deformed and blurred hull of the landmarks. What it imitates is the blending
boundary and the statistical mismatch between the inner face and its
surroundings that every face-replacement pipeline leaves, not any generator.
"""

from __future__ import annotations

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Forgery, Params, uniform

# SBI draws from (0.25, 0.5, 0.75, 1, 1, 1); a quarter-strength paste is invisible after JPEG at small scale.
BLEND_RATIOS = (0.5, 0.75, 1.0, 1.0, 1.0)
MIN_CHANGE = 9.0  # grey levels, inner face, times the ratio
MAX_DRAWS = 20


def sample(rng: np.random.Generator, face: Face, donor: Face | None = None) -> Params:
    """Random mask shape, source degradation and blend ratio, sized in inter-ocular distances.

    Draws whose degraded copy hardly differs from the face (mean change under
    ``MIN_CHANGE`` grey levels inside the face) are drawn again: a forgery that
    changes nothing would only be a mislabelled real sample.
    """
    for _ in range(MAX_DRAWS):
        params = _draw(rng)
        if face.image.size <= 3 or _change(face, params) >= MIN_CHANGE:
            break
    return params


def _draw(rng: np.random.Generator) -> Params:
    # The ranges are SBI's (RGB shift 20, hue/saturation/value, brightness/contrast, down-scaling, sharpening).
    harmonics = [[int(k), uniform(rng, 0.2, 1.0), uniform(rng, 0, 2 * np.pi)] for k in rng.choice([2, 3, 4, 5], 2, replace=False)]  # fmt: skip
    sharpness = str(rng.choice(["none", "blur", "sharpen"]))
    return {
        "hull": str(rng.choice(["full", "inner"])),
        "deform": uniform(rng, 0.0, 0.12),
        "harmonics": harmonics,
        "grow": uniform(rng, -0.12, 0.06),
        "blur": uniform(rng, 0.04, 0.15),
        "ratio": float(rng.choice(BLEND_RATIOS)),
        "rgb_shift": [int(v) for v in rng.integers(-20, 21, 3)],
        "hue": uniform(rng, -8.0, 8.0),
        "saturation": uniform(rng, 0.7, 1.3),
        "brightness": uniform(rng, -0.1, 0.1),
        "contrast": uniform(rng, 0.8, 1.2),
        "sharpness": sharpness,
        "sharpness_amount": uniform(rng, 0.5, 1.5) if sharpness != "none" else 0.0,
        # Deepfakes decode the face at a lower resolution than the frame: mostly down-scaled (SBI: half).
        "rescale": uniform(rng, 0.4, 0.9) if rng.random() < 0.75 else 1.0,
        "shift": [uniform(rng, -0.05, 0.05), uniform(rng, -0.05, 0.05)],
        "scale": uniform(rng, 0.95, 1.05),
    }


def _change(face: Face, params: Params) -> float:
    """Mean absolute grey-level change the draw makes inside the inner face, before blending."""
    inner = (
        geo.hull_mask(face.image.shape, geo.xy(face.landmarks)[geo.inner_face_indices(face.landmarks)]) > 0
    )
    source = source_image(face, params).astype(np.float32)
    return float(np.abs(source - face.image)[inner].mean() * params["ratio"]) if inner.any() else 0.0


def blend_mask(face: Face, params: Params) -> np.ndarray:
    """The soft SBI mask: a landmark hull, radially deformed by low harmonics, grown or shrunk, blurred, times the ratio."""
    points = geo.xy(face.landmarks)
    if params["hull"] == "inner":
        points = points[geo.inner_face_indices(face.landmarks)]
    unit = geo.iod(face.landmarks)
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    outline = _densify(hull, 96)
    centre = points.mean(axis=0)
    offset = outline - centre
    angle = np.arctan2(offset[:, 1], offset[:, 0])
    wave = sum(weight * np.sin(k * angle + phase) for k, weight, phase in params["harmonics"])
    radius = np.linalg.norm(offset, axis=1, keepdims=True)
    outline = centre + offset * (1 + params["deform"] * unit * wave[:, None] / np.maximum(radius, 1e-6))
    mask = geo.grow(geo.polygon_mask(face.image.shape, outline), params["grow"] * unit)
    return geo.feather(mask, params["blur"] * unit) * np.float32(params["ratio"])


def source_image(face: Face, params: Params) -> np.ndarray:
    """The face's own image with colour, sharpness and scale changed and slightly shifted: what gets pasted."""
    image = face.image.astype(np.float32) / 255.0
    image = (image - 0.5) * params["contrast"] + 0.5 + params["brightness"]
    image = image + np.asarray(params["rgb_shift"], np.float32) / 255.0
    hsv = cv2.cvtColor(np.clip(image, 0, 1), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + params["hue"]) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * params["saturation"], 0, 1)
    image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    unit = geo.iod(face.landmarks)
    if params["sharpness"] != "none":
        blurred = cv2.GaussianBlur(image, (0, 0), max(0.3, 0.02 * unit * params["sharpness_amount"]))
        if params["sharpness"] == "blur":
            image = blurred
        else:
            image = image + params["sharpness_amount"] * (image - blurred)
    image = geo.resample(image, params["rescale"])
    height, width = image.shape[:2]
    centre = geo.xy(face.landmarks).mean(axis=0)
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, params["scale"])
    matrix[:, 2] += np.asarray(params["shift"]) * unit
    image = cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def apply(face: Face, params: Params, donor: Face | None = None) -> Forgery:
    """Blend the degraded copy of the face into the face inside its deformed hull."""
    mask = blend_mask(face, params)
    image = geo.composite(face.image, source_image(face, params), mask)
    return Forgery(image=image, mask=mask, params=params, family="blend")


def fade(params: Params, strength: float) -> Params:
    """The same blend at a lower ratio: ``strength`` 0 leaves the face untouched."""
    return {**params, "ratio": params["ratio"] * float(np.clip(strength, 0, 1))}


def _densify(polygon: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a closed polygon's perimeter."""
    closed = np.vstack([polygon, polygon[:1]])
    lengths = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    position = np.concatenate([[0], np.cumsum(lengths)])
    targets = np.linspace(0, position[-1], count, endpoint=False)
    return np.column_stack([np.interp(targets, position, closed[:, i]) for i in range(2)])


FAMILY = Family(
    name="blend",
    imitates="Deepfakes-style face replacement: the blending boundary and inner/outer colour and sharpness mismatch (SBI)",
    needs_donor=False,
    sample=sample,
    apply=apply,
    fade=fade,
)
