"""Analyses queued evidence one file after the other in a worker, with the active model of the store."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.workers import Job, WorkControl, pool
from cffd_engine.allocator import hand_large_blocks_back
from cffd_engine.analysis import AnalysisSettings
from cffd_engine.store import ModelStore

POOL = "analysis"


@dataclass(frozen=True)
class ItemStarted:
    """Handed from the analysis thread: the queue item it begins."""

    item_id: int


@dataclass(frozen=True)
class ItemFinished:
    """Handed from the analysis thread: an item's result (an AnalysisResult, failed ones included)."""

    item_id: int
    result: object


class AnalysisRunner(QObject):
    """A queue of (item id, path) analysed in order; new files join the running batch.

    One ``Analyzer`` (model, face detector, Grad-CAM) serves a whole batch. The model is the
    store's active version at the start of the batch; ``model_missing`` says when there is none.
    """

    item_started = Signal(int)
    item_progress = Signal(int, float, str)
    item_finished = Signal(int, object)  # AnalysisResult
    items_cancelled = Signal(list)  # ids of the item that was stopped and of those not started
    batch_failed = Signal(str, list)  # message, ids not analysed
    idle = Signal()
    model_missing = Signal(str)
    model_loaded = Signal(object)  # the version (str) ready to analyse
    model_failed = Signal(str)

    def __init__(self, store: ModelStore, settings: AnalysisSettings, parent: QObject | None = None):
        super().__init__(parent)
        hand_large_blocks_back()  # the window's memory goal before the command's speed
        self.store = store
        self.settings = settings
        self._pending: deque[tuple[int, Path]] = deque()
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._current: int | None = None
        self._loaded: tuple[str | None, object, object] | None = None  # (version, model, info)
        self._dropped: list[int] = []  # waiting files a cancel dropped, reported with the stopped one

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def current_item(self) -> int | None:
        return self._current

    def enqueue(self, item_id: int, path: Path) -> None:
        with self._lock:
            self._pending.append((item_id, Path(path)))
        self.resume()

    def resume(self) -> None:
        """Start on the waiting files, unless already at work or there is no model to work with."""
        if self._job is not None or not self._pending:
            return
        if self.store.active_version() is None:
            self.model_missing.emit(
                "No detection model is installed, so the evidence cannot be analysed yet. "
                "Open Models > Manage models and import a model bundle (.cffd file or folder)."
            )
            return
        self._job = Job(self._work)
        self._job.progress.connect(self._relay_progress)
        self._job.partial.connect(self._relay_partial)
        self._job.finished.connect(self._done)
        self._job.failed.connect(self._failed)
        self._job.cancelled.connect(self._cancelled)
        self._job.start(pool(POOL))

    def preload(self) -> None:
        """Load torch and the active model in the background, so that the first file starts at once."""
        if self.store.active_version() is None:
            return
        job = Job(lambda control: self._model()[1].version)  # the one-thread pool runs it before any analysis
        job.finished.connect(self.model_loaded)
        job.failed.connect(self.model_failed)
        job.start(pool(POOL))

    def cancel(self) -> None:
        """Stop the running file and drop those waiting now; files queued after this call are analysed next."""
        if self._job is not None:
            with self._lock:
                self._dropped += [item_id for item_id, _ in self._pending]
                self._pending.clear()
            self._job.cancel()

    def remove(self, item_id: int) -> None:
        with self._lock:
            self._pending = deque(entry for entry in self._pending if entry[0] != item_id)

    def shut_down(self) -> None:
        with self._lock:
            self._pending.clear()
        if self._job is not None:
            self._job.abandon()
            self._job = None

    def _next(self) -> tuple[int, Path] | None:
        with self._lock:
            return self._pending.popleft() if self._pending else None

    def _model(self):
        """The active version's model, loaded once and kept while it stays active (worker thread)."""
        from cffd_engine.analysis import load_analysis_model  # torch: loaded behind the shown window

        version = self.store.active_version()
        if self._loaded is None or self._loaded[0] != version:
            model, info = load_analysis_model(store=self.store.root)
            self._loaded = (info.version, model, info)
        return self._loaded[1], self._loaded[2]

    def _work(self, control: WorkControl) -> None:
        from cffd_engine.analysis import Analyzer, analyze_safely

        model, info = self._model()
        with Analyzer(self.settings, model, info) as analyzer:
            while (entry := self._next()) is not None:
                item_id, path = entry
                control.publish(ItemStarted(item_id))
                result = analyze_safely(analyzer, path, control.sub(0.0, 1.0))
                control.publish(ItemFinished(item_id, result))

    def _relay_partial(self, event: ItemStarted | ItemFinished) -> None:
        if isinstance(event, ItemStarted):
            self._current = event.item_id
            self.item_started.emit(event.item_id)
        else:
            self._current = None
            self.item_finished.emit(event.item_id, event.result)

    def _relay_progress(self, fraction: float, message: str) -> None:
        if self._current is not None:
            self.item_progress.emit(self._current, fraction, message)

    def _take_rest(self) -> list[int]:
        with self._lock:
            rest = [item_id for item_id, _ in self._pending]
            self._pending.clear()
        stopped = [self._current] if self._current is not None else []
        self._current, self._job = None, None
        return stopped + rest

    def _take_stopped(self) -> list[int]:
        stopped = [self._current] if self._current is not None else []
        stopped, self._dropped = stopped + self._dropped, []
        self._current, self._job = None, None
        return stopped

    def _done(self, _result: object) -> None:
        self._job = None
        if self._pending:  # a file joined after the worker had looked for the last time
            self.resume()
        else:
            self.idle.emit()

    def _failed(self, message: str) -> None:
        self.batch_failed.emit(message, self._take_rest())
        self.idle.emit()

    def _cancelled(self) -> None:
        self.items_cancelled.emit(self._take_stopped())
        if self._pending:  # queued after the cancel (another case was opened)
            self.resume()
        else:
            self.idle.emit()
