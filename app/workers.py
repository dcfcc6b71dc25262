"""Run engine jobs off the GUI thread and hand their progress, partial results and outcome back as Qt signals."""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled, JobControl

log = logging.getLogger(__name__)

# Progress with the same message closer together than this is dropped: the eye cannot follow it
# and a flood of queued events would slow the GUI thread down.
MIN_PROGRESS_INTERVAL_S = 0.05

# Long work gets a pool of its own, one thread each, so that an analysis or a training never
# starves the short jobs (reading a first frame, hashing) of the global pool.
_POOLS: dict[str, QThreadPool] = {}
# Jobs whose work is still running; holding them here keeps their QObject alive until the worker
# thread has emitted its outcome, whatever happened to the widget that started them.
_RUNNING: set[Job] = set()


def pool(name: str | None = None) -> QThreadPool:
    """The global pool (``None``) or a one-thread pool reserved for one kind of long work."""
    if name is None:
        return QThreadPool.globalInstance()
    if name not in _POOLS:
        _POOLS[name] = QThreadPool()
        _POOLS[name].setMaxThreadCount(1)
    return _POOLS[name]


def wait_for_all(timeout_ms: int = 30_000) -> bool:
    """Block until every pool is idle (at exit, after cancelling); False if one is still busy."""
    pools = [QThreadPool.globalInstance(), *_POOLS.values()]
    return all(each.waitForDone(timeout_ms) for each in pools)


class _Runnable(QRunnable):
    def __init__(self, run: Callable[[], None]):
        super().__init__()
        self._run = run

    def run(self) -> None:
        self._run()


class WorkControl(JobControl):
    """The engine's progress/cancel object, plus ``publish(value)`` to hand a partial result to the GUI."""

    def __init__(self, on_progress: Callable[[float, str], None], publish: Callable[[object], None]):
        super().__init__(on_progress)
        self.publish = publish


class Job(QObject):
    """One engine call ``work(control)`` on a thread pool; its signals are emitted on the GUI thread.

    Exactly one of ``finished``, ``failed`` or ``cancelled`` is emitted. Cancel with ``cancel()``;
    the engine stops at its next ``control.check()``. The work may call ``control.publish(value)``
    to hand over partial results (``partial``). ``abandon()`` cancels and silences the job:
    for a widget that is going away and must not hear from it again.
    """

    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    # The worker thread emits these; being connected to this object's own slots, they are queued to
    # the GUI thread, so whatever listens to the public signals (lambdas too) runs there.
    _progress_from_worker = Signal(float, str)
    _partial_from_worker = Signal(object)
    _outcome_from_worker = Signal(str, object)

    def __init__(self, work: Callable[[WorkControl], object], parent: QObject | None = None):
        super().__init__(parent)
        self._work = work
        self._abandoned = False
        self._last_report = (0.0, "")
        self._lock = threading.Lock()
        self.control = WorkControl(self._report, self._partial_from_worker.emit)
        self._progress_from_worker.connect(self._relay_progress)
        self._partial_from_worker.connect(self._relay_partial)
        self._outcome_from_worker.connect(self._relay_outcome)

    def _report(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            last_time, last_message = self._last_report
            if fraction < 1.0 and message == last_message and now - last_time < MIN_PROGRESS_INTERVAL_S:
                return
            self._last_report = (now, message)
        self._progress_from_worker.emit(fraction, message)

    @Slot(float, str)
    def _relay_progress(self, fraction: float, message: str) -> None:
        if not self._abandoned:
            self.progress.emit(fraction, message)

    @Slot(object)
    def _relay_partial(self, value: object) -> None:
        if not self._abandoned:
            self.partial.emit(value)

    @Slot(str, object)
    def _relay_outcome(self, kind: str, value: object) -> None:
        _RUNNING.discard(self)
        if self._abandoned:
            return
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()

    def start(self, thread_pool: QThreadPool | None = None) -> Job:
        _RUNNING.add(self)
        (thread_pool or QThreadPool.globalInstance()).start(_Runnable(self._run))
        return self

    def cancel(self) -> None:
        self.control.cancel()

    def abandon(self) -> None:
        """Cancel, and emit nothing more: the listener is gone or no longer interested."""
        self._abandoned = True
        self.cancel()

    @property
    def running(self) -> bool:
        return self in _RUNNING

    def _run(self) -> None:
        try:
            result = self._work(self.control)
        except Cancelled:
            self._outcome_from_worker.emit("cancelled", None)
        except CFFDError as exc:
            self._outcome_from_worker.emit("failed", str(exc))
        except OSError as exc:  # a full disk, a vanished folder: not a bug; the message names the file
            self._outcome_from_worker.emit("failed", f"The file system refused: {exc}")
        except Exception as exc:  # a bug must reach the user, not kill the worker thread silently
            log.exception("job failed")
            self._outcome_from_worker.emit("failed", f"Unexpected error ({exc.__class__.__name__}): {exc}")
        else:
            self._outcome_from_worker.emit("finished", result)


class JobGroup:
    """The jobs one widget started, abandoned together when the widget closes.

    ``start`` runs the work at once; connecting to the job's signals right after is safe, as
    everything the worker emits reaches the GUI thread through its event loop.
    """

    def __init__(self) -> None:
        self._jobs: set[Job] = set()

    def start(self, work: Callable[[WorkControl], object], pool_name: str | None = None) -> Job:
        job = Job(work)
        self._jobs.add(job)
        # Weakly: a slot holding the job, connected to the job's own signals, is a cycle through Qt
        # that Python's collector cannot see; every job and what its work holds would leak.
        forget = functools.partial(self._forget, weakref.ref(job))
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(forget)
        return job.start(pool(pool_name))

    def _forget(self, job: weakref.ref[Job], *_outcome) -> None:
        if (alive := job()) is not None:
            self._jobs.discard(alive)

    def abandon_all(self) -> None:
        for job in list(self._jobs):
            job.abandon()
        self._jobs.clear()

    def __len__(self) -> int:
        return len(self._jobs)
