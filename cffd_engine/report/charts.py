"""Vector charts for the PDF (reportlab graphics): the probability timeline, spectra against the band, level weights.

Drawn with plain shapes so every axis, label and colour is ours to check;
they take the same typed results the JSON twin is written from (``AnalysisResult``, ``ReferenceSpectrum``).
"""

from __future__ import annotations

from reportlab.graphics.shapes import Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors

from cffd_engine.analysis.result import AnalysisResult
from cffd_engine.analysis.spectrum import ReferenceSpectrum

TRACK_COLOURS = (
    colors.HexColor("#1f77b4"),
    colors.HexColor("#d62728"),
    colors.HexColor("#2ca02c"),
    colors.HexColor("#9467bd"),
    colors.HexColor("#ff7f0e"),
    colors.HexColor("#17becf"),
)
GRID = colors.HexColor("#dddddd")
FONT = "Helvetica"


def track_colour(index: int):
    return TRACK_COLOURS[index % len(TRACK_COLOURS)]


class _Axes:
    """A plotting box inside a drawing: data coordinates to points, with ticks and labels."""

    def __init__(self, drawing: Drawing, box: tuple[float, float, float, float], xlim, ylim):
        self.d = drawing
        self.x0, self.y0, self.w, self.h = box
        self.xlim, self.ylim = xlim, ylim

    def px(self, x: float) -> float:
        low, high = self.xlim
        return self.x0 + (x - low) / max(high - low, 1e-12) * self.w

    def py(self, y: float) -> float:
        low, high = self.ylim
        return self.y0 + (min(max(y, low), high) - low) / max(high - low, 1e-12) * self.h

    def frame(self, xticks, yticks, xlabel: str, ylabel: str, xfmt="{:g}", yfmt="{:g}") -> None:
        d = self.d
        for y in yticks:
            d.add(Line(self.x0, self.py(y), self.x0 + self.w, self.py(y), strokeColor=GRID, strokeWidth=0.5))
            d.add(
                String(
                    self.x0 - 3, self.py(y) - 2.5, yfmt.format(y), fontName=FONT, fontSize=7, textAnchor="end"
                )
            )
        for x in xticks:
            d.add(
                Line(self.px(x), self.y0, self.px(x), self.y0 - 2, strokeColor=colors.black, strokeWidth=0.5)
            )
            d.add(
                String(
                    self.px(x), self.y0 - 10, xfmt.format(x), fontName=FONT, fontSize=7, textAnchor="middle"
                )
            )
        d.add(
            Rect(self.x0, self.y0, self.w, self.h, fillColor=None, strokeColor=colors.black, strokeWidth=0.6)
        )
        d.add(
            String(self.x0 + self.w / 2, self.y0 - 21, xlabel, fontName=FONT, fontSize=8, textAnchor="middle")
        )
        label = String(0, 0, ylabel, fontName=FONT, fontSize=8, textAnchor="middle")
        group = Group(label)
        group.transform = (0, 1, -1, 0, self.x0 - 30, self.y0 + self.h / 2)
        d.add(group)

    def polyline(self, xs, ys, colour, width: float = 1.0, dash=None) -> None:
        points = [v for x, y in zip(xs, ys, strict=True) for v in (self.px(x), self.py(y))]
        if len(points) >= 4:
            self.d.add(PolyLine(points, strokeColor=colour, strokeWidth=width, strokeDashArray=dash))

    def dots(self, xs, ys, colour, radius: float = 1.2) -> None:
        for x, y in zip(xs, ys, strict=True):
            self.d.add(
                Rect(
                    self.px(x) - radius,
                    self.py(y) - radius,
                    2 * radius,
                    2 * radius,
                    fillColor=colour,
                    strokeColor=None,
                )
            )


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    span = max(high - low, 1e-9)
    raw = span / count
    step = min((s * 10**e for e in range(-3, 6) for s in (1, 2, 5) if s * 10**e >= raw), default=raw)
    start = (low // step) * step
    ticks, value = [], start
    while value <= high + 1e-9:
        if value >= low - 1e-9:
            ticks.append(round(value, 6))
        value += step
    return ticks


def timeline(result: AnalysisResult, width: float = 480, height: float = 170) -> Drawing:
    """P(fake) of every judged face over time, one line per track, the threshold dashed, key frames ringed."""
    drawing = Drawing(width, height)
    tracks = result.tracks
    times = [s.timestamp_s for t in tracks for s in t.scores]
    end = max(max(times, default=0.0), (result.media or {}).get("duration_s") or 0.0, 1e-3)
    axes = _Axes(drawing, (40, 32, width - 50 - 90, height - 42), (0.0, end), (0.0, 1.0))
    axes.frame(_ticks(0, end), [0, 0.25, 0.5, 0.75, 1.0], "time in the video (s)", "P(fake)", yfmt="{:.2f}")
    threshold = result.threshold
    drawing.add(
        Line(axes.x0, axes.py(threshold), axes.x0 + axes.w, axes.py(threshold), strokeColor=colors.black,
             strokeWidth=0.8, strokeDashArray=[3, 2])
    )  # fmt: skip
    legend_y = axes.y0 + axes.h - 8
    # The legend names as many tracks as fit above its last two lines (threshold, key frame); the rest are
    # counted in one line (their colours repeat anyway; the table above lists them all).
    rows = int(legend_y // 11) - 2
    named = len(tracks) if len(tracks) <= rows else rows - 1
    for index, track in enumerate(tracks):
        colour = track_colour(index)
        # The stretch that scored the track, shaded in its colour.
        left, right = axes.px(track.window_start_s), axes.px(track.window_end_s)
        shade = colors.Color(colour.red, colour.green, colour.blue, alpha=0.12)
        drawing.add(Rect(left, axes.y0, max(right - left, 1.0), axes.h, fillColor=shade, strokeColor=None))
        xs = [s.timestamp_s for s in track.scores]
        ys = [s.fake_probability for s in track.scores]
        axes.polyline(xs, ys, colour, 0.9)
        axes.dots(xs, ys, colour)
        for key in track.key_frames:
            x, y = axes.px(key.timestamp_s), axes.py(key.fake_probability)
            drawing.add(Rect(x - 3, y - 3, 6, 6, fillColor=None, strokeColor=colour, strokeWidth=1.0))
        if index < named:
            label = f"track {track.track_id} (score {track.score:.3f})"
            drawing.add(
                Line(width - 85, legend_y + 3, width - 73, legend_y + 3, strokeColor=colour, strokeWidth=1.5)
            )
            drawing.add(String(width - 70, legend_y, label, fontName=FONT, fontSize=6.5))
            legend_y -= 11
    if named < len(tracks):
        drawing.add(
            String(width - 70, legend_y, f"{len(tracks) - named} more tracks", fontName=FONT, fontSize=6.5)
        )
        legend_y -= 11
    drawing.add(
        Line(
            width - 85,
            legend_y + 3,
            width - 73,
            legend_y + 3,
            strokeColor=colors.black,
            strokeDashArray=[3, 2],
        )
    )
    drawing.add(String(width - 70, legend_y, f"threshold {threshold:.2f}", fontName=FONT, fontSize=6.5))
    drawing.add(Rect(width - 88, legend_y - 12, 6, 6, fillColor=None, strokeColor=colors.black))
    drawing.add(String(width - 70, legend_y - 11, "key frame", fontName=FONT, fontSize=6.5))
    return drawing


def spectrum_chart(
    reference: ReferenceSpectrum,
    curves: list[tuple[str, list[float]]],
    width: float = 480,
    height: float = 170,
) -> Drawing:
    """Radial power of the given faces minus the real-face median (dB), against the 5th-95th percentile band.

    Plotted as a difference because faces differ from one another by a few dB on a curve
    that falls by 60: on the raw scale every curve looks the same.
    """
    drawing = Drawing(width, height)
    freqs = reference.frequencies
    median = reference.p50
    low_band = [a - m for a, m in zip(reference.p05, median, strict=True)]
    high_band = [a - m for a, m in zip(reference.p95, median, strict=True)]
    shifted = [(label, [v - m for v, m in zip(curve, median, strict=True)]) for label, curve in curves]
    values = [v for _, c in shifted for v in c] + low_band + high_band
    low, high = min(values) - 1, max(values) + 1
    axes = _Axes(drawing, (40, 32, width - 50 - 110, height - 42), (0.0, 0.5), (low, high))
    axes.frame([0, 0.1, 0.2, 0.3, 0.4, 0.5], _ticks(low, high, 5), "spatial frequency (cycles per pixel)",
               "dB from real-face median")  # fmt: skip
    band = [axes.px(f) for f in freqs]
    outline = [v for x, y in zip(band, high_band, strict=True) for v in (x, axes.py(y))]
    outline += [v for x, y in zip(band[::-1], low_band[::-1], strict=True) for v in (x, axes.py(y))]
    drawing.add(Polygon(outline, fillColor=colors.HexColor("#cfd8e3"), strokeColor=None))
    axes.polyline([0.0, 0.5], [0.0, 0.0], colors.HexColor("#506070"), 0.8, [3, 2])
    legend_y = axes.y0 + axes.h - 8
    drawing.add(Rect(width - 105, legend_y, 12, 6, fillColor=colors.HexColor("#cfd8e3"), strokeColor=None))
    band_label = "generic real-face band" if reference.fallback else "real faces, 5-95 %"
    drawing.add(String(width - 90, legend_y, band_label, fontName=FONT, fontSize=6.5))
    for index, (label, curve) in enumerate(shifted):
        colour = track_colour(index + 1)
        axes.polyline(freqs, curve, colour, 1.1)
        legend_y -= 11
        drawing.add(
            Line(width - 105, legend_y + 3, width - 93, legend_y + 3, strokeColor=colour, strokeWidth=1.5)
        )
        drawing.add(String(width - 90, legend_y, label, fontName=FONT, fontSize=6.5))
    return drawing


def level_weights(weights: list[float], width: float = 150, height: float = 60) -> Drawing:
    """The FAF level weights (alpha) as horizontal bars: which pyramid level the decision leaned on."""
    drawing = Drawing(width, height)
    bar_h = (height - 8) / max(len(weights), 1)
    for index, weight in enumerate(weights):
        y = height - (index + 1) * bar_h
        drawing.add(String(0, y + bar_h / 2 - 2.5, f"L{index + 1}", fontName=FONT, fontSize=7))
        drawing.add(
            Rect(
                14,
                y + 1.5,
                (width - 50) * weight,
                bar_h - 3,
                fillColor=colors.HexColor("#4a6fa5"),
                strokeColor=None,
            )
        )
        drawing.add(
            String(
                18 + (width - 50) * weight, y + bar_h / 2 - 2.5, f"{weight:.2f}", fontName=FONT, fontSize=7
            )
        )
    return drawing
