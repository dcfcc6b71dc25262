"""Progress reporting and cancellation for long work, shared by the CLI and the GUI.

Engine functions that run for more than a moment take ``job: JobControl | None``.
They call ``job.report(fraction, message)`` as they go and ``job.check()`` at safe
points; ``check`` raises ``Cancelled`` once someone called ``job.cancel()``.
No Qt here: ``app/workers.py`` adapts this to signals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]


class Cancelled(Exception):
    """Raised inside a job when its caller asked it to stop."""


class TimedOut(Exception):
    """Raised inside a job that ran past its deadline (``JobControl.with_deadline``); not a cancel."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"ran past its time limit of {seconds:.0f} s")


class JobControl:
    """A progress sink plus a cancel flag, safe to share between threads."""

    def __init__(self, on_progress: ProgressCallback | None = None, min_step: float = 0.005):
        self._on_progress = on_progress
        self._cancel = threading.Event()
        self._min_step = min_step
        self._last_fraction = -1.0
        self._deadline: tuple[float, float] | None = None  # (time.monotonic() to stop at, the limit in s)

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1]; calls the callback only when the value moves visibly."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._on_progress is None:
            return
        if fraction < 1.0 and abs(fraction - self._last_fraction) < self._min_step:
            return
        self._last_fraction = fraction
        self._on_progress(fraction, message)

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

    def sub(self, start: float, end: float) -> JobControl:
        """A child job whose [0, 1] maps onto [start, end] of this one and shares its cancel flag."""
        parent = self

        def forward(fraction: float, message: str) -> None:
            parent.report(start + (end - start) * fraction, message)

        child = JobControl(forward, min_step=0.0)
        child._cancel = self._cancel
        child._deadline = self._deadline
        return child


def ensure_job(job: JobControl | None) -> JobControl:
    return job if job is not None else JobControl()
