"""The view follows the face track: the one that decided is selected, and another chosen is followed throughout.

Two faces side by side make two tracks. The analyst selects a track in the verdict card's
table (or on the timeline) and reads which frames the viewer steps through, which box is
drawn bold, and what the timeline, spectrum and level weights show; on a frame without a
key-frame heatmap one is computed in the background with the model that produced the result.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

import cffd_engine.analysis.keyframes as keyframes_module
from app.images import heat_to_image
from cffd_engine.analysis.keyframes import explain_judged_face, result_explainer
from cffd_engine.jobs import JobControl
from tests import synthetic_media as sm
from tests.app.test_analysis_view import analysed


@pytest.fixture(scope="module")
def two_face_video(tmp_path_factory):
    """Two faces side by side; the right one comes in at frame 4, so the tracks' frames differ."""
    frames = sm.two_face_frames(12)
    for frame in frames[:4]:
        frame[:, 400:] = 90
    return sm.write_video_av(tmp_path_factory.mktemp("two-faces") / "two.mp4", frames)


@pytest.fixture
def counted(monkeypatch):
    """Every on-demand heatmap the window computes, as (track, frame)."""
    calls = []

    def counting(explainer, path, settings, input_size, score, job):
        calls.append((score.track_id, score.frame_index))
        return explain_judged_face(explainer, path, settings, input_size, score, job)

    monkeypatch.setattr(keyframes_module, "explain_judged_face", counting)  # the view imports it when used
    return calls


