"""Hostile inputs (issue #23) dropped on the real window as one folder: each row says what its entry is or
why it was not analysed, the valid files get verdicts, and nothing hangs (waits fail on their limits)."""

from __future__ import annotations

from app.evidence_queue import DONE, NO_VERDICT
from tests import hostile_corpus as hc
from tests.app.test_analysis_view import drop
from tests.engine.test_hostile_inputs import FACE_PHOTO, check_entry


def test_a_dropped_folder_of_hostile_entries_is_analysed_as_one_batch_each_with_its_reason(
    qtbot, window, tmp_path
):
    corpus = hc.build(tmp_path / "corpus", FACE_PHOTO if FACE_PHOTO.is_file() else None)
    results = []
    window.analysis_finished.connect(results.append)
    drop(window, [tmp_path / "corpus"])  # the folder: the engine's rule picks its entries, as for the CLI
    qtbot.waitUntil(lambda: len(results) == len(corpus), timeout=240_000)

    by_path = {result.evidence.path: result for result in results}
    assert len(by_path) == len(corpus)
    rows = {window.queue.item(row, 0).toolTip(): row for row in range(window.queue.rowCount())}
    for name, entry in corpus.items():
        result = by_path[str(entry.path.absolute())]
        check_entry(entry, result.to_dict())
        cell = window.queue.item(rows[str(entry.path)], 1)
        item = next(i for i in window.queue.items.values() if i.path == entry.path)
        if entry.code is None:
            assert item.status == DONE and cell.text().startswith(result.verdict_words), name
        else:
            assert item.status == NO_VERDICT and cell.text().startswith("Not analysed: "), name
            assert entry.words in cell.text() + cell.toolTip(), (name, cell.text())

    # Showing a pipe reads nothing from it: the window says what it is, at once.
    pipe = next(i for i in window.queue.items.values() if i.path == corpus["fifo"].path)
    with qtbot.waitSignal(window.evidence_failed, timeout=10_000) as failure:
        window.queue.select(pipe.id)
    assert "named pipe (FIFO)" in failure.args[0]
