"""Export a forensic report (PDF and its JSON twin) with the case details, remembered between runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.progress_panel import ProgressPanel
from app.theme import ERROR_STYLE, INFO_STYLE
from app.workers import JobGroup
from cffd_engine.analysis import AnalysisResult
from cffd_engine.report import CaseInfo, ReportFiles, write_report

CASE_FIELDS = ("case_id", "examiner", "organisation", "notes")


def load_case(settings: QSettings) -> CaseInfo:
    return CaseInfo(**{name: str(settings.value(f"case/{name}", "") or "") for name in CASE_FIELDS})


def save_case(settings: QSettings, case: CaseInfo) -> None:
    for name in CASE_FIELDS:
        settings.setValue(f"case/{name}", getattr(case, name))
    settings.sync()


def suggested_name(results: list[AnalysisResult], case: CaseInfo) -> str:
    stem = case.case_id.strip() or (Path(results[0].evidence.name).stem if results else "report")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    return f"{safe}_report.pdf"


class ExportDialog(QDialog):
    """Case form, what to include, where to save; ``report_written(ReportFiles)`` when both files exist.

    Reports go to ``reports_folder`` (the open case's) unless the analyst browses elsewhere.
    """

    report_written = Signal(object)
    export_failed = Signal(str)

    def __init__(
        self,
        current: AnalysisResult | None,
        all_results: list[AnalysisResult],
        settings: QSettings,
        parent: QWidget | None = None,
        reports_folder: Path | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export forensic report")
        self.setMinimumWidth(560)
        self.settings = settings
        self.current, self.all_results = current, all_results
        self._jobs = JobGroup()
        case = load_case(settings)
        self.case_id = QLineEdit(case.case_id)
        self.examiner = QLineEdit(case.examiner)
        self.organisation = QLineEdit(case.organisation)
        self.notes = QPlainTextEdit(case.notes)
        self.notes.setFixedHeight(80)
        self.only_current = QRadioButton(
            f"This result only ({current.evidence.name})" if current else "This result only"
        )
        self.everything = QRadioButton(f"All analysed files in the queue ({len(all_results)})")
        self.only_current.setEnabled(current is not None)
        (self.only_current if current is not None else self.everything).setChecked(True)
        folder = str(reports_folder or settings.value("export/folder", str(Path.home())))
        self.included: list[AnalysisResult] = []  # what the last export reported on
        self.pdf_path = QLineEdit(str(Path(folder) / suggested_name(self._results(), case)))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.pdf_path, stretch=1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow("Case ID:", self.case_id)
        form.addRow("Examiner:", self.examiner)
        form.addRow("Organisation:", self.organisation)
        form.addRow("Notes:", self.notes)
        form.addRow("Include:", self.only_current)
        form.addRow("", self.everything)
        form.addRow("Save the PDF as:", where)
        form.addRow("", QLabel("The JSON twin (same content, machine-readable) is saved beside it."))
        self.progress = ProgressPanel()
        self.progress.cancel_button.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def case(self) -> CaseInfo:
        return CaseInfo(
            case_id=self.case_id.text().strip(),
            examiner=self.examiner.text().strip(),
            organisation=self.organisation.text().strip(),
            notes=self.notes.toPlainText().strip(),
        )

    def _results(self) -> list[AnalysisResult]:
        if self.current is not None and self.only_current.isChecked():
            return [self.current]
        return list(self.all_results)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the report as", self.pdf_path.text(), "PDF (*.pdf)")
        if path:
            self.pdf_path.setText(path if path.lower().endswith(".pdf") else f"{path}.pdf")

    def export(self) -> None:
        """Write the report in the background; the case details are remembered at once."""
        results = self._results()
        pdf = Path(self.pdf_path.text().strip()).expanduser()
        if not results:
            return self._show(ERROR_STYLE, "There is no analysed file to report on yet.")
        if pdf.suffix.lower() != ".pdf" or not pdf.parent.is_dir():
            return self._show(ERROR_STYLE, f"{pdf}: choose a .pdf file in an existing folder.")
        case = self.case()
        save_case(self.settings, case)
        self.settings.setValue("export/folder", str(pdf.parent))
        self.export_button.setEnabled(False)
        self.message.hide()
        self.progress.begin(f"Writing {pdf.name} (the evidence is hashed again first)", cancellable=False)
        self.included = results
        job = self._jobs.start(lambda control: write_report(results, pdf_path=pdf, case=case, job=control))
        job.progress.connect(self.progress.update_progress)
        job.finished.connect(self._written)
        job.failed.connect(self._failed)

    def _written(self, files: ReportFiles) -> None:
        self.progress.end()
        self.export_button.setEnabled(True)
        self._show(
            INFO_STYLE,
            f"Report written: {files.pdf} and {files.json.name} (JSON SHA-256 {files.json_sha256[:16]}...).",
        )
        self.report_written.emit(files)

    def _failed(self, message: str) -> None:
        self.progress.end()
        self.export_button.setEnabled(True)
        self._show(ERROR_STYLE, f"The report was not written: {message}")
        self.export_failed.emit(message)

    def _show(self, style: str, text: str) -> None:
        self.message.setStyleSheet(style)
        self.message.setText(text)
        self.message.show()

    def done(self, result: int) -> None:
        self._jobs.abandon_all()
        super().done(result)
