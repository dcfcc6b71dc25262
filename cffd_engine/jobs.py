"""Progress reporting and cancellation for long work, shared by the CLI and the GUI.

Engine functions that run for more than a moment take ``job: JobControl | None``.
They call ``job.report(fraction, message)`` as they go (with ``event=`` a typed object when a
step is also a result a view may draw) and ``job.check()`` at safe points; ``check`` raises
``Cancelled`` once someone called ``job.cancel()``.
No Qt here: ``app/workers.py`` adapts this to signals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]
EventCallback = Callable[[float, object], None]
_Sink = Callable[[float, str, object], None]  # where a job's reports go: fraction, words, event (or None)


class Cancelled(Exception):
    """Raised inside a job when its caller asked it to stop."""


class TimedOut(Exception):
    """Raised inside a job that ran past its deadline (``JobControl.with_deadline``); not a cancel."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"ran past its time limit of {seconds:.0f} s")


class JobControl:
    """A progress sink plus a cancel flag, safe to share between threads.

    A report may carry a typed ``event`` beside its words (the trainer's ``Progress`` for each
    step): a caller that shows such steps its own way takes them with ``with_events``; every
    other listener gets the words. No one has to read the words to learn what happened.
    """

    def __init__(self, on_progress: ProgressCallback | None = None, min_step: float = 0.005):
        self._sink: _Sink | None = None
        if on_progress is not None:
            self._sink = lambda fraction, message, event: on_progress(fraction, message)
        self._cancel = threading.Event()
        self._min_step = min_step
        self._last_fraction = -1.0
        self._deadline: tuple[float, float] | None = None  # (time.monotonic() to stop at, the limit in s)

    def report(self, fraction: float, message: str = "", event: object | None = None) -> None:
        """Report progress in [0, 1], with words and optionally the same step as a typed ``event``;
        reaches the listener only when the value moves visibly."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._sink is None:
            return
        if fraction < 1.0 and abs(fraction - self._last_fraction) < self._min_step:
            return
        self._last_fraction = fraction
        self._sink(fraction, message, event)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise ``Cancelled`` if cancellation was requested, ``TimedOut`` past a deadline."""
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")
        if self._deadline is not None and time.monotonic() > self._deadline[0]:
            raise TimedOut(self._deadline[1])

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and time.monotonic() > self._deadline[0]

    def with_deadline(self, seconds: float | None) -> JobControl:
        """This job's progress and cancel flag, with ``check`` raising ``TimedOut`` ``seconds`` from now
        (None: no deadline); its sub-jobs keep the deadline."""
        child = self.sub(0.0, 1.0)
        if seconds is not None:
            child._deadline = (time.monotonic() + seconds, seconds)
        return child

    def with_events(self, on_event: EventCallback) -> JobControl:
        """This job, except that a report carrying an ``event`` goes to ``on_event(fraction, event)``
        instead of this job's listener; reports without one reach it as before."""
        parent = self

        def route(fraction: float, message: str, event: object | None) -> None:
            if event is None:
                parent.report(fraction, message)
            else:
                on_event(fraction, event)

        return self._child(route)

    def sub(self, start: float, end: float) -> JobControl:
        """A child job whose [0, 1] maps onto [start, end] of this one and shares its cancel flag."""
        parent = self

        def forward(fraction: float, message: str, event: object | None) -> None:
            parent.report(start + (end - start) * fraction, message, event)

        return self._child(forward)

    def _child(self, sink: _Sink) -> JobControl:
        child = JobControl(min_step=0.0)
        child._sink = sink
        child._cancel = self._cancel
        child._deadline = self._deadline
        return child


def ensure_job(job: JobControl | None) -> JobControl:
    return job if job is not None else JobControl()
