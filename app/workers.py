"""Run engine jobs off the GUI thread and hand their progress and results back as Qt signals."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled, JobControl

log = logging.getLogger(__name__)


class _Runnable(QRunnable):
    def __init__(self, run: Callable[[], None]):
        super().__init__()
        self._run = run

    def run(self) -> None:
        self._run()


class Job(QObject):
    """One engine call ``work(control)`` on the thread pool; its signals are emitted on the GUI thread.

    Exactly one of ``finished``, ``failed`` or ``cancelled`` is emitted. Cancel with ``cancel()``;
    the engine stops at its next ``control.check()``.
    """

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    # The worker thread emits these; being connected to this object's own slots, they are queued to
    # the GUI thread, so whatever listens to the public signals (lambdas too) runs there.
    _progress_from_worker = Signal(float, str)
    _outcome_from_worker = Signal(str, object)

    def __init__(self, work: Callable[[JobControl], object], parent: QObject | None = None):
        super().__init__(parent)
        self._work = work
        self.control = JobControl(self._progress_from_worker.emit)
        self._progress_from_worker.connect(self._relay_progress)
        self._outcome_from_worker.connect(self._relay_outcome)

    @Slot(float, str)
    def _relay_progress(self, fraction: float, message: str) -> None:
        self.progress.emit(fraction, message)

    @Slot(str, object)
    def _relay_outcome(self, kind: str, value: object) -> None:
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()

    def start(self, pool: QThreadPool | None = None) -> None:
        (pool or QThreadPool.globalInstance()).start(_Runnable(self._run))

    def cancel(self) -> None:
        self.control.cancel()

    def _run(self) -> None:
        try:
            result = self._work(self.control)
        except Cancelled:
            self._outcome_from_worker.emit("cancelled", None)
        except CFFDError as exc:
            self._outcome_from_worker.emit("failed", str(exc))
        except Exception as exc:  # a bug must reach the user, not kill the worker thread silently
            log.exception("job failed")
            self._outcome_from_worker.emit("failed", f"Unexpected error ({exc.__class__.__name__}): {exc}")
        else:
            self._outcome_from_worker.emit("finished", result)
