"""A progress bar with what is being done, the time left and a cancel button."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

# Before this much of the work is done, or this long has passed, a time-left estimate is noise.
MIN_FRACTION_FOR_ESTIMATE = 0.03
MIN_SECONDS_FOR_ESTIMATE = 2.0


def describe_seconds(seconds: float) -> str:
    """A person's rounding of a duration: "a few seconds", "about 40 s", "about 3 min", "about 1 h 10 min"."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {int(round(seconds / 5) * 5)} s"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"


class TimeLeft:
    """Time left from the progress so far, assuming the rest goes at the average pace since ``restart``."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._began = time.monotonic()
        self._first_fraction: float | None = None

    def estimate(self, fraction: float, now: float | None = None) -> float | None:
        """Seconds left at ``fraction`` done, or None while too little is known to say."""
        now = time.monotonic() if now is None else now
        if self._first_fraction is None:
            self._first_fraction = fraction
        done = fraction - self._first_fraction
        elapsed = now - self._began
        if fraction >= 1.0:
            return 0.0
        if done < MIN_FRACTION_FOR_ESTIMATE or elapsed < MIN_SECONDS_FOR_ESTIMATE:
            return None
        return elapsed / done * (1.0 - fraction)


class ProgressPanel(QWidget):
    """What runs now, how far it is, how long it will take; ``cancel_requested`` when the user stops it."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.detail = QLabel()
        self.detail.setStyleSheet("color: #555;")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this work; what was finished before is kept")
        self.cancel_button.clicked.connect(self._cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, stretch=1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.detail)
        self._time_left = TimeLeft()
        self.hide()

    def begin(self, title: str, cancellable: bool = True) -> None:
        self.title.setText(title)
        self.bar.setValue(0)
        self.detail.setText("starting...")
        self.cancel_button.setEnabled(cancellable)
        self.cancel_button.setVisible(cancellable)
        self._time_left.restart()
        self.show()

    def update_progress(self, fraction: float, message: str = "") -> None:
        self.bar.setValue(int(fraction * 1000))
        seconds = self._time_left.estimate(fraction)
        left = f"{describe_seconds(seconds)} left" if seconds is not None else "estimating the time left..."
        self.detail.setText(f"{message} · {left}" if message else left)

    def end(self) -> None:
        self.hide()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.detail.setText("cancelling...")
        self.cancel_requested.emit()
