"""The timeline: fake probability of every judged face over time, one line per face track, click to seek."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor

from app.theme import track_colour
from cffd_engine.analysis import AnalysisResult

SUSPICIOUS_STRETCH = QColor(179, 38, 30, 28)


class Timeline(pg.PlotWidget):
    """Per-track P(fake) against time, the model's threshold, each track's most suspicious stretch.

    Tracks are told apart by colour (``track_colour``); the verdict card's track table is the key.
    Key frames (those with a Grad-CAM heatmap and a spectrum) are drawn as stars. A click
    emits ``seek(frame_index)`` for the judged face nearest in time; ``show_time`` moves the cursor.
    """

    seek = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(140)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.plotItem.setLabel("bottom", "time (s)")
        self.plotItem.setLabel("left", "fake probability")
        self.plotItem.showGrid(x=True, y=True, alpha=0.2)
        self.plotItem.setYRange(0.0, 1.0, padding=0.05)
        self.setToolTip(
            "Fake probability of each judged face. Shaded: each track's most suspicious stretch, which "
            "decides its verdict. Stars: key frames, with a heatmap and a spectrum. Click to go to a frame."
        )
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#202124", width=1))
        self.threshold_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen("#b3261e", width=1, style=Qt.PenStyle.DashLine),
            label="threshold {value:.2f}",
            labelOpts={"position": 0.04, "color": "#b3261e", "anchors": [(0, 1), (0, 1)]},
        )
        self._curves: list[pg.PlotDataItem] = []
        self._times = np.zeros(0)
        self._frames = np.zeros(0, dtype=int)
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_result(self, result: AnalysisResult | None) -> None:
        self.plotItem.clear()
        self._curves = []
        self._times, self._frames = np.zeros(0), np.zeros(0, dtype=int)
        if result is None or not result.tracks:
            return
        self.threshold_line.setValue(result.threshold)
        self.plotItem.addItem(self.threshold_line)
        for track in result.tracks:
            colour = track_colour(track.track_id)
            region = pg.LinearRegionItem(
                (track.window_start_s, track.window_end_s), movable=False, brush=SUSPICIOUS_STRETCH
            )
            region.setZValue(-10)
            for line in region.lines:
                line.setPen(pg.mkPen(None))
            self.plotItem.addItem(region)
            times = np.array([score.timestamp_s for score in track.scores])
            probabilities = np.array([score.fake_probability for score in track.scores])
            curve = self.plotItem.plot(
                times,
                probabilities,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=5,
                symbolBrush=colour,
                symbolPen=None,
            )
            self._curves.append(curve)
            if track.key_frames:
                keys = pg.ScatterPlotItem(
                    [key.timestamp_s for key in track.key_frames],
                    [key.fake_probability for key in track.key_frames],
                    symbol="star",
                    size=16,
                    brush=pg.mkBrush(colour),
                    pen=pg.mkPen("#202124"),
                )
                self.plotItem.addItem(keys)
        scores = [score for track in result.tracks for score in track.scores]
        self._times = np.array([score.timestamp_s for score in scores])
        self._frames = np.array([score.frame_index for score in scores], dtype=int)
        self.plotItem.addItem(self.cursor)
        start, end = float(self._times.min()), float(self._times.max())
        self.plotItem.setXRange(start, max(end, start + 1e-3), padding=0.02)

    def point_count(self) -> int:
        """How many judged faces are drawn (all tracks together)."""
        return sum(len(curve.xData) for curve in self._curves if curve.xData is not None)

    def show_time(self, seconds: float) -> None:
        self.cursor.setValue(seconds)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not len(self._times):
            return
        view = self.plotItem.vb
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        seconds = view.mapSceneToView(event.scenePos()).x()
        self.seek.emit(self.frame_at(seconds))

    def frame_at(self, seconds: float) -> int:
        """The judged frame nearest in time to ``seconds``."""
        return int(self._frames[int(np.argmin(np.abs(self._times - seconds)))])
