"""The verdict card: the video's verdict in words, each face track's, and the analyst's own review."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.review_dialog import review_words
from app.theme import NOTE_STYLE, VERDICT_BACKGROUNDS, VERDICT_COLOURS, track_colour
from cffd_engine.analysis import NOT_APPLICABLE, AnalysisResult
from cffd_engine.analysis.result import AGREED, VERDICT_WORDS
from cffd_engine.analysis.verdict import assessment_label
from cffd_engine.report.content import interpretation


def swatch(colour: str) -> QIcon:
    picture = QPixmap(12, 12)
    picture.fill(QColor(colour))
    return QIcon(picture)


def headline(result: AnalysisResult) -> str:
    """The line under the verdict: the deciding number, the threshold and the model that judged."""
    model = result.model.version or result.model.source
    if result.verdict == NOT_APPLICABLE or result.video_probability is None:
        return f"Model {model}"
    return (
        f"Fake probability {result.video_probability:.2f} (threshold {result.threshold:.2f}), "
        f"decided by face track {result.deciding_track} · model {model}"
    )


class VerdictCard(QFrame):
    """Verdict, reason, per-track table, the analyst's review, warnings; signals for the window."""

    track_selected = Signal(int)
    review_requested = Signal()

    TRACK_COLUMNS = ("Face track", "Faces", "Time (s)", "Score", "Verdict")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("verdictCard")
        self.verdict_label = QLabel()
        font = self.verdict_label.font()
        font.setPointSize(font.pointSize() + 8)
        font.setBold(True)
        self.verdict_label.setFont(font)
        self.headline_label = QLabel()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet(NOTE_STYLE)
        self.tracks = QTableWidget(0, len(self.TRACK_COLUMNS))
        self.tracks.setHorizontalHeaderLabels(self.TRACK_COLUMNS)
        self.tracks.verticalHeader().hide()
        self.tracks.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tracks.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tracks.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tracks.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tracks.horizontalHeader().setStretchLastSection(True)
        self.tracks.setMaximumHeight(110)
        self.tracks.itemSelectionChanged.connect(self._track_changed)
        self.review_button = QPushButton("Review this verdict...")
        self.review_button.setToolTip(
            "Record whether you agree with the model, with your name and a note: kept with the result, "
            "shown here and printed in the report beside the model's verdict"
        )
        self.review_button.clicked.connect(self.review_requested)
        self.review_label = QLabel()
        self.review_label.setWordWrap(True)
        self.review_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.feedback_status = QLabel()
        self.feedback_status.setStyleSheet(NOTE_STYLE)
        self.feedback_status.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(self.verdict_label)
        left.addWidget(self.headline_label)
        left.addWidget(self.explanation, stretch=1)
        feedback = QHBoxLayout()
        feedback.addWidget(self.review_button)
        feedback.addWidget(self.review_label, stretch=1)
        right = QVBoxLayout()
        right.addWidget(self.tracks)
        right.addLayout(feedback)
        right.addWidget(self.feedback_status)
        top = QHBoxLayout()
        top.addLayout(left, stretch=3)
        top.addLayout(right, stretch=2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.warnings_label)
        self.result: AnalysisResult | None = None

    def show_result(self, result: AnalysisResult) -> None:
        self.result = result
        colour, background = VERDICT_COLOURS[result.verdict], VERDICT_BACKGROUNDS[result.verdict]
        self.setStyleSheet(
            f"#verdictCard {{ background: {background}; border: 1px solid {colour}; border-radius: 6px; }}"
        )
        self.verdict_label.setText(result.verdict_words)
        self.verdict_label.setStyleSheet(f"color: {colour};")
        self.headline_label.setText(headline(result))
        paragraphs = interpretation(result)
        self.explanation.setText(paragraphs[0])
        self.explanation.setToolTip("\n\n".join(paragraphs))
        # The model's first stated limit (what it was and was not trained on) stays in view.
        notes = [*result.warnings, *[f"Model limit: {limit}" for limit in result.model.limits[:1]]]
        self.warnings_label.setText("\n".join(f"⚠ {note}" for note in notes))
        self.warnings_label.setToolTip("\n\n".join(result.model.limits))
        self.warnings_label.setVisible(bool(notes))
        self.feedback_status.setText("")
        self.show_review(result)
        self._fill_tracks(result)

    def show_review(self, result: AnalysisResult) -> None:
        review = result.review
        self.review_label.setText(review_words(review) if review else "Not reviewed yet.")
        colour = "#1b7f3b" if review and review.decision == AGREED else "#b3261e" if review else "#555"
        self.review_label.setStyleSheet(f"QLabel {{ color: {colour}; }}")
        self.review_button.setText("Change your review..." if review else "Review this verdict...")

    def _fill_tracks(self, result: AnalysisResult) -> None:
        self.tracks.blockSignals(True)
        self.tracks.setRowCount(0)
        for track in result.tracks:
            row = self.tracks.rowCount()
            self.tracks.insertRow(row)
            counted = "" if track.counts_for_video else f" ({assessment_label(track).removeprefix('no: ')})"
            cells = (
                str(track.track_id),
                str(track.faces),
                f"{track.start_s:.2f} to {track.end_s:.2f}",
                f"{track.score:.2f}",
                VERDICT_WORDS.get(track.verdict, track.verdict) + counted,
            )
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, track.track_id)
                if column == 0:
                    cell.setIcon(swatch(track_colour(track.track_id)))
                    cell.setToolTip("The colour of this face track on the timeline")
                if column == 4:
                    cell.setForeground(QBrush(QColor(VERDICT_COLOURS[track.verdict])))
                    if track.not_assessed:
                        cell.setToolTip(track.not_assessed)
                self.tracks.setItem(row, column, cell)
        self.tracks.blockSignals(False)
        has_tracks = bool(result.tracks)
        self.tracks.setVisible(has_tracks)
        if has_tracks:
            deciding = [t.track_id for t in result.tracks].index(
                result.tracks[0].track_id if result.deciding_track is None else result.deciding_track
            )
            self.tracks.selectRow(deciding)

    def selected_track(self) -> int | None:
        rows = self.tracks.selectionModel().selectedRows()
        return self.tracks.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def select_track(self, track_id: int) -> None:
        """Select ``track_id``'s row (``track_selected`` follows)."""
        for row in range(self.tracks.rowCount()):
            if self.tracks.item(row, 0).data(Qt.ItemDataRole.UserRole) == track_id:
                self.tracks.selectRow(row)

    def _track_changed(self) -> None:
        track_id = self.selected_track()
        if track_id is not None:
            self.track_selected.emit(track_id)
