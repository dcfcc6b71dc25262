"""The review queue without the window: which reviews offer faces, which frames are cut, what is kept."""

from __future__ import annotations

import pytest

from cffd_engine.analysis.result import (
    AGREED,
    DISPUTED,
    AnalysisResult,
    Evidence,
    FrameScore,
    ModelInfo,
    TrackResult,
)
from cffd_engine.analysis.review_queue import (
    GENUINE,
    MANIPULATED,
    ReviewQueue,
    example_label,
    frames_to_keep,
)
from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.media.video import read_image
from tests import synthetic_media as sm

FRAMES = 30
FACE_HEIGHT = 300


def test_only_a_dispute_offers_its_faces_and_under_the_analysts_finding():
    assert example_label(DISPUTED, MANIPULATED) == MANIPULATED
    assert example_label(DISPUTED, GENUINE) == GENUINE
    assert example_label(AGREED, None) is None


def _track(track_id: int, frames: int) -> TrackResult:
    """A track over every frame of ``moving_face_frames``, its box where the portrait is drawn."""
    width = round(sm.portrait_rgb().shape[1] * FACE_HEIGHT / sm.portrait_rgb().shape[0])
    top = (480 - FACE_HEIGHT) // 2
    scores = [
        FrameScore(
            i, i / 25, track_id, [sm.portrait_offset(i), top, width, FACE_HEIGHT], 0.9, 0.8, [0.25] * 4
        )
        for i in range(frames)
    ]
    return TrackResult(
        track_id, frames, 0, frames - 1, 0.0, frames / 25, 0.8, frames, 0.0, frames / 25,
        0.8, 0.8, 0.8, 1.0, [0.25] * 4, "LIKELY_MANIPULATED", True, 80.0, scores,
    )  # fmt: skip


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> AnalysisResult:
    video = sm.write_video(tmp_path_factory.mktemp("evidence") / "clip.mp4", sm.moving_face_frames(FRAMES))
    model = ModelInfo("v1", "v1", "", "0" * 64, "lite", 224, 0.5, {}, ["blend"], [], "", "", "0")
    return AnalysisResult(
        Evidence(str(video), video.name, sha256="a" * 64),
        model,
        AnalysisSettings(),
        "LIKELY_MANIPULATED",
        "rule",
        0.5,
        "",
        "",
        "",
        tracks=[_track(0, FRAMES), _track(1, FRAMES)],
    )


def test_the_frames_kept_are_spread_evenly_over_the_track(result):
    wanted = frames_to_keep(result, 0, limit=7)
    assert sorted(wanted) == [round(step * (FRAMES - 1) / 6) for step in range(7)]  # 0, 5, ... 29
    assert len(frames_to_keep(result, 0, limit=100)) == FRAMES


def test_keeping_a_track_writes_its_faces_and_marking_it_again_replaces_them(tmp_path, result):
    queue = ReviewQueue(tmp_path / "review")
    assert queue.keep_track(result, 0, MANIPULATED, limit=5) == 5
    first = {face.image for face in queue.faces()}
    pictures = sorted(path.name for path in (tmp_path / "review" / "faces").iterdir())
    assert pictures == sorted(first) and len(pictures) == 5
    assert [face.frame_index for face in queue.faces()] == sorted(frames_to_keep(result, 0, 5))
    assert read_image(tmp_path / "review" / "faces" / pictures[0]).shape == (224, 224, 3)
    assert queue.counts() == {GENUINE: 0, MANIPULATED: 5}

    assert queue.keep_track(result, 0, GENUINE, limit=3) == 3  # the analyst changed their mind
    assert queue.counts() == {GENUINE: 3, MANIPULATED: 0}
    assert not first & {path.name for path in (tmp_path / "review" / "faces").iterdir()}

    queue.keep_track(result, 1, MANIPULATED, limit=4)  # another track is kept beside it
    assert queue.counts() == {GENUINE: 3, MANIPULATED: 4} and len(queue.images(MANIPULATED)) == 4
    queue.clear(GENUINE)
    assert queue.counts() == {GENUINE: 0, MANIPULATED: 4}
    assert len(list((tmp_path / "review" / "faces").iterdir())) == 4


def test_an_unknown_label_is_refused(tmp_path, result):
    with pytest.raises(ValueError, match="label must be one of"):
        ReviewQueue(tmp_path).keep_track(result, 0, "fake")
