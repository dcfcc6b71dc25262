"""The results page: accuracy on every forgery type before and after, forgetting in words, accept or discard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from app.theme import ERROR_STYLE, INFO_STYLE, NOTE_STYLE
from cffd_engine.continual import UpdateReport
from cffd_engine.continual.report import NOTICEABLE_DROP

if TYPE_CHECKING:
    from app.wizard.wizard import LearnWizard


def percent(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.0f}%"


def change_words(report: UpdateReport, row: int) -> tuple[str, str | None]:
    """(words, colour) for the change in accuracy on ``report``'s task ``row``: forgetting is named as such,
    also where the refitted threshold hides it, and a change the ranking (AUC) does not share as the
    threshold's, as the summary explains."""
    before, after = report.accuracy_before[row], report.accuracy_after[row]
    new_task = row == len(report.task_names) - 1
    if before is None or after is None:
        return ("new" if new_task else "-"), None
    points = 100 * (after - before)
    if new_task:
        if points > 0:
            return f"{points:+.0f} points learned", "#1b7f3b"
        return f"{-points:.0f} points lower: not learned", "#b3261e"
    if before - after >= NOTICEABLE_DROP and report.ranking_kept(row):
        return f"{-points:.0f} points lower: threshold moved, ranking kept", "#8a5a00"
    if before - after >= NOTICEABLE_DROP:
        return f"{-points:.0f} points forgotten", "#b3261e"
    if report.forgetting_hidden(row):
        aucs = f"AUC {report.auc_before[row]:.2f} -> {report.auc_after[row]:.2f}"
        return f"{points:+.0f} points, but ranking fell ({aucs})", "#8a5a00"
    if report.threshold_rise(row):
        return f"{points:+.0f} points: threshold moved, ranking kept", None
    if points < 0:
        return f"{-points:.0f} points lower (within noise)", None
    return f"{points:+.0f} points", None


class ResultsPage(QWizardPage):
    """Shows the candidate's ``UpdateReport``; the analyst accepts (new active version) or discards it."""

    COLUMNS = ("Forgery type", "Before the update", "After the update", "Change", "Faces measured on")

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self.decided = False
        self.setTitle("How the new model does")
        self.setSubTitle("Accuracy on faces kept aside for measuring, never used for learning.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        font = self.summary.font()
        font.setPointSize(font.pointSize() + 1)
        self.summary.setFont(font)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setStyleSheet(NOTE_STYLE)
        self.accept_button = QPushButton("Accept: use the new model")
        self.accept_button.setStyleSheet("QPushButton { font-weight: bold; padding: 6px 14px; }")
        self.accept_button.clicked.connect(self.accept_update)
        self.discard_button = QPushButton()
        self.discard_button.setStyleSheet("QPushButton { padding: 6px 14px; }")
        self.discard_button.clicked.connect(self.discard_update)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.discard_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        report = self._wizard.training_page.candidate.report
        self.decided = False
        self.accept_button.setEnabled(True)
        self.discard_button.setEnabled(True)
        self.discard_button.setText(f"Discard: keep {self._wizard.base_version}")
        self.message.hide()
        self.summary.setText(report.summary_text())
        self._fill(report)
        self.details.setText(
            f"Trained for {report.epochs} pass(es), {report.steps} steps, in {report.seconds:.0f} s on "
            f"{report.train_samples} new faces, rehearsing {report.replay_samples} remembered faces "
            f"(strategy {report.strategy.upper()}). If you accept, this becomes a new model version made from "
            f"{report.parent_version}; you can roll back to it at any time in the model manager."
        )

    def _fill(self, report: UpdateReport) -> None:
        self.table.setRowCount(0)
        last = len(report.task_names) - 1
        for row, name in enumerate(report.task_names):
            self.table.insertRow(row)
            before, after = report.accuracy_before[row], report.accuracy_after[row]
            words, colour = change_words(report, row)
            title = f"{name} (new)" if row == last else name
            cells = (title, percent(before), percent(after), words, str(report.validation_counts[row]))
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if row == last:
                    bold = QFont(cell.font())
                    bold.setBold(True)
                    cell.setFont(bold)
                if column == 3 and colour:
                    cell.setForeground(QBrush(QColor(colour)))
                self.table.setItem(row, column, cell)
        rows_height = sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        self.table.setFixedHeight(min(rows_height + self.table.horizontalHeader().height() + 8, 360))

    def accept_update(self) -> None:
        candidate = self._wizard.training_page.candidate
        self._decide()
        job = self._wizard.jobs.start(lambda control: candidate.accept(activate=True))
        job.finished.connect(self._accepted)
        job.failed.connect(self._accept_failed)

    def discard_update(self) -> None:
        candidate = self._wizard.training_page.candidate
        self._decide()
        job = self._wizard.jobs.start(lambda control: candidate.discard())
        job.finished.connect(lambda _none: self._wizard.finish_discarded())
        job.failed.connect(self._accept_failed)

    def _decide(self) -> None:
        self.decided = True
        self._wizard.training_page.candidate = None  # now owned by the accept or discard under way
        self.accept_button.setEnabled(False)
        self.discard_button.setEnabled(False)

    def _accepted(self, version: str) -> None:
        self.message.setStyleSheet(INFO_STYLE)
        self.message.setText(f"The new model is {version}, and it is now in use.")
        self.message.show()
        self._wizard.finish_accepted(version)

    def _accept_failed(self, message: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(f"Nothing was changed: {message}")
        self.message.show()

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        return False  # the wizard ends with Accept or Discard, not Finish
