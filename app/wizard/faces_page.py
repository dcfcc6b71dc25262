"""The faces page: which faces were found in which example, with thumbnails, and whether they are enough."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from app.images import rgb_to_pixmap
from app.progress_panel import ProgressPanel
from app.theme import ERROR_STYLE, INFO_STYLE, WARNING_STYLE
from cffd_engine.analysis.review_queue import GENUINE, MANIPULATED
from cffd_engine.continual.examples import GatheredFaces, gather_faces
from cffd_engine.continual.samples import FAKE, REAL
from cffd_engine.continual.session import FEW_EXAMPLES, MIN_EXAMPLES
from cffd_engine.continual.validation import FEW_SOURCES, distinct_sources

if TYPE_CHECKING:
    from app.wizard.wizard import LearnWizard

THUMBNAIL = 72
MAX_THUMBNAILS = 400  # per kind; past it an evenly spread sample is shown
FRAMES = {FAKE: "#b3261e", REAL: "#1b7f3b"}


def framed(face: QPixmap, colour: str) -> QPixmap:
    """The face shrunk into a thumbnail with a coloured frame that says which kind of example it is."""
    picture = QPixmap(THUMBNAIL, THUMBNAIL)
    picture.fill(QColor(colour))
    painter = QPainter(picture)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(3, 3, THUMBNAIL - 6, THUMBNAIL - 6, face)
    painter.end()
    return picture


def faces_summary(gathered: GatheredFaces, replay_genuine: int) -> tuple[str, str]:
    """(style, words): how many faces there are and whether that is enough."""
    fake, real = len(gathered.fake), len(gathered.real)
    files = sum(1 for s in gathered.sources if s.label == FAKE)
    reviewed = gathered.reviewed[MANIPULATED]
    words = f"{fake} faces of the new forgery (from {files} file(s)"
    words += f" and {reviewed} reviewed faces)" if reviewed else ")"
    if real:
        words += f" and {real} genuine faces."
    else:
        words += f". No genuine examples: the {replay_genuine} genuine faces the model keeps in memory will be used."
    if fake < MIN_EXAMPLES:
        return ERROR_STYLE, (
            f"{words} At least {MIN_EXAMPLES} faces of the new forgery are needed: go back and add examples."
        )
    if fake < FEW_EXAMPLES:
        return WARNING_STYLE, (
            f"{words} That is few: the model can learn from it, but the accuracy figures will be rough. "
            "A few hundred faces work better."
        )
    if reviewed:  # faces from the review queue do not say which video they came from
        return INFO_STYLE, words
    if sum(1 for s in gathered.sources if s.label == FAKE and s.faces) == 1:
        return WARNING_STYLE, (
            f"{words} The new forgery's faces all come from one file: the faces kept aside to measure the "
            "update are other frames of the video it learns from, so its figures will look better than "
            "they are. Add examples from other videos."
        )
    sources = distinct_sources(str(s.path) for s in gathered.sources if s.faces)
    if sources < FEW_SOURCES:
        return WARNING_STYLE, (
            f"{words} They come from only {sources} sources (a forgery and its genuine twin count as one), "
            "and some of them are kept aside to measure the update: figures on so few say little either way. "
            "Examples from ten or more videos work better."
        )
    return INFO_STYLE, words


class FacesPage(QWizardPage):
    """Runs the face search when shown; complete once there are enough faces of the new forgery.

    The analyst can select thumbnails and leave those faces out (a wrong face, a false detection).
    """

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self._job = None
        self.gathered: GatheredFaces | None = None
        self.setTitle("The faces found")
        self.setSubTitle("The model learns from faces only. Check that these are the faces you meant.")
        self.progress = ProgressPanel()
        self.progress.cancel_button.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.hide()
        self.sources = QTableWidget(0, 3)
        self.sources.setHorizontalHeaderLabels(("Example", "Kind", "Faces found"))
        self.sources.verticalHeader().hide()
        self.sources.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sources.setMaximumHeight(150)
        header = self.sources.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.thumbnails.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbnails.setMovement(QListView.Movement.Static)
        self.thumbnails.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.thumbnails.setSpacing(4)
        self.thumbnails.itemSelectionChanged.connect(
            lambda: self.leave_out_button.setEnabled(bool(self.thumbnails.selectedItems()))
        )
        self.thumbnails_label = QLabel()
        self.leave_out_button = QPushButton("Leave out the selected faces")
        self.leave_out_button.setEnabled(False)
        self.leave_out_button.clicked.connect(self.leave_out_selected)
        row = QHBoxLayout()
        row.addWidget(self.thumbnails_label, stretch=1)
        row.addWidget(self.leave_out_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.sources)
        layout.addLayout(row)
        layout.addWidget(self.thumbnails, stretch=1)

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        wizard = self._wizard
        self.gathered = None
        self.summary.hide()
        self.sources.setRowCount(0)
        self.thumbnails.clear()
        self.thumbnails_label.setText("")
        self.progress.begin("Looking for faces in the examples", cancellable=False)
        examples = wizard.examples_page
        fake, real = examples.fake_sources.paths(), examples.real_sources.paths()
        review = wizard.review_queue if examples.use_review.isChecked() else None
        per_video, size = examples.faces_per_video.value(), wizard.input_size
        self._job = wizard.jobs.start(
            lambda control: gather_faces(fake, real, size, review, per_video, control)
        )
        self._job.progress.connect(self.progress.update_progress)
        self._job.finished.connect(self._show)
        self._job.failed.connect(self._failed)
        self.completeChanged.emit()

    def cleanupPage(self) -> None:  # noqa: N802 (Qt override)
        if self._job is not None:
            self._job.abandon()
            self._job = None
        self.progress.end()

    def _show(self, gathered: GatheredFaces) -> None:
        self._job = None
        self.gathered = gathered
        self.progress.end()
        self._fill_sources(gathered)
        self._refresh()
        self._wizard.faces_ready.emit(gathered)

    def _fill_sources(self, gathered: GatheredFaces) -> None:
        rows = [
            (
                source.path.name,
                str(source.path),
                source.label,
                str(source.faces) if not source.problem else f"none: {source.problem}",
            )
            for source in gathered.sources
        ]
        rows += [
            (
                f"Review queue ({label})",
                "faces you marked",
                FAKE if label == MANIPULATED else REAL,
                str(count),
            )
            for label, count in (
                (MANIPULATED, gathered.reviewed[MANIPULATED]),
                (GENUINE, gathered.reviewed[GENUINE]),
            )
            if count
        ]
        for name, tip, label, found in rows:
            row = self.sources.rowCount()
            self.sources.insertRow(row)
            kind = "new forgery" if label == FAKE else "genuine"
            for column, text in enumerate((name, kind, found)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(tip if column == 0 else text)
                self.sources.setItem(row, column, cell)

    def _refresh(self) -> None:
        gathered = self.gathered
        style, words = faces_summary(gathered, self._wizard.replay_genuine_count())
        self.summary.setStyleSheet(style)
        self.summary.setText(words)
        self.summary.show()
        self.thumbnails.clear()
        shown = 0
        for label, faces in ((FAKE, gathered.fake), (REAL, gathered.real)):
            positions = np.linspace(0, len(faces) - 1, min(len(faces), MAX_THUMBNAILS)).round().astype(int)
            for position in sorted(set(positions.tolist())):
                item = QListWidgetItem(QIcon(framed(rgb_to_pixmap(faces[position]), FRAMES[label])), "")
                item.setToolTip("new forgery" if label == FAKE else "genuine")
                item.setData(Qt.ItemDataRole.UserRole, (label, position))
                self.thumbnails.addItem(item)
                shown += 1
        total = len(gathered.fake) + len(gathered.real)
        sample = f"{shown} of the {total}" if shown < total else f"All {total}"
        self.thumbnails_label.setText(
            f"{sample} faces (red frame: new forgery, green: genuine). Select any that are not what you meant."
        )
        self.completeChanged.emit()

    def leave_out_selected(self) -> None:
        chosen = [item.data(Qt.ItemDataRole.UserRole) for item in self.thumbnails.selectedItems()]
        self.gathered.leave_out(
            {position for label, position in chosen if label == FAKE},
            {position for label, position in chosen if label == REAL},
        )
        self._refresh()

    def _failed(self, message: str) -> None:
        self._job = None
        self.progress.end()
        self.summary.setStyleSheet(ERROR_STYLE)
        self.summary.setText(f"The faces could not be gathered: {message}")
        self.summary.show()
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        return self.gathered is not None and len(self.gathered.fake) >= MIN_EXAMPLES
