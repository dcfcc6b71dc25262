"""One queued file on screen: its analysis (or what it is waiting for) and the evidence file itself."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget

from app.evidence_panel import EvidencePanel
from app.evidence_queue import (
    ANALYSING,
    CANCELLED,
    FAILED,
    READING,
    WAITING,
    WAITING_FOR_MODEL,
    EvidenceItem,
)
from app.results.frame_store import FrameStore
from app.results.results_view import ResultsView
from cffd_engine.analysis import AnalysisResult
from cffd_engine.store import ModelStore

KEEP_FRAME_STORES = 2  # decoded frames of the shown result and the one before: quick to go back
WAITING_WORDS = {
    WAITING: "Waiting for its turn in the queue...",
    ANALYSING: "Being analysed; the result appears here when done (progress on the left).",
    WAITING_FOR_MODEL: "No model is installed: import one in Models > Manage models.",
    CANCELLED: "The analysis was cancelled. Right-click the file in the queue to analyse it again.",
    FAILED: "The analysis failed; see the message above.",
    READING: "Its result is being read back from the case folder...",
}


class ItemView(QTabWidget):
    """Tabs "Analysis" (the result explained, or a line saying what it waits for) and "Evidence file"."""

    def __init__(self, store: ModelStore | None = None, parent=None):
        super().__init__(parent)
        self.results_view = ResultsView(store)
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.analysis = QStackedWidget()
        self.analysis.addWidget(self.placeholder)
        self.analysis.addWidget(self.results_view)
        self.evidence_panel = EvidencePanel()
        self.addTab(self.analysis, "Analysis")
        self.addTab(self.evidence_panel, "Evidence file")
        self.item_id: int | None = None
        self._frames: OrderedDict[int, FrameStore] = OrderedDict()

    def show_item(self, item: EvidenceItem) -> None:
        """Show a file: its result when it has one, else its metadata while it waits."""
        self.item_id = item.id
        evidence = item.result.evidence if item.result is not None else None
        hashes = {"sha256": evidence.sha256, "md5": evidence.md5} if evidence and evidence.sha256 else None
        # An analysed file shows the hashes taken when it was analysed: no need to read it all again.
        self.evidence_panel.show_file(item.path, hashes)
        if item.result is not None:
            self.show_result(item.id, item.result)
        else:
            self.show_status(item.status)
            self.analysis.setCurrentWidget(self.placeholder)
            self.setCurrentWidget(self.evidence_panel)

    def show_status(self, status: str) -> None:
        self.placeholder.setText(WAITING_WORDS.get(status, status))

    def show_result(self, item_id: int, result: AnalysisResult) -> None:
        frames = self._frames.pop(item_id, None) or FrameStore(result)
        self._frames[item_id] = frames
        while len(self._frames) > KEEP_FRAME_STORES:
            _, old = self._frames.popitem(last=False)
            old.stop()
        frames.start()
        self.results_view.show_result(result, frames)
        self.analysis.setCurrentWidget(self.results_view)
        self.setCurrentWidget(self.analysis)

    def forget(self, item_id: int) -> None:
        """Drop the decoded frames of a file (removed, or analysed again)."""
        frames = self._frames.pop(item_id, None)
        if frames is not None:
            frames.stop()

    def close_jobs(self) -> None:
        self.evidence_panel.close_jobs()
        self.results_view.close_jobs()
        for frames in self._frames.values():
            frames.stop()
        self._frames.clear()
