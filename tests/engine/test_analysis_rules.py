"""The rules behind a verdict, the settings' command line and the spectra, without a model or a video."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest

from cffd_engine.analysis import AnalysisSettings, FrameScore, compute_reference_spectrum
from cffd_engine.analysis.analyzer import not_assessed_note
from cffd_engine.analysis.result import LIKELY_MANIPULATED, NO_MANIPULATION_DETECTED, NOT_ASSESSED
from cffd_engine.analysis.spectrum import (
    BINS,
    compare,
    fallback_reference,
    genuine_outside,
    load_reference_spectrum,
    log_magnitude,
    radial_power,
    save_reference_spectrum,
)
from cffd_engine.analysis.verdict import (
    assess_tracks,
    assessment_label,
    summarise_track,
    video_verdict,
    window_length,
)
from cffd_engine.cli.analyze import add_arguments, settings_from_args
from cffd_engine.errors import CFFDError
from cffd_engine.media.detectors import DetectorSettings
from tests.synthetic_media import face_variants


def scores(
    probabilities: list[float],
    track_id: int = 0,
    fps: float = 25.0,
    detection: float = 0.9,
    size: float = 100.0,
) -> list[FrameScore]:
    return [
        FrameScore(i, i / fps, track_id, [10.0, 10.0, size, size], detection, p, [0.25] * 4)
        for i, p in enumerate(probabilities)
    ]


SETTINGS = AnalysisSettings(window_s=0.4, window_min_faces=5)


def test_a_manipulated_stretch_is_not_averaged_away():
    # 3 s of a genuine face, then 1 s swapped: the whole-track mean stays low, the stretch does not.
    track = summarise_track(0, scores([0.05] * 75 + [0.9] * 25), 0.5, SETTINGS)
    assert track.mean_probability < 0.5 and track.score == pytest.approx(0.9)
    assert track.verdict == LIKELY_MANIPULATED
    assert track.window_faces == 11 and track.window_start_s >= 3.0


def test_one_odd_frame_does_not_decide():
    track = summarise_track(0, scores([0.05] * 40 + [0.99] + [0.05] * 40), 0.5, SETTINGS)
    assert track.verdict == NO_MANIPULATION_DETECTED and track.max_probability == 0.99
    assert track.score < 0.2


def test_window_follows_the_sampling_rate():
    assert window_length(np.arange(100) / 25, 1.0, 5) == 26  # every frame: a second is 26 faces
    assert window_length(np.arange(100) * 2.0, 1.0, 5) == 5  # one face every 2 s: the minimum
    assert window_length(np.arange(3) / 25, 1.0, 5) == 3  # short track: all of it


def test_video_is_as_suspicious_as_its_worst_long_track():
    genuine = summarise_track(0, scores([0.1] * 30), 0.5, SETTINGS)
    swapped = summarise_track(1, scores([0.8] * 30, track_id=1), 0.5, SETTINGS)
    blip = summarise_track(2, scores([0.99] * 2, track_id=2), 0.5, SETTINGS)
    assess_tracks([genuine, swapped, blip], min_track_faces=3)
    verdict, probability, deciding = video_verdict([genuine, swapped, blip], 0.5)
    assert (verdict, deciding) == (LIKELY_MANIPULATED, 1) and probability == pytest.approx(0.8)
    assert [t.counts_for_video for t in (genuine, swapped, blip)] == [True, True, False]
    # With only short tracks, they count.
    assess_tracks([blip], min_track_faces=3)
    verdict, _, deciding = video_verdict([blip], 0.5)
    assert (verdict, deciding) == (LIKELY_MANIPULATED, 2) and blip.counts_for_video


def test_only_tracks_that_show_a_face_are_assessed_and_they_come_first():
    face = summarise_track(0, scores([0.1] * 30, size=80), 0.5, SETTINGS, face_scores=[0.99, 0.98, 0.97])
    big_face = summarise_track(3, scores([0.2] * 20, 3, size=160), 0.5, SETTINGS, face_scores=[0.99])
    # A patch of background the detector took for a face, and a chin: both "very fake", neither a face.
    background = summarise_track(1, scores([0.95] * 30, 1, detection=0.52), 0.5, SETTINGS, face_scores=[0.9])
    chin = summarise_track(2, scores([0.97] * 30, 2, size=200), 0.5, SETTINGS, face_scores=[0.02, 0.1, 0.05])
    ordered = assess_tracks([face, background, chin, big_face], min_track_faces=3)
    assert [t.track_id for t in ordered] == [3, 0, 2, 1]  # assessed, largest first; then the rest
    assert [t.counts_for_video for t in ordered] == [True, True, False, False]
    assert (
        "face detector was unsure of this face" in background.not_assessed
        and "0.52" in background.not_assessed
    )
    assert "face-mesh network finds no face it can fit" in chin.not_assessed and "0.05" in chin.not_assessed
    assert chin.face_score == pytest.approx(0.05) and face.not_assessed == ""
    assert (background.verdict, chin.verdict, face.verdict) == (
        NOT_ASSESSED,
        NOT_ASSESSED,
        NO_MANIPULATION_DETECTED,
    )
    assert [assessment_label(t) for t in ordered] == ["yes", "yes", "no: face mesh 0.05", "no: detector 0.52"]
    note = not_assessed_note([chin, background])
    assert note.startswith("2 face track(s) were not assessed") and "track(s) 2: the face-mesh" in note
    assert "0.05" not in note  # the figures are in the track table; the note gives the reasons
    verdict, probability, deciding = video_verdict(ordered, 0.5)
    assert (verdict, deciding) == (NO_MANIPULATION_DETECTED, 3) and probability == pytest.approx(0.2)
    # Nothing that shows a face: no verdict at all.
    assert video_verdict(assess_tracks([background, chin], min_track_faces=3), 0.5) is None


def parse(argv: list[str]) -> AnalysisSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return settings_from_args(parser.parse_args(["clip.mp4", *argv]))


def test_every_setting_survives_the_command_line():
    assert parse([]) == AnalysisSettings() and AnalysisSettings().to_cli_args() == []
    changed = AnalysisSettings(
        frames=12, max_frames=40, device="cpu", precision="float32", batch_size=8, cpu_threads=3, leave_core_free=True,
        crop_scale=1.5, max_faces_per_frame=2, min_track_faces=4, window_s=0.5, window_min_faces=3,
        explain=False, explain_top_k=5, cam_level=2,
        detector=DetectorSettings(model="full", min_confidence=0.6, min_face_size=48, allow_fallback=False),
    )  # fmt: skip
    assert parse(changed.to_cli_args()) == changed
    assert changed.cli_gaps() == []
    assert parse(["--stride", "4"]).stride == 4


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="stride"):
        AnalysisSettings(stride=0)
    with pytest.raises(ValueError, match="cam_level"):
        AnalysisSettings(cam_level=7)
    with pytest.raises(ValueError, match="precision must be one of auto, float32"):
        AnalysisSettings(precision="float16")
    with pytest.raises(ValueError, match="unknown analysis setting"):
        AnalysisSettings.from_dict({"strid": 2})


def test_radial_power_has_no_empty_rings_on_small_crops():
    rng = np.random.default_rng(0)
    for size in (32, 64):
        face = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        spectrum = radial_power(face)
        assert np.isfinite(spectrum).all() and spectrum.min() > -60, size


def test_radial_power_sees_lost_detail():
    face = face_variants(1, size=160)[0]
    sharp, blurred = radial_power(face), radial_power(cv2.GaussianBlur(face, (0, 0), 2.0))
    assert sharp.shape == (BINS,) and blurred.shape == (BINS,)
    assert blurred[-8:].mean() < sharp[-8:].mean() - 10  # blurring removes the high frequencies
    assert log_magnitude(face).shape == (160, 160)
    # Brightness and contrast do not move the curve (it is relative to the face's own power).
    brighter = np.clip(face.astype(np.float32) * 0.8 + 30, 0, 255).astype(np.uint8)
    assert np.abs(radial_power(brighter) - sharp).max() < 1.0


def test_reference_band_of_real_faces(tmp_path):
    faces = face_variants(12, size=96)
    reference = compute_reference_spectrum(faces, "portrait variants")
    assert reference.count == 12 and reference.crop_size == 96 and not reference.fallback
    assert all(
        lo <= mid <= hi for lo, mid, hi in zip(reference.p05, reference.p50, reference.p95, strict=True)
    )
    save_reference_spectrum(tmp_path, reference)
    assert load_reference_spectrum(tmp_path) == reference
    assert load_reference_spectrum(tmp_path / "elsewhere") is None
    inside = compare(reference.p50, reference)
    assert inside.outside_fraction == 0 and inside.high_frequency_excess_db == 0
    noisy = np.clip(faces[0] + np.random.default_rng(0).normal(0, 25, faces[0].shape), 0, 255).astype(
        np.uint8
    )
    noisy_comparison = compare(radial_power(noisy), reference)
    assert noisy_comparison.high_frequency_excess_db > 2 and noisy_comparison.outside_fraction > 0.3
    with pytest.raises(ValueError, match="at least 2"):
        compute_reference_spectrum(faces[:1], "one face")


def test_how_far_genuine_faces_stray_from_the_band_is_measured_kept_and_said(tmp_path):
    faces = face_variants(16, size=96)
    reference = compute_reference_spectrum(faces[:8], "portrait variants")
    assert "was not measured" in reference.genuine_words()
    held_out = faces[8:]
    typical = genuine_outside(held_out, reference, "the other half")
    shares = [compare(radial_power(face), reference).outside_fraction for face in held_out]
    assert typical == {
        "faces": 8,
        "median": pytest.approx(float(np.median(shares)), abs=1e-4),
        "p95": pytest.approx(float(np.percentile(shares, 95)), abs=1e-4),
        "source": "the other half",
    }
    reference.genuine_outside = typical
    save_reference_spectrum(tmp_path, reference)
    assert load_reference_spectrum(tmp_path).genuine_outside == typical
    assert reference.genuine_words() == (
        f"Genuine faces fall outside it too: of 8 held-out genuine faces (the other half), half had "
        f"{100 * typical['median']:.0f}% of their rings or fewer outside the band, and 1 in 20 more than "
        f"{100 * typical['p95']:.0f}%."
    )
    reference.genuine_outside = {**typical, "median": 0.0}
    assert "half had no ring outside the band" in reference.genuine_words()
    # A bundle from elsewhere with a malformed figure is refused when loaded, naming the file.
    data = json.loads((tmp_path / "reference_spectrum.json").read_text())
    data["genuine_outside"] = {"faces": 8, "median": "half"}
    (tmp_path / "reference_spectrum.json").write_text(json.dumps(data))
    with pytest.raises(CFFDError, match="reference_spectrum.json.*genuine_outside"):
        load_reference_spectrum(tmp_path)


def test_fallback_band_is_flagged():
    band = fallback_reference()
    assert band.fallback and band.count > 100 and len(band.p50) == BINS
    assert "no reference of its own" in band.describe()
