"""Where heat maps point, measured against regions known to be changed: the check, its sentence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cffd_engine.analysis.heatmap_check import forged_crops, heatmap_check, peak_pixel
from cffd_engine.data.synth.base import Face
from cffd_engine.media.faces import FaceDetector, FaceLandmarker
from cffd_engine.model import RSIANet, preset
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import BundleManifest
from cffd_engine.store.card import heatmap_words, model_card
from tests.synthetic_media import altered_portrait

SIZE = 64


@pytest.fixture(scope="module")
def faces(portrait) -> list[Face]:
    with FaceLandmarker(max_faces=1) as landmarker:
        images = [portrait, altered_portrait()]
        return [Face(image, landmarker.landmarks(image)[0], f"face{i}") for i, image in enumerate(images)]


def test_the_peak_is_the_centre_of_the_hottest_twentieth():
    heat = np.zeros((40, 40), np.float32)
    heat[10:20, 24:34] = 1.0  # 100 of 1600 pixels: more than the hottest 5%, all equally hot
    assert peak_pixel(heat) == (14, 28)  # rows 10-19 -> 14.5 rounds to 14; columns 24-33 -> 28.5 -> 28


def test_forged_crops_carry_the_region_the_family_changed(faces):
    with FaceDetector("short", 0.5, 0) as detector:
        crops, regions = forged_crops(faces, "texture", faces, detector, SIZE, np.random.default_rng(0))
    assert crops.shape == (2, SIZE, SIZE, 3) and regions.shape == (2, SIZE, SIZE) and regions.dtype == bool
    # The texture family re-renders the mouth: a small region in the lower half of the face crop.
    for region in regions:
        rows, _ = np.nonzero(region)
        assert 0.005 < region.mean() < 0.25 and rows.mean() > SIZE / 2


def test_the_check_gives_every_family_and_level_figures_within_their_bounds(faces):
    torch.manual_seed(0)
    model = RSIANet(preset("lite", input_size=SIZE)).eval()
    with cpu_threads(1):
        figures = heatmap_check(
            model, faces, faces[::-1], ["blend", "swap"], levels=(1, 2), fused_levels=(2,), seed=0
        )
    assert set(figures) == {"blend", "swap"}
    with FaceDetector("short", 0.5, 0) as detector:
        rng = np.random.default_rng(0)
        _, blend_regions = forged_crops(faces, "blend", faces[::-1], detector, SIZE, rng)
    for levels in figures.values():
        assert set(levels) == {"level 1", "level 2", "fused 2"}
        for f in levels.values():
            assert f["faces"] == 2
            assert 0.0 <= f["mass_inside"] <= 1.0 and f["pointing"] in (0.0, 0.5, 1.0)
    # The region's share is the crops' own, recomputed from the same draw.
    assert figures["blend"]["level 1"]["region_share"] == pytest.approx(blend_regions.mean(), abs=1e-4)


def test_the_card_and_report_sentence_weigh_families_by_their_faces():
    check = {
        "measured_on": "forgeries of 4 held-out photos per family",
        "figures": {
            "blend": {"level 3": {"faces": 4, "pointing": 1.0, "region_share": 0.4, "mass_inside": 0.6}},
            "swap": {"level 3": {"faces": 2, "pointing": 0.5, "region_share": 0.1, "mass_inside": 0.5}},
        },
    }
    words = heatmap_words(check, 3)
    # (4 * 1.0 + 2 * 0.5) / 6 = 83.3%; chance (4 * 0.4 + 2 * 0.1) / 6 = 30.0%.
    assert words == (
        "In tests on known manipulations (forgeries of 4 held-out photos per family), the heat map's peak at "
        "level 3 fell inside the manipulated region 83.3% of the time (blend 100.0%, swap 50.0%); a point "
        "placed at random would fall inside 30.0% of the time."
    )
    assert heatmap_words(check, 2) is None and heatmap_words(None, 3) is None
    manifest = BundleManifest(
        model_config={"name": "lite0", "input_size": 160}, metrics={"heatmap_check": check}
    )
    assert f"- Heat maps: {words}" in model_card(manifest)  # 160 px: Grad-CAM at level 3
