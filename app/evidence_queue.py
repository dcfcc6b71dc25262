"""The evidence queue: every file the analyst brought in, its status and its verdict."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableWidget, QTableWidgetItem

from app.theme import VERDICT_COLOURS
from cffd_engine.analysis import NOT_APPLICABLE, AnalysisResult
from cffd_engine.media.intake import EVIDENCE_SUFFIXES

EVIDENCE_FILTER = (
    "Evidence (" + " ".join(f"*{suffix}" for suffix in sorted(EVIDENCE_SUFFIXES)) + ");;All files (*)"
)

WAITING = "Waiting"
WAITING_FOR_MODEL = "Waiting for a model"
READING = "Reading from the case"
ANALYSING = "Analysing"
DONE = "Done"
NO_VERDICT = "No verdict"
CANCELLED = "Cancelled"
FAILED = "Failed"

_ids = itertools.count(1)


@dataclass
class EvidenceItem:
    """One evidence file in the queue: where it is, how far its analysis is, what was found."""

    path: Path
    status: str = WAITING
    result: AnalysisResult | None = None
    entry_id: str | None = None  # its entry in the open case
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def verdict_text(self) -> str:
        """The verdict in short, and the analyst's review when there is one."""
        if self.result is None:
            return ""
        result = self.result
        if result.verdict == NOT_APPLICABLE:
            if not result.analysed:  # unreadable, failed, timed out: what the input is or did, in short
                text = f"Not analysed: {result.not_applicable.reason.split('. ')[0]}"
            else:
                text = "Not applicable: no verdict"
        elif result.video_probability is None:
            text = result.verdict_words
        else:
            text = f"{result.verdict_words} ({result.video_probability:.2f})"
        return f"{text} · {result.review.decision}" if result.review else text


class EvidenceQueue(QTableWidget):
    """A table of ``EvidenceItem``s; ``item_selected(id)`` when the analyst picks one."""

    item_selected = Signal(int)
    reanalyse_requested = Signal(int)
    remove_requested = Signal(int)

    COLUMNS = ("File", "Result")
    EMPTY_HINT = "Drop videos, pictures or folders here"

    def __init__(self, parent=None):
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setMaximumSectionSize(
            240
        )  # a long result is elided (its tooltip is whole), the name stays readable
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemSelectionChanged.connect(self._selection_changed)
        self.items: dict[int, EvidenceItem] = {}

    def add(self, path: Path) -> EvidenceItem:
        item = EvidenceItem(Path(path))
        self.items[item.id] = item
        row = self.rowCount()
        self.insertRow(row)
        name = QTableWidgetItem(item.path.name)
        name.setToolTip(str(item.path))
        name.setData(Qt.ItemDataRole.UserRole, item.id)
        self.setItem(row, 0, name)
        self.setItem(row, 1, QTableWidgetItem(item.status))
        return item

    def _row(self, item_id: int) -> int:
        for row in range(self.rowCount()):
            if self.item(row, 0).data(Qt.ItemDataRole.UserRole) == item_id:
                return row
        raise KeyError(item_id)

    def set_status(self, item_id: int, status: str, detail: str = "") -> None:
        """The file's state while it has no result (a result replaces it with the verdict)."""
        item = self.items[item_id]
        item.status = status
        if status in (WAITING, ANALYSING):
            item.result = None  # analysed again: the old result no longer stands
        cell = self.item(self._row(item_id), 1)
        cell.setText(f"{status} {detail}".strip())
        cell.setForeground(QBrush(QColor("#202124")))
        cell.setToolTip("")

    def set_result(self, item_id: int, result: AnalysisResult) -> None:
        item = self.items[item_id]
        item.result = result
        item.status = DONE if result.verdict != NOT_APPLICABLE else NO_VERDICT
        cell = self.item(self._row(item_id), 1)
        cell.setText(item.verdict_text)
        cell.setForeground(QBrush(QColor(VERDICT_COLOURS[result.verdict])))
        tip = result.not_applicable.reason if result.not_applicable else result.verdict_words
        cell.setToolTip(f"{tip}\nAnalyst's review: {result.review.sentence}" if result.review else tip)

    def remove(self, item_id: int) -> None:
        self.removeRow(self._row(item_id))
        del self.items[item_id]

    def select(self, item_id: int) -> None:
        self.selectRow(self._row(item_id))

    def selected_id(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        return self.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def with_status(self, *statuses: str) -> list[EvidenceItem]:
        return [item for item in self.items.values() if item.status in statuses]

    def results(self) -> list[AnalysisResult]:
        """Results of the analysed items, in queue order."""
        ordered = (self.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(self.rowCount()))
        return [self.items[i].result for i in ordered if self.items[i].result is not None]

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().paintEvent(event)
        if not self.items:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#80868b"))
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.EMPTY_HINT,
            )

    def _selection_changed(self) -> None:
        item_id = self.selected_id()
        if item_id is not None:
            self.item_selected.emit(item_id)

    def _menu(self, position) -> None:
        row = self.rowAt(position.y())
        if row < 0:
            return
        item_id = self.item(row, 0).data(Qt.ItemDataRole.UserRole)
        item = self.items[item_id]
        menu = QMenu(self)
        again = QAction("Analyse again", menu)
        again.setEnabled(item.status not in (WAITING, ANALYSING))
        again.triggered.connect(lambda: self.reanalyse_requested.emit(item_id))
        remove = QAction("Remove from the queue", menu)
        remove.setEnabled(item.status != ANALYSING)
        remove.triggered.connect(lambda: self.remove_requested.emit(item_id))
        menu.addActions([again, remove])
        menu.exec(self.viewport().mapToGlobal(position))
