"""Colours and small styles shared by the views, so a verdict looks the same everywhere."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QSize

from cffd_engine.analysis import LIKELY_MANIPULATED, NO_MANIPULATION_DETECTED, NOT_APPLICABLE
from cffd_engine.analysis.result import NOT_ASSESSED

VERDICT_COLOURS = {
    LIKELY_MANIPULATED: "#b3261e",
    NO_MANIPULATION_DETECTED: "#1b7f3b",
    NOT_APPLICABLE: "#5f6368",
    NOT_ASSESSED: "#5f6368",
}
VERDICT_BACKGROUNDS = {
    LIKELY_MANIPULATED: "#fdecea",
    NO_MANIPULATION_DETECTED: "#e8f5ec",
    NOT_APPLICABLE: "#f1f3f4",
}
FAKE_BOX = "#ff4d4d"
REAL_BOX = "#3ddc84"
ERROR_STYLE = "QLabel { background: #fdecea; color: #8a1c12; border: 1px solid #e0a39c; padding: 8px; }"
WARNING_STYLE = "QLabel { background: #fef7e0; color: #7a4f01; border: 1px solid #f9d77e; padding: 8px; }"
INFO_STYLE = "QLabel { background: #e8f0fe; color: #174ea6; border: 1px solid #aecbfa; padding: 8px; }"
NOTE_STYLE = "QLabel { color: #555; }"
# One colour per face track, told apart on the timeline and on the frame.
TRACK_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def track_colour(track_id: int) -> str:
    return TRACK_COLOURS[track_id % len(TRACK_COLOURS)]


# pyqtgraph drawn like the rest of the window (light background, smooth lines), set before any plot exists.
pg.setConfigOptions(background="w", foreground="#333", antialias=True)


class CompactPlot(pg.PlotWidget):
    """A plot that asks for ``preferred_height`` pixels (pyqtgraph's own wish is far taller)."""

    def __init__(self, preferred_height: int, parent=None):
        super().__init__(parent)
        self.preferred_height = preferred_height
        self.setMenuEnabled(False)
        self.plotItem.hideButtons()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(320, self.preferred_height)
