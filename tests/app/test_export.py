"""Export: a PDF (and its JSON twin) from the window's result, with a case form remembered between runs."""

from __future__ import annotations

import json

from pypdf import PdfReader

from app.export_dialog import ExportDialog
from app.main_window import MainWindow
from tests.app.conftest import window_settings


def test_the_report_of_a_result_is_written_read_back_and_the_case_is_remembered(
    qtbot, make_window, store, settings_file, portrait_video, tmp_path
):
    window = make_window(store)
    with qtbot.waitSignal(window.analysis_finished, timeout=90_000) as finished:
        window.open_paths([portrait_video])
    result = finished.args[0]
    dialog = window.open_export_dialog()
    assert dialog.only_current.isChecked()
    dialog.case_id.setText("CASE-2025-0042")
    dialog.examiner.setText("A. Examiner")
    dialog.organisation.setText("Forensic Lab")
    dialog.notes.setPlainText("Clip received by e-mail.")
    pdf = tmp_path / "out" / "report.pdf"
    pdf.parent.mkdir()
    dialog.pdf_path.setText(str(pdf))
    with qtbot.waitSignal(dialog.report_written, timeout=60_000) as written:
        dialog.export_button.click()
    files = written.args[0]
    assert files.pdf == pdf and files.json == pdf.with_suffix(".json")
    assert "Report written" in dialog.message.text()

    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    for expected in (
        "CASE-2025-0042",
        "A. Examiner",
        "portrait.mp4",
        result.verdict_words,
        result.evidence.sha256[:16],
    ):
        assert expected in text, expected
    twin = json.loads(files.json.read_text())
    assert twin["case"]["case_id"] == "CASE-2025-0042"
    assert twin["summary"][0]["verdict"] == result.verdict
    dialog.close()

    # The next run of the application (a new window over the same settings) offers the same case.
    again = MainWindow(store=store, settings=window_settings(settings_file))
    qtbot.addWidget(again)
    remembered = ExportDialog(None, [], again.settings)
    qtbot.addWidget(remembered)
    assert remembered.case_id.text() == "CASE-2025-0042"
    assert remembered.examiner.text() == "A. Examiner"
    assert remembered.notes.toPlainText() == "Clip received by e-mail."
    assert remembered.pdf_path.text().startswith(str(pdf.parent))
    assert not remembered.only_current.isEnabled()


def test_a_bad_destination_is_refused_with_a_message(qtbot, make_window, store, portrait_video, tmp_path):
    window = make_window(store)
    with qtbot.waitSignal(window.analysis_finished, timeout=90_000):
        window.open_paths([portrait_video])
    dialog = window.open_export_dialog()
    dialog.pdf_path.setText(str(tmp_path / "no" / "such" / "folder" / "r.pdf"))
    dialog.export_button.click()
    assert dialog.message.isVisible() and "existing folder" in dialog.message.text()
