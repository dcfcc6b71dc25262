"""The timeline: fake probability of every judged face over time, one line per face track, click to seek."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor

from app.theme import track_colour
from cffd_engine.analysis import AnalysisResult

SUSPICIOUS_STRETCH = QColor(179, 38, 30, 28)
FADED_ALPHA = 70  # the other tracks' curves, behind the selected one
PICK_PIXELS = 8  # a click this close to another track's curve selects that track


class Timeline(pg.PlotWidget):
    """Per-track P(fake) against time, the model's threshold, each track's most suspicious stretch.

    Tracks are told apart by colour (``track_colour``); the verdict card's track table is the key.
    The selected track (``emphasise``) is drawn bold, the others faded. Key frames (those with a
    stored Grad-CAM heatmap and a spectrum) are drawn as stars. A click emits ``seek(frame_index)``
    for the selected track's judged face nearest in time, after ``track_picked(track_id)`` when it
    fell on another track's curve; ``show_time`` moves the cursor.
    """

    seek = Signal(int)
    track_picked = Signal(int)

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
            "decides its verdict. Stars: key frames, with a heatmap and a spectrum. Bold: the selected face "
            "track. Click to go to a frame; click another track's curve to follow that track."
        )
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#202124", width=1))
        self.threshold_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen("#b3261e", width=1, style=Qt.PenStyle.DashLine),
            label="threshold {value:.2f}",
            labelOpts={"position": 0.04, "color": "#b3261e", "anchors": [(0, 1), (0, 1)]},
        )
        self._curves: dict[int, pg.PlotDataItem] = {}
        self._stars: dict[int, pg.ScatterPlotItem] = {}
        self._series: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # times, P(fake), frames
        self.selected: int | None = None
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_result(self, result: AnalysisResult | None) -> None:
        self.plotItem.clear()
        self._curves, self._stars, self._series, self.selected = {}, {}, {}, None
        if result is None or not result.tracks:
            return
        self.threshold_line.setValue(result.threshold)
        self.plotItem.addItem(self.threshold_line)
        for track in result.tracks:
            region = pg.LinearRegionItem(
                (track.window_start_s, track.window_end_s), movable=False, brush=SUSPICIOUS_STRETCH
            )
            region.setZValue(-10)
            for line in region.lines:
                line.setPen(pg.mkPen(None))
            self.plotItem.addItem(region)
            self._series[track.track_id] = (
                np.array([score.timestamp_s for score in track.scores]),
                np.array([score.fake_probability for score in track.scores]),
                np.array([score.frame_index for score in track.scores], dtype=int),
            )
            times, probabilities, _ = self._series[track.track_id]
            self._curves[track.track_id] = self.plotItem.plot(times, probabilities)
            if track.key_frames:
                stars = pg.ScatterPlotItem(
                    [key.timestamp_s for key in track.key_frames],
                    [key.fake_probability for key in track.key_frames],
                    symbol="star",
                    size=16,
                )
                self._stars[track.track_id] = stars
                self.plotItem.addItem(stars)
        self.emphasise(None)
        self.plotItem.addItem(self.cursor)
        times = np.concatenate([series[0] for series in self._series.values()])
        start, end = float(times.min()), float(times.max())
        self.plotItem.setXRange(start, max(end, start + 1e-3), padding=0.02)

    def emphasise(self, track_id: int | None) -> None:
        """Draw ``track_id``'s curve and stars bold and in front, every other track's faded."""
        self.selected = track_id
        for tid, curve in self._curves.items():
            shown = tid == track_id or track_id is None
            colour = QColor(track_colour(tid))
            if not shown:
                colour.setAlpha(FADED_ALPHA)
            curve.setPen(pg.mkPen(colour, width=3 if tid == track_id else 1.5))
            curve.setSymbol("o")
            curve.setSymbolSize(6 if tid == track_id else 4)
            curve.setSymbolBrush(colour)
            curve.setSymbolPen(None)
            curve.setZValue(5 if tid == track_id else 0)
            if tid in self._stars:
                outline = QColor("#202124")
                outline.setAlpha(255 if shown else FADED_ALPHA)
                self._stars[tid].setBrush(pg.mkBrush(colour))
                self._stars[tid].setPen(pg.mkPen(outline))
                self._stars[tid].setZValue(6 if tid == track_id else 1)

    def point_count(self) -> int:
        """How many judged faces are drawn (all tracks together)."""
        return sum(len(curve.xData) for curve in self._curves.values() if curve.xData is not None)

    def show_time(self, seconds: float) -> None:
        self.cursor.setValue(seconds)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._series:
            return
        view = self.plotItem.vb
        if not view.sceneBoundingRect().contains(event.scenePos()):
            return
        point = view.mapSceneToView(event.scenePos())
        picked = self.track_near(point.x(), point.y(), view.viewPixelSize())
        if picked is not None and picked != self.selected:
            self.track_picked.emit(picked)
        self.seek.emit(self.frame_at(point.x()))

    def track_near(self, seconds: float, probability: float, pixel: tuple[float, float]) -> int | None:
        """The track whose curve passes within ``PICK_PIXELS`` of the point (``pixel``: one pixel's width, height)."""
        reach = PICK_PIXELS * pixel[0]
        distances = {
            tid: abs(float(np.interp(seconds, times, values)) - probability) / pixel[1]
            for tid, (times, values, _) in self._series.items()
            if times[0] - reach <= seconds <= times[-1] + reach
        }
        nearest = min(distances, key=distances.get, default=None)
        return nearest if nearest is not None and distances[nearest] <= PICK_PIXELS else None

    def frame_at(self, seconds: float) -> int:
        """The selected track's judged frame nearest in time to ``seconds`` (any track's, with none selected)."""
        if self.selected in self._series:
            times, _, frames = self._series[self.selected]
        else:
            times = np.concatenate([series[0] for series in self._series.values()])
            frames = np.concatenate([series[2] for series in self._series.values()])
        return int(frames[int(np.argmin(np.abs(times - seconds)))])
