"""A judged face explained on demand, after the analysis: the same crop, the same Grad-CAM, the same peak."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cffd_engine.analysis import AnalysisSettings, analyze, load_analysis_model
from cffd_engine.analysis.explain import coarse_grid
from cffd_engine.analysis.keyframes import explain_judged_face, result_explainer
from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import JobControl
from cffd_engine.media.crops import CropGeometry


@pytest.fixture(scope="module")
def analysed(untrained_bundle, portrait_video):
    torch.manual_seed(0)
    model, info = load_analysis_model(untrained_bundle)
    settings = AnalysisSettings(device="cpu", cpu_threads=1, stride=2)
    result = analyze(portrait_video, settings, model, info)
    assert result.tracks and result.key_frames()
    return model, result


def test_a_key_frame_explained_again_gives_the_heatmap_analysis_stored(analysed):
    model, result = analysed
    (track,) = result.tracks
    with result_explainer(model, result.settings) as explainer:
        for key in track.key_frames:
            (score,) = [s for s in track.scores if s.frame_index == key.frame_index]
            heat = explain_judged_face(
                explainer,
                result.evidence.path,
                result.settings,
                result.model.input_size,
                score,
                JobControl(),
            )
            assert heat.geometry == CropGeometry.from_dict(key.crop_geometry)
            assert heat.heatmap.shape == (64, 64) and heat.heatmap.std() > 0.01
            assert np.allclose(coarse_grid(heat.heatmap), key.heatmap, atol=2e-3)
            assert heat.peak == pytest.approx(tuple(key.heatmap_peak), abs=0.1)
            assert heat.peak_in_box == key.peak_in_box and heat.box == key.box


def test_a_frame_the_analysis_did_not_read_is_a_clear_error(analysed):
    model, result = analysed
    score = result.tracks[0].scores[0]
    skipped = dataclasses.replace(score, frame_index=score.frame_index + 1)  # stride 2: never read
    with result_explainer(model, result.settings) as explainer, pytest.raises(EvidenceError, match="frame"):
        explain_judged_face(
            explainer, result.evidence.path, result.settings, result.model.input_size, skipped, JobControl()
        )
