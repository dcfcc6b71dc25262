"""``texture``: the mouth region re-rendered, imitating NeuralTextures.

Only the mouth and its surroundings change: the region is down-sampled and
brought back up by a stride-f transposed convolution whose kernel is a
bilinear kernel with a random perturbation, as a learned decoder's would be;
unequal sums over the kernel's phases leave the checkerboard of period f
(peaks in the spectrum at multiples of 1/f) that learned up-sampling is known
for (Odena et al. 2016). The rendered patch is slightly warped and blended
back. No neural renderer is used: the mouth keeps its own content, blurred.
"""

from __future__ import annotations

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Forgery, Params, uniform


def sample(rng: np.random.Generator, face: Face, donor: Face | None = None) -> Params:
    """Random render resolution, kernel perturbation, warp, mask size and blend strength."""
    return {
        "render_iod_px": uniform(rng, 16.0, 28.0),  # the face's IOD at the render resolution
        "kernel_noise": uniform(rng, 0.04, 0.08),
        "kernel_seed": int(rng.integers(0, 2**31 - 1)),
        "rotate_deg": uniform(rng, -3.0, 3.0),
        "shift": [uniform(rng, -0.02, 0.02), uniform(rng, -0.02, 0.02)],
        "zoom": uniform(rng, 0.97, 1.03),
        "grow": uniform(rng, 0.12, 0.28),
        "feather": uniform(rng, 0.03, 0.07),
        "strength": uniform(rng, 0.9, 1.0),
    }


def upsampling_kernel(factor: int, noise: float, seed: int) -> np.ndarray:
    """(3, 2f, 2f) float32 transposed-convolution kernels: bilinear plus a per-tap perturbation, per colour."""
    half = (2 * np.arange(factor) + 1) / (2 * factor)
    tent = np.concatenate([half, half[::-1]])
    bilinear = np.outer(tent, tent)
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, noise, bilinear.shape)
    kernels = [bilinear * (1 + shared + rng.normal(0, noise / 3, bilinear.shape)) for _ in range(3)]
    return np.asarray(kernels, np.float32)


def transposed_upsample(image: np.ndarray, kernels: np.ndarray, factor: int) -> np.ndarray:
    """Stride-``factor`` transposed convolution of a float (h, w, 3) image: zero insertion, then the kernel."""
    height, width = image.shape[:2]
    size = kernels.shape[-1]
    inserted = np.zeros((height * factor + size, width * factor + size, 3), np.float32)
    inserted[
        size // 2 : size // 2 + height * factor : factor, size // 2 : size // 2 + width * factor : factor
    ] = image
    out = np.stack(
        [cv2.filter2D(inserted[..., c], -1, kernels[c], borderType=cv2.BORDER_CONSTANT) for c in range(3)],
        axis=-1,
    )
    # Output pixel j samples input coordinate (j + 0.5) / f - 0.5, as cv2.resize would (exact for even f).
    start = 1 + factor // 2
    return out[start : start + height * factor, start : start + width * factor]


def mouth_mask(face: Face, params: Params) -> np.ndarray:
    """The 0/1 region re-rendered: the hull of the outer lips, grown by ``grow`` IOD."""
    lips = geo.hull_mask(face.image.shape, geo.xy(face.landmarks)[geo.LIPS_OUTER])
    return geo.grow(lips, params["grow"] * geo.iod(face.landmarks))


def render_factor(face: Face, params: Params) -> int:
    """The down/up-sampling factor f that brings the face's IOD near ``render_iod_px``: even, at least 2."""
    # Odd strides would leave the tent kernel half a pixel off the grid.
    return max(2, 2 * int(round(geo.iod(face.landmarks) / params["render_iod_px"] / 2)))


def apply(face: Face, params: Params, donor: Face | None = None) -> Forgery:
    """Re-render the mouth region at low resolution with a learned-looking up-sampler and blend it back."""
    unit = geo.iod(face.landmarks)
    factor = render_factor(face, params)
    region = mouth_mask(face, params)
    margin = int(np.ceil(3 * params["feather"] * unit + 4 * factor))
    x, y, w, h = cv2.boundingRect(region)
    height, width = face.image.shape[:2]
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(width, x + w + margin), min(height, y + h + margin)
    patch = face.image[y0:y1, x0:x1].astype(np.float32)
    # The warp comes before rendering so that the up-sampler's period stays aligned with the pixel grid.
    centre = geo.xy(face.landmarks)[geo.LIPS_OUTER].mean(axis=0) - (x0, y0)
    matrix = cv2.getRotationMatrix2D(
        (float(centre[0]), float(centre[1])), params["rotate_deg"], params["zoom"]
    )
    matrix[:, 2] += np.asarray(params["shift"]) * unit
    patch = cv2.warpAffine(
        patch, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    small = cv2.resize(patch, ((x1 - x0) // factor, (y1 - y0) // factor), interpolation=cv2.INTER_AREA)
    kernels = upsampling_kernel(factor, params["kernel_noise"], params["kernel_seed"])
    rendered = transposed_upsample(small, kernels, factor)
    rendered = cv2.copyMakeBorder(
        rendered, 0, (y1 - y0) - rendered.shape[0], 0, (x1 - x0) - rendered.shape[1], cv2.BORDER_REPLICATE
    )
    fake = face.image.copy()
    fake[y0:y1, x0:x1] = np.clip(np.rint(rendered), 0, 255).astype(np.uint8)
    mask = geo.feather(region, params["feather"] * unit) * np.float32(params["strength"])
    image = geo.composite(face.image, fake, mask)
    return Forgery(image=image, mask=mask, params={**params, "factor": factor}, family="texture")


def fade(params: Params, strength: float) -> Params:
    """A weaker blend of the re-rendered mouth: ``strength`` 0 leaves the face untouched."""
    return {**params, "strength": params["strength"] * float(np.clip(strength, 0, 1))}


FAMILY = Family(
    name="texture",
    imitates="NeuralTextures: only the mouth region re-rendered, with the periodic artefacts of learned up-sampling",
    needs_donor=False,
    sample=sample,
    apply=apply,
    fade=fade,
)
