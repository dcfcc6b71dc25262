"""Video-like degradation of synthetic pairs: real codec round trips, the same draw on a photo and its forgery."""

from __future__ import annotations

import numpy as np
import pytest

from cffd_engine.data.synth.base import LOW_RES, Compression, codec_round_trip
from tests import synthetic_media


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return synthetic_media.portrait_rgb()[:161, :143]  # odd sides: 4:2:0 video needs even ones


@pytest.mark.parametrize(("codec", "good", "poor"), [("h264", 18, 34), ("mpeg4", 2, 12)])
def test_a_codec_round_trip_compresses_more_at_lower_quality_and_repeats_exactly(face, codec, good, poor):
    fine, coarse = codec_round_trip(face, codec, good), codec_round_trip(face, codec, poor)
    assert fine.shape == coarse.shape == face.shape and fine.dtype == np.uint8
    assert 30 < psnr(fine, face) < 60  # really through the codec: close, not equal
    assert psnr(coarse, face) < psnr(fine, face) - 3
    np.testing.assert_array_equal(codec_round_trip(face, codec, poor), coarse)


def test_an_unknown_codec_is_refused(face):
    with pytest.raises(ValueError, match="unknown codec 'vp9'"):
        codec_round_trip(face, "vp9", 30)


def test_without_video_like_the_draw_is_the_one_older_builds_made():
    videos = []
    for seed in range(40):
        plain = Compression.sample(np.random.default_rng(seed), (60, 95), 0.3)
        video = Compression.sample(np.random.default_rng(seed), (60, 95), 0.3, video_like=True)
        assert video.quality == plain.quality
        assert (plain.codec, plain.blur, plain.smooth, plain.sharpen, plain.noise) == ("", 0.0, 0.0, 0.0, 0.0)
        assert video.codec in ("h264", "mpeg4") and video.codec_quality > 0
        assert video.resize == 1.0 or LOW_RES[0] <= video.resize <= LOW_RES[1]
        videos.append(video)
    for step in ("resize", "smooth", "blur", "sharpen", "noise"):  # each step is drawn on and off
        assert len({getattr(video, step) == (1.0 if step == "resize" else 0.0) for video in videos}) == 2, (
            step
        )


def test_a_photo_and_its_forgery_get_the_same_degradation(face):
    chosen = Compression(  # every step at once
        quality=80,
        resize=0.7,
        blur=0.8,
        smooth=40.0,
        sharpen=0.5,
        noise=2.0,
        noise_seed=3,
        codec="h264",
        codec_quality=30,
    )
    forged = face.copy()
    forged[60:100, 50:90] = 255 - forged[60:100, 50:90]  # a manipulated patch
    real_out, fake_out = chosen.apply(face), chosen.apply(forged)
    np.testing.assert_array_equal(chosen.apply(face), real_out)  # noise included: the same pattern
    away = np.ones(face.shape[:2], bool)
    away[44:116, 34:106] = False  # the patch and a margin of two 8x8 blocks
    difference = np.abs(real_out.astype(int) - fake_out)[away]
    assert difference.mean() < 1.0, "outside the forgery, the two must be degraded alike"
    assert psnr(real_out, face) < 40  # and the degradation is real
