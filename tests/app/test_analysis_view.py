"""Evidence dropped on the real window is analysed in the background and explained: verdict, timeline, frames."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.evidence_queue import CANCELLED, DONE, NO_VERDICT
from app.results.frame_store import frames_to_show
from cffd_engine.analysis import NOT_APPLICABLE
from cffd_engine.analysis.result import DISPUTED
from cffd_engine.analysis.review_queue import MANIPULATED
from tests import synthetic_media as sm
from tests.app.conftest import give_review


def drop(window, paths) -> None:
    """Drag files from a file manager and let go over the window."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    centre = window.rect().center()
    enter = QDragEnterEvent(
        centre,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    release = QDropEvent(
        centre,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, release)


def analysed(qtbot, window, paths, count: int | None = None) -> list:
    results = []
    window.analysis_finished.connect(results.append)
    drop(window, paths)
    qtbot.waitUntil(lambda: len(results) == (count or len(paths)), timeout=90_000)
    return results


def test_a_dropped_video_gets_a_verdict_a_timeline_and_frames_with_a_heatmap(qtbot, window, portrait_video):
    (result,) = analysed(qtbot, window, [portrait_video])
    assert result.verdict != NOT_APPLICABLE and result.model.version == "v1"
    assert window.verdict_label.text() == result.verdict_words
    card = window.results_view.verdict_card
    assert f"{result.video_probability:.2f}" in card.headline_label.text()
    assert card.tracks.rowCount() == len(result.tracks) == 1
    assert "Model limit: Trained on checker patches only" in card.warnings_label.text()
    (item,) = window.queue.items.values()
    assert item.status == DONE and item.result is result

    view = window.results_view
    assert view.timeline.point_count() == sum(len(t.scores) for t in result.tracks) == 20
    viewer = view.frame_viewer
    qtbot.waitUntil(lambda: viewer.canvas.image is not None, timeout=30_000)
    # The view opens on the most suspicious key frame, where Grad-CAM was computed.
    assert view.current_index == result.key_frames()[0].frame_index
    assert viewer.heatmap_shown and viewer.overlay_check.isEnabled()
    with_heat = viewer.canvas.grab().toImage()
    viewer.overlay_check.click()
    assert not viewer.heatmap_shown
    assert viewer.canvas.grab().toImage() != with_heat
    viewer.overlay_check.click()
    viewer.opacity_slider.setValue(20)
    assert viewer.heatmap_shown and viewer.canvas.opacity == 0.2
    assert view.spectrum_panel.shown_key is result.key_frames()[0]
    # The panel says how far genuine faces stray from the band, and what the band is not.
    assert result.spectrum_reference.genuine_words() in view.spectrum_panel.words.text()
    assert "not thereby manipulated" in view.spectrum_panel.reference_note.text()
    assert len(view.level_weights.weights) == 4


def test_keyboard_and_timeline_clicks_move_between_judged_frames(qtbot, window, portrait_video):
    (result,) = analysed(qtbot, window, [portrait_video])
    view = window.results_view
    judged = [score.frame_index for score in result.tracks[0].scores]
    assert view.indices == judged
    # A video too long to keep every judged frame in memory offers a spread of them, key frames included.
    keys = {key.frame_index for key in result.key_frames()}
    few = frames_to_show(result, budget=8)
    assert keys <= set(few) <= set(judged) and len(few) <= 8
    assert few[0] == judged[0] and few[-1] == judged[-1]
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.current_index == judged[0]
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.current_index == judged[2]
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.current_index == judged[1]
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.current_index == judged[-1]
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.current_index == max(key.frame_index for key in result.key_frames())
    assert view.frame_viewer.heatmap_shown or view.frame_viewer.canvas.image is None

    timeline = view.timeline
    target = result.tracks[0].scores[5]
    scene = timeline.plotItem.vb.mapViewToScene(QPointF(target.timestamp_s, 0.5))
    point = timeline.mapFromScene(scene)
    with qtbot.waitSignal(timeline.seek, timeout=5_000) as seek:
        qtbot.mouseClick(timeline.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point.x(), point.y()))
    assert seek.args == [target.frame_index]
    assert view.current_index == target.frame_index
    assert abs(timeline.cursor.value() - target.timestamp_s) < 1e-6