def click_track(qtbot, card, track_id: int) -> None:
    """Click the track's row in the verdict card's table, as the analyst does."""
    table = card.tracks
    (row,) = [r for r in range(table.rowCount()) if table.item(r, 0).text() == str(track_id)]
    centre = table.visualItemRect(table.item(row, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def stepped_frames(qtbot, view) -> list[int]:
    """Home, then Right until the frame stops changing: every frame the viewer steps through."""
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    seen = [view.current_index]
    while True:
        qtbot.keyClick(view, Qt.Key.Key_Right)
        if view.current_index == seen[-1]:
            return seen
        seen.append(view.current_index)


def emphasised(view):
    (face,) = [face for face in view.frame_viewer.canvas.faces if face.emphasised]
    return face


def test_the_deciding_track_is_selected_and_another_selected_is_followed(qtbot, window, two_face_video):
    (result,) = analysed(qtbot, window, [two_face_video])
    assert len(result.tracks) == 2 and result.deciding_track is not None
    assert sorted(len(track.scores) for track in result.tracks) == [8, 12]
    view, card = window.results_view, window.results_view.verdict_card
    deciding = result.track(result.deciding_track)
    other = next(track for track in result.tracks if track.track_id != deciding.track_id)

    # Selected after analysis, whatever its row: the result shown again with its tracks in the other order.
    (item,) = window.queue.items.values()
    for tracks in (result.tracks, result.tracks[::-1]):
        window.item_view.show_result(item.id, replace(result, tracks=list(tracks)))
        assert card.selected_track() == view.track_id == deciding.track_id
        assert view.current_index == deciding.key_frames[0].frame_index
    window.item_view.show_result(item.id, result)
    qtbot.waitUntil(lambda: view.frames.finished, timeout=30_000)
    assert stepped_frames(qtbot, view) == [score.frame_index for score in deciding.scores]
    assert emphasised(view).caption.startswith(f"track {deciding.track_id} ")

    click_track(qtbot, card, other.track_id)
    assert card.selected_track() == view.track_id == other.track_id
    judged = [score.frame_index for score in other.scores]
    assert view.indices == judged
    assert stepped_frames(qtbot, view) == judged
    qtbot.keyClick(view, Qt.Key.Key_End)
    last = other.scores[-1]
    # Its box is the bold one (the other face in the frame is drawn thin), its curve the bold one.
    assert emphasised(view).box == last.box and emphasised(view).caption.startswith(
        f"track {other.track_id} "
    )
    assert len(view.frame_viewer.canvas.faces) == 2
    assert view.timeline.selected == other.track_id
    assert abs(view.timeline.cursor.value() - last.timestamp_s) < 1e-6
    widths = {tid: curve.opts["pen"].widthF() for tid, curve in view.timeline._curves.items()}
    assert widths[other.track_id] > widths[deciding.track_id]
    assert view.spectrum_panel.shown_key in other.key_frames
    assert f"face track {other.track_id}" in view.spectrum_panel.title.text()
    assert f"face track {other.track_id}" in view.level_weights.title.text()
    assert view.level_weights.weights == last.level_weights
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.current_index == max(key.frame_index for key in other.key_frames)

    # With the curves apart (the tiny model scores both faces alike), a click on a curve follows its track.
    lifted = replace(
        other, scores=[replace(s, fake_probability=s.fake_probability + 0.3) for s in other.scores]
    )
    window.item_view.show_result(item.id, replace(result, tracks=[deciding, lifted]))
    timeline = view.timeline
    for track, target in ((lifted, lifted.scores[4]), (deciding, deciding.scores[7])):
        scene = timeline.plotItem.vb.mapViewToScene(QPointF(target.timestamp_s, target.fake_probability))
        point = timeline.mapFromScene(scene)
        qtbot.mouseClick(timeline.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point.x(), point.y()))
        assert card.selected_track() == view.track_id == timeline.selected == track.track_id
        assert view.current_index == target.frame_index


def test_a_frame_without_a_key_heatmap_gets_one_computed_in_the_background_and_kept(
    qtbot, window, store, two_face_video, counted
):
    (result,) = analysed(qtbot, window, [two_face_video])
    view, viewer = window.results_view, window.results_view.frame_viewer
    qtbot.waitUntil(lambda: view.frames.finished, timeout=30_000)
    track = result.track(view.track_id)
    keys = {key.frame_index for key in track.key_frames}
    plain = [score for score in track.scores if score.frame_index not in keys]
    assert len(plain) >= 3

    # Stepping quickly past frames computes nothing for them; the frame stopped on gets its heatmap.
    view.setFocus()
    for score in plain[:3]:
        view.show_frame(score.frame_index)
        assert not viewer.heatmap_shown
        assert "Computing heatmap" in viewer.note.text()
    target = plain[2]
    qtbot.waitUntil(lambda: viewer.heatmap_shown, timeout=60_000)
    assert counted == [(track.track_id, target.frame_index)]
    assert "computed for this frame" in viewer.note.text() and "strongest point" in viewer.note.text()

    model, _ = store.load(result.model.version)
    with result_explainer(model, result.settings) as explainer:
        expected = explain_judged_face(
            explainer, result.evidence.path, result.settings, result.model.input_size, target, JobControl()
        )
    shown = view.heatmaps.cached(result, track.track_id, target.frame_index)
    assert np.allclose(shown.heatmap, expected.heatmap, atol=1e-5)
    assert shown.peak_in_box == expected.peak_in_box
    assert ("inside the face box" in viewer.note.text()) == expected.peak_in_box
    assert viewer.canvas.heat == heat_to_image(shown.geometry.heatmap_to_frame(shown.heatmap))
    assert shown.geometry == expected.geometry

    # Away and back: the heatmap is there at once, from the cache.
    view.show_frame(min(keys))
    view.show_frame(target.frame_index)
    assert viewer.heatmap_shown
    qtbot.wait(600)
    assert counted == [(track.track_id, target.frame_index)]


def test_a_result_whose_model_left_the_store_says_so_and_computes_nothing(
    qtbot, window, two_face_video, counted
):
    (result,) = analysed(qtbot, window, [two_face_video])
    view, viewer = window.results_view, window.results_view.frame_viewer
    (item,) = window.queue.items.values()
    for model, words in (
        (replace(result.model, version="v9"), "no longer in the model store"),
        (replace(result.model, weights_sha256="0" * 64), "not the store's version"),
    ):
        window.item_view.show_result(item.id, replace(result, model=model))
        track = result.track(view.track_id)
        keys = {key.frame_index for key in track.key_frames}
        plain = next(score for score in track.scores if score.frame_index not in keys)
        view.show_frame(plain.frame_index)
        assert words in viewer.note.text() and not viewer.heatmap_shown
        qtbot.wait(500)
        assert words in viewer.note.text() and not viewer.heatmap_shown
    # Key frames keep the heatmap analysis stored.
    view.show_frame(track.key_frames[0].frame_index)
    qtbot.waitUntil(lambda: viewer.heatmap_shown, timeout=30_000)
    assert counted == []
