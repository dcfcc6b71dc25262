"""Do the heatmaps point at what was manipulated? Grad-CAM against regions known to be changed.

Each synthetic family knows its mask. For real photos the model never trained on, each
family's forgery is made, the face is found and cropped as the analysis crops it
(short-range detector, ``crop_geometry`` at the analysis's scale and the model's size),
and Grad-CAM at each level of the spatial backbone (what the analysis shows) or at the
RSIA output of a level (the fused features FAF weighs) gives a heatmap of the crop. Per
family and target:

- ``mass_inside``: the share of the heatmap's mass inside the manipulated region, beside
  ``region_share``, the region's share of the crop (what a heatmap that knows nothing gets);
- ``pointing``: how often the heatmap's peak (the centre of its hottest 5%, as the report
  places it) falls inside the region (the pointing game); a peak placed at random would hit
  it ``region_share`` of the time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cffd_engine.analysis.explain import PEAK_SHARE, Explainer
from cffd_engine.data.synth import Face, get_family
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.crops import DEFAULT_SCALE, crop_geometry, crop_image
from cffd_engine.model import RSIANet

REGION = 0.5  # a crop pixel is in the manipulated region when the cropped soft mask reaches this


def peak_pixel(heatmap: np.ndarray) -> tuple[int, int]:
    """(row, column) of the centre of the hottest ``PEAK_SHARE`` of the heatmap (as ``explain.peak_on_frame``)."""
    top = heatmap >= np.quantile(heatmap, 1.0 - PEAK_SHARE)
    rows, cols = np.nonzero(top)
    return int(round(rows.mean())), int(round(cols.mean()))


def forged_crops(
    faces: Sequence[Face],
    family_name: str,
    donors: Sequence[Face],
    detector,
    size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(crops (N, S, S, 3) uint8, regions (N, S, S) bool) of ``family_name``'s forgeries of ``faces``."""
    family = get_family(family_name)
    crops, regions = [], []
    for index, face in enumerate(faces):
        donor = donors[(index + 1) % len(donors)] if family.needs_donor else None
        forgery = family(face, rng, donor)
        found = detector.detect(forgery.image)
        if not found:
            continue
        detection = max(found, key=lambda d: d.box[2] * d.box[3])
        height, width = forgery.image.shape[:2]
        geometry = crop_geometry(detection, (width, height), size, DEFAULT_SCALE)
        mask = np.repeat((forgery.mask * 255).astype(np.uint8)[..., None], 3, axis=2)
        region = crop_image(mask, geometry)[..., 0] >= REGION * 255
        if region.any():
            crops.append(crop_image(forgery.image, geometry))
            regions.append(region)
    if not crops:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, size, size), bool)
    return np.stack(crops), np.stack(regions)


def heatmap_check(
    model: RSIANet,
    faces: Sequence[Face],
    donors: Sequence[Face],
    families: Sequence[str],
    levels: Sequence[int] = (1, 2, 3, 4),
    fused_levels: Sequence[int] = (),
    seed: int = 0,
    job: JobControl | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """{family: {"level N": figures, "fused N": figures}}: Grad-CAM at each spatial level in ``levels``
    and at the RSIA output (the fused features FAF weighs) of each level in ``fused_levels``."""
    from cffd_engine.media.faces import FaceDetector

    job = ensure_job(job)
    size = model.config.input_size
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, dict[str, float]]] = {}
    with FaceDetector("short", 0.5, 0) as detector:
        made = {name: forged_crops(faces, name, donors, detector, size, rng) for name in families}
    explainers = {f"level {level}": Explainer(model, level=level) for level in levels}
    explainers |= {f"fused {level}": Explainer(model, level=level, fused=True) for level in fused_levels}
    try:
        for step, (name, (crops, regions)) in enumerate(made.items()):
            job.check()
            figures: dict[str, dict[str, float]] = {}
            share = float(regions.mean()) if len(regions) else 0.0
            for target, explainer in explainers.items():
                heatmaps = explainer.heatmaps(crops) if len(crops) else np.zeros((0, size, size))
                mass = [
                    float((h * r).sum() / max(h.sum(), 1e-9)) for h, r in zip(heatmaps, regions, strict=True)
                ]
                hits = [bool(r[peak_pixel(h)]) for h, r in zip(heatmaps, regions, strict=True)]
                figures[target] = {
                    "faces": len(crops),
                    "mass_inside": round(float(np.mean(mass)), 4) if mass else float("nan"),
                    "region_share": round(share, 4),
                    "pointing": round(float(np.mean(hits)), 4) if hits else float("nan"),
                }
            out[name] = figures
            job.report((step + 1) / len(made), f"heatmaps checked on {name}")
    finally:
        for explainer in explainers.values():
            explainer.close()
    return out
