"""The spectrum panel: a key frame's face in frequency terms, against the band real faces fall in."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.images import fitted, png_to_pixmap
from app.theme import NOTE_STYLE, CompactPlot
from cffd_engine.analysis import KeyFrame, ReferenceSpectrum

SPECTRUM_SIDE = 130
# The spectrum's dB floor: a ring with no frequency sample in it (the first ring of a small crop holds
# only the removed mean) sits there. It carries no information and would squash the curve.
EMPTY_RING_DB = -100.0
KEY = (
    '<span style="color:#b3261e"><b>Red</b>: this face.</span> '
    '<span style="color:#1b7f3b"><b>Green band</b>: where 90% of real faces lie (dashed: their median).</span>'
)


def drawable(curve: list[float]) -> np.ndarray:
    """The curve with its empty rings left out of the drawing (NaN)."""
    values = np.asarray(curve, dtype=np.float64)
    return np.where(values <= EMPTY_RING_DB, np.nan, values)


def spectrum_words(key: KeyFrame) -> str:
    """The comparison with the band in words, as the analyst reads it."""
    outside = 100 * key.spectrum_outside_fraction
    excess = key.spectrum_high_excess_db
    direction = "more" if excess >= 0 else "less"
    return (
        f"{outside:.0f}% of the frequency rings fall outside the real-face band; the high frequencies "
        f"carry {abs(excess):.1f} dB {direction} power than a typical real face."
    )


class SpectrumPanel(QWidget):
    """2-D log spectrum of the face beside its radial power curve on the real-face reference band."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Frequency spectrum")
        self.title.setStyleSheet("font-weight: bold;")
        self.image = QLabel()
        self.image.setFixedSize(SPECTRUM_SIDE, SPECTRUM_SIDE)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setToolTip(
            "The face's 2-D spectrum: low frequencies in the middle, high ones at the edges"
        )
        self.plot = CompactPlot(170)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(140)
        self.plot.setMaximumHeight(240)
        self.plot.plotItem.setLabel("bottom", "spatial frequency (cycles/pixel)")
        self.plot.plotItem.setLabel("left", "power (dB)")
        self.plot.plotItem.getAxis("bottom").enableAutoSIPrefix(False)
        self.words = QLabel()
        self.words.setWordWrap(True)
        self.reference_note = QLabel()
        self.reference_note.setWordWrap(True)
        self.reference_note.setStyleSheet(NOTE_STYLE)
        row = QHBoxLayout()
        row.addWidget(self.image, alignment=Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.plot, stretch=1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.words)
        layout.addWidget(self.reference_note)
        self.shown_key: KeyFrame | None = None

    def show_key(self, key: KeyFrame | None, reference: ReferenceSpectrum | None, where: str = "") -> None:
        self.shown_key = key
        self.plot.plotItem.clear()
        self.image.clear()
        if key is None or reference is None:
            self.title.setText("Frequency spectrum")
            self.words.setText("Spectra are measured on the key frames of each face track.")
            self.reference_note.setText("")
            return
        self.title.setText(f"Frequency spectrum: {where}")
        if "spectrum" in key.images:
            self.image.setPixmap(fitted(png_to_pixmap(key.images["spectrum"]), SPECTRUM_SIDE, SPECTRUM_SIDE))
        else:
            self.image.setText("(picture not kept)")
        frequencies = reference.frequencies
        low = self.plot.plotItem.plot(
            frequencies, drawable(reference.p05), pen=pg.mkPen("#8fd19e"), connect="finite"
        )
        high = self.plot.plotItem.plot(
            frequencies, drawable(reference.p95), pen=pg.mkPen("#8fd19e"), connect="finite"
        )
        self.plot.plotItem.addItem(pg.FillBetweenItem(low, high, brush=pg.mkBrush(QColor(27, 127, 59, 60))))
        self.plot.plotItem.plot(
            frequencies,
            drawable(reference.p50),
            connect="finite",
            pen=pg.mkPen("#1b7f3b", style=Qt.PenStyle.DashLine),
        )
        self.plot.plotItem.plot(
            frequencies,
            drawable(key.spectrum),
            connect="finite",
            pen=pg.mkPen("#b3261e", width=2),
        )
        self.words.setText(f"{KEY} {spectrum_words(key)} {reference.genuine_words()}")
        self.reference_note.setText(
            f"Reference band: {reference.describe()}. It is where 90% of those genuine faces lie, ring by ring; "
            "resizing, sharpening and compression move a spectrum too, so a face outside it is not thereby "
            "manipulated, nor one inside it genuine."
        )
