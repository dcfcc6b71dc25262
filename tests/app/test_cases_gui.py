"""Cases in the window: results and reviews survive a restart, a file already in the case is not queued again."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.evidence_queue import DONE, FAILED, READING, WAITING
from cffd_engine.analysis.result import DISPUTED, GENUINE_FINDING
from cffd_engine.cases import CaseFolder
from tests import synthetic_media as sm
from tests.app.conftest import give_review


def analyse(qtbot, window, paths) -> list:
    results = []
    window.analysis_finished.connect(results.append)
    window.open_paths(paths)
    qtbot.waitUntil(lambda: len(results) == len(paths), timeout=90_000)
    return results


def close(window) -> None:
    window.close()
    QApplication.processEvents()


def test_results_and_reviews_survive_closing_and_reopening_the_window(
    qtbot, make_window, store, portrait_video, tmp_path
):
    window = make_window(store)
    (result,) = analyse(qtbot, window, [portrait_video])
    give_review(window, DISPUTED, GENUINE_FINDING, note="known original", keep_faces=False)
    close(window)

    again = make_window(store)  # the same settings and case folder, as after a restart
    (item,) = again.queue.items.values()
    assert item.status == READING  # read back behind the shown window
    qtbot.waitUntil(lambda: item.status == DONE, timeout=10_000)
    assert item.status == DONE and item.path == portrait_video.absolute()
    assert item.result.video_probability == result.video_probability
    assert item.result.review.finding == GENUINE_FINDING and item.result.review.note == "known original"
    assert again.runner.current_item is None and not again.runner.busy  # nothing analysed again
    again.queue.select(item.id)
    assert again.verdict_label.text() == result.verdict_words
    assert "Disputed: genuine" in again.results_view.verdict_card.review_label.text()
    assert again.windowTitle().endswith("case")


def test_a_file_already_in_the_case_goes_to_its_result_and_may_be_analysed_again(
    qtbot, make_window, store, portrait_video, tmp_path
):
    window = make_window(store)
    (first,) = analyse(qtbot, window, [portrait_video])
    copy = shutil.copy(portrait_video, tmp_path / "same evidence, other name.mp4")
    finished = []
    window.analysis_finished.connect(finished.append)
    window.open_paths([copy])
    qtbot.waitUntil(window.notice.isVisible, timeout=10_000)
    assert len(window.queue.items) == 1 and not finished
    assert (
        "same evidence, other name.mp4 is already in this case as portrait.mp4" in window.notice.label.text()
    )
    assert window.notice.action_button.text() == "Analyse again with v1"
    (item,) = window.queue.items.values()
    assert window.queue.selected_id() == item.id
    window.notice.action_button.click()
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=90_000)
    assert len(window.queue.items) == 1
    entry = CaseFolder(tmp_path / "case").entry(item.entry_id)
    assert len(entry.earlier_results) == 1  # the first result stays in the case folder


def test_a_file_dropped_twice_before_analysis_is_queued_once(qtbot, make_window, store, portrait_video):
    window = make_window(store)
    window.open_paths([portrait_video])
    window.open_paths([portrait_video])
    qtbot.waitUntil(window.notice.isVisible, timeout=10_000)
    assert len(window.queue.items) == 1 and "waiting for analysis" in window.notice.label.text()
    qtbot.waitUntil(lambda: next(iter(window.queue.items.values())).status == DONE, timeout=90_000)


def test_switching_cases_shows_each_case_own_files(qtbot, make_window, store, portrait_video, tmp_path):
    window = make_window(store)
    analyse(qtbot, window, [portrait_video])
    assert window.open_case(tmp_path / "second case")
    assert window.queue.items == {} and window.windowTitle() == "CFFD Studio - second case"
    assert window.open_case(tmp_path / "case")
    (item,) = window.queue.items.values()
    qtbot.waitUntil(lambda: item.status == DONE, timeout=10_000)
    recent = window.menus.recent_cases()
    assert recent[:2] == [str(tmp_path / "case"), str(tmp_path / "second case")]


def test_an_unusable_case_folder_is_named_and_the_open_case_stays(qtbot, make_window, store, tmp_path):
    window = make_window(store)
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert not window.open_case(blocker / "case")
    assert (
        window.error_banner.isVisible() and "Choose a folder you may write to" in window.error_banner.text()
    )
    assert "Case case stays open" in window.error_banner.text() and window.case.root == tmp_path / "case"


def test_files_waiting_when_the_window_closed_are_analysed_after_reopening(
    qtbot, make_window, store, portrait_video, tmp_path
):
    CaseFolder(tmp_path / "case").add([portrait_video])  # brought in, never analysed
    window = make_window(store)
    (item,) = window.queue.items.values()
    assert item.status in (WAITING, "Analysing") or item.result is not None
    qtbot.waitUntil(lambda: item.status == DONE, timeout=90_000)
    assert CaseFolder(tmp_path / "case").load_result(item.entry_id) is not None


def test_opening_another_case_mid_analysis_stops_it_and_analyses_the_new_case_waiting_file(
    qtbot, make_window, store, portrait_video, tmp_path
):
    long_video = sm.write_video(tmp_path / "long.mp4", sm.moving_face_frames(n_frames=150, step=1))
    CaseFolder(tmp_path / "second case").add([portrait_video])  # brought in there, never analysed
    window = make_window(store)
    started = []
    window.runner.item_progress.connect(lambda item, fraction, message: started.append(fraction))
    window.open_paths([long_video])
    qtbot.waitUntil(lambda: any(f > 0.05 for f in started), timeout=60_000)
    assert window.open_case(tmp_path / "second case")
    (item,) = window.queue.items.values()
    qtbot.waitUntil(lambda: item.status == DONE, timeout=90_000)
    assert CaseFolder(tmp_path / "second case").load_result(item.entry_id) is not None
    (first,) = CaseFolder(tmp_path / "case").entries()
    assert first.result is None  # the stopped file stays in its case, not analysed


def test_a_damaged_result_in_the_case_is_named_and_the_others_still_open(
    qtbot, make_window, store, portrait_video, tmp_path
):
    window = make_window(store)
    analyse(qtbot, window, [portrait_video])
    other = shutil.copy(portrait_video, tmp_path / "second.mp4")
    data = bytearray(Path(other).read_bytes())
    data[-10] ^= 0xFF  # another file's evidence
    Path(other).write_bytes(bytes(data))
    analyse(qtbot, window, [Path(other)])
    close(window)
    case = CaseFolder(tmp_path / "case")
    damaged, intact = case.entries()
    (case.results_dir / damaged.result).write_text("{not json", encoding="utf-8")

    again = make_window(store)
    items = {item.entry_id: item for item in again.queue.items.values()}
    qtbot.waitUntil(lambda: items[intact.id].status == DONE, timeout=10_000)
    qtbot.waitUntil(lambda: items[damaged.id].status == FAILED, timeout=10_000)
    assert again.error_banner.isVisible() and damaged.result in again.error_banner.text()