def test_a_batch_goes_on_past_a_video_without_faces_which_gets_not_applicable(
    qtbot, window, faceless_video, portrait_video
):
    results = analysed(qtbot, window, [faceless_video, portrait_video])
    assert [r.evidence.name for r in results] == ["wall.mp4", "portrait.mp4"]
    faceless = results[0]
    assert faceless.verdict == NOT_APPLICABLE and faceless.not_applicable.code == "no_face"
    statuses = sorted(item.status for item in window.queue.items.values())
    assert statuses == sorted([DONE, NO_VERDICT])
    # The first file dropped is the one shown: its card says why there is no verdict.
    assert window.verdict_label.text() == "Not applicable"
    assert "no face was found" in window.results_view.verdict_card.explanation.text()
    assert window.results_view.timeline.point_count() == 0
    qtbot.waitUntil(lambda: window.results_view.frame_viewer.canvas.image is not None, timeout=30_000)
    assert window.results_view.verdict_card.selected_track() is None
    dialog = window.open_review_dialog()  # "no face" can be agreed with, but there are no faces to keep
    assert dialog.isVisible() and dialog.keep_faces.isHidden()
    dialog.reject()


def test_cancel_stops_the_analysis_and_the_file_can_be_analysed_again(qtbot, window, tmp_path):
    long_video = sm.write_video(tmp_path / "long.mp4", sm.moving_face_frames(n_frames=150, step=1))
    started = []
    window.runner.item_progress.connect(lambda item, fraction, message: started.append(fraction))
    window.open_paths([long_video])
    qtbot.waitUntil(lambda: any(f > 0.1 for f in started), timeout=60_000)
    assert window.progress.isVisible() and "left" in window.progress.detail.text()
    with qtbot.waitSignal(window.analysis_cancelled, timeout=30_000) as cancelled:
        window.progress.cancel_button.click()
    (item,) = window.queue.items.values()
    assert cancelled.args[0] == [item.id] and item.status == CANCELLED and item.result is None
    assert not window.progress.isVisible()


def test_a_disputed_verdict_is_shown_kept_and_its_faces_offered_as_examples(qtbot, window, portrait_video):
    (result,) = analysed(qtbot, window, [portrait_video])
    card = window.results_view.verdict_card
    assert card.review_label.text() == "Not reviewed yet."
    with qtbot.waitSignal(window.feedback_kept, timeout=30_000) as kept:
        give_review(window, DISPUTED, MANIPULATED, note="lips out of step at 0:03")
    assert kept.args[0] == 20  # every judged face of the track (at most FACES_PER_TRACK)
    faces = window.review_queue.faces(MANIPULATED)
    assert len(faces) == kept.args[0] and faces[0].evidence_name == "portrait.mp4"
    assert window.review_queue.images(MANIPULATED)[0].shape == (224, 224, 3)
    assert "kept as manipulated" in card.feedback_status.text()
    text = card.review_label.text()
    assert "Disputed: manipulated" in text and "A. Examiner" in text and "lips out of step" in text
    (item,) = window.queue.items.values()
    cell = window.queue.item(0, 1)
    assert cell.text().endswith("· disputed") and "Disputed: manipulated, by A. Examiner" in cell.toolTip()
    assert item.result.review.reviewer == "A. Examiner" and item.result.verdict == result.verdict


def test_agreeing_keeps_no_faces_and_an_empty_name_is_refused(qtbot, window, portrait_video):
    analysed(qtbot, window, [portrait_video])
    dialog = window.open_review_dialog()
    dialog.reviewer.setText("   ")
    dialog.save_button.click()
    assert dialog.isVisible() and "needs the reviewer's name" in dialog.message.text()
    assert not dialog.keep_faces.isEnabled()  # agreeing keeps nothing to learn from
    dialog.reviewer.setText("B. Second")
    with qtbot.waitSignal(window.review_saved, timeout=5_000):
        dialog.save_button.click()
    assert (
        window.review_queue.faces() == []
        and "Agreed, by B. Second" in window.results_view.verdict_card.review_label.text()
    )
