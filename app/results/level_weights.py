"""The FAF level weights: which scale of the face the model leaned on for its judgement."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.theme import NOTE_STYLE, CompactPlot

LEVEL_NAMES = ("fine detail", "small parts", "face regions", "whole face")


class LevelWeights(QWidget):
    """Bars: this face's fusion weight per level; dots: the track's average, for comparison."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("What the model looked at (FAF level weights)")
        self.title.setStyleSheet("font-weight: bold;")
        self.plot = CompactPlot(120)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(90)
        self.plot.setMaximumHeight(180)
        self.plot.plotItem.setYRange(0, 1, padding=0.02)
        self.plot.plotItem.setLabel("left", "weight")
        self.note = QLabel(
            "Each bar is the share the model gave to one scale of the face; the weights sum to 1. "
            "Dots: the face track's average."
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, stretch=1)
        layout.addWidget(self.note)
        self.weights: list[float] = []

    def show_weights(
        self, weights: list[float] | None, track_mean: list[float] | None, track_id: int | None = None
    ) -> None:
        which = "" if track_id is None else f": face track {track_id}"
        self.title.setText(f"What the model looked at{which} (FAF level weights)")
        self.plot.plotItem.clear()
        self.weights = list(weights or [])
        values = weights or track_mean
        if not values:
            return
        levels = np.arange(1, len(values) + 1)
        names = [
            (i, f"{i}: {LEVEL_NAMES[i - 1]}" if i <= len(LEVEL_NAMES) else str(i)) for i in levels.tolist()
        ]
        self.plot.plotItem.getAxis("bottom").setTicks([names])
        if weights:
            self.plot.plotItem.addItem(
                pg.BarGraphItem(x=levels, height=weights, width=0.6, brush="#8ab4f8", pen="#1a73e8")
            )
        if track_mean:
            self.plot.plotItem.plot(
                levels, track_mean, pen=None, symbol="o", symbolSize=8, symbolBrush="#202124"
            )
