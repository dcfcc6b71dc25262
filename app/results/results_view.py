"""One result, explained: verdict card, frame viewer, timeline, spectrum and level weights, kept in step."""

from __future__ import annotations

import bisect

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.images import heat_to_image
from app.results.frame_store import FrameStore
from app.results.frame_viewer import FaceBox, FrameViewer
from app.results.level_weights import LevelWeights
from app.results.spectrum_panel import SpectrumPanel
from app.results.timeline import Timeline
from app.results.verdict_card import VerdictCard
from app.theme import FAKE_BOX, REAL_BOX
from cffd_engine.analysis import AnalysisResult, FrameScore, KeyFrame
from cffd_engine.media.crops import CropGeometry

NO_HEAT_NOTE = (
    "No heatmap on this frame: Grad-CAM heatmaps are computed for the key frames only "
    "(stars on the timeline; Page Up / Page Down jump between them)."
)


def heat_on_frame(keys: list[KeyFrame]) -> np.ndarray:
    """The key frames' Grad-CAM maps laid back on their frame (the hottest wins where faces overlap)."""
    maps = [
        CropGeometry.from_dict(key.crop_geometry).heatmap_to_frame(np.asarray(key.heatmap)) for key in keys
    ]
    return np.maximum.reduce(maps)


class ResultsView(QWidget):
    """Shows one ``AnalysisResult`` with its ``FrameStore``; arrows, Home/End and PgUp/PgDn move between frames."""

    frame_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.verdict_card = VerdictCard()
        self.frame_viewer = FrameViewer()
        self.timeline = Timeline()
        self.spectrum_panel = SpectrumPanel()
        self.level_weights = LevelWeights()
        # Scrolls rather than squeezes on a small screen: squeezed below their minimum, the panels overlap.
        side_panels = QWidget()
        side_layout = QVBoxLayout(side_panels)
        side_layout.setContentsMargins(0, 0, 4, 0)
        side_layout.addWidget(self.spectrum_panel)
        side_layout.addWidget(self.level_weights)
        side_layout.addStretch(1)
        side = QScrollArea()
        side.setWidget(side_panels)
        side.setWidgetResizable(True)
        side.setFrameShape(QFrame.Shape.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(self.frame_viewer)
        middle.addWidget(side)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(middle)
        body.addWidget(self.timeline)
        body.setStretchFactor(0, 4)
        body.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict_card)
        layout.addWidget(body, stretch=1)

        self.timeline.seek.connect(self.show_frame)
        self.frame_viewer.step.connect(self.step)
        self.verdict_card.track_selected.connect(self._select_track)
        for key, action in (
            (Qt.Key.Key_Right, lambda: self.step(1)),
            (Qt.Key.Key_Left, lambda: self.step(-1)),
            (Qt.Key.Key_Home, lambda: self._go(0)),
            (Qt.Key.Key_End, lambda: self._go(len(self.indices) - 1)),
            (Qt.Key.Key_PageDown, lambda: self.step_key(1)),
            (Qt.Key.Key_PageUp, lambda: self.step_key(-1)),
            (Qt.Key.Key_H, self.frame_viewer.overlay_check.toggle),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.result: AnalysisResult | None = None
        self.frames: FrameStore | None = None
        self.indices: list[int] = []
        self.current_index: int | None = None
        self.track_id: int | None = None
        self._scores: dict[int, list[FrameScore]] = {}
        self._keys: dict[int, list[KeyFrame]] = {}
        self._heat: tuple[int, QImage] | None = None

    def show_result(self, result: AnalysisResult, frames: FrameStore) -> None:
        if self.frames is not None:
            self.frames.frame_arrived.disconnect(self._frame_arrived)
        self.result, self.frames, self._heat = result, frames, None
        self._scores, self._keys = {}, {}
        for track in result.tracks:
            for score in track.scores:
                self._scores.setdefault(score.frame_index, []).append(score)
            for key in track.key_frames:
                self._keys.setdefault(key.frame_index, []).append(key)
        self.indices = list(frames.indices)
        self.track_id = result.deciding_track
        frames.frame_arrived.connect(self._frame_arrived)
        self.timeline.set_result(result)
        self.verdict_card.show_result(result)
        self.current_index = None
        if not result.analysed:
            self.frame_viewer.show_message("The evidence could not be analysed; see the reason above.")
            self.spectrum_panel.show_key(None, None)
            self.level_weights.show_weights(None, None)
            return
        keys = result.key_frames()
        start = keys[0].frame_index if keys else (self.indices[0] if self.indices else frames.first_index)
        self.show_frame(start)

    def show_frame(self, index: int | None) -> None:
        """Show judged frame ``index`` (or, without judged frames, the first frame read)."""
        if self.result is None or self.frames is None:
            return
        self.current_index = index
        frames, scores = self.frames, self._scores.get(index, [])
        threshold = self.result.threshold
        faces = [
            FaceBox(
                score.box,
                f"track {score.track_id} · P(fake) {score.fake_probability:.2f}",
                FAKE_BOX if score.fake_probability >= threshold else REAL_BOX,
            )
            for score in scores
        ]
        keys = self._keys.get(index, [])
        heat = self._heat_image(index, keys) if keys else None
        key_size = tuple(keys[0].crop_geometry["frame_size"]) if keys else None
        size = frames.frame_sizes.get(index) or key_size or self._media_size()
        seconds = scores[0].timestamp_s if scores else 0.0
        self.frame_viewer.show_frame(
            frames.images.get(index), size, faces, heat, self._position(index, seconds), self._note(keys)
        )
        self.timeline.show_time(seconds)
        self._show_spectrum(index, keys)
        self._show_weights(scores)
        if index is not None:
            self.frame_changed.emit(index)

    def _media_size(self) -> tuple[int, int]:
        media = self.result.media or {}
        return int(media.get("width", 0)), int(media.get("height", 0))

    def _position(self, index: int | None, seconds: float) -> str:
        if index is None or index not in self.indices:
            return "first frame (no face judged)"
        return f"frame {index} · {seconds:.2f} s · {self.indices.index(index) + 1} of {len(self.indices)}"

    def _note(self, keys: list[KeyFrame]) -> str:
        if not self.result.tracks:
            return self.result.not_applicable.reason if self.result.not_applicable else ""
        if not keys:
            return NO_HEAT_NOTE
        where = ", ".join(
            f"track {key.track_id}: strongest point "
            + (
                "inside the face box"
                if key.peak_in_box
                else "outside the face box (not evidence of a change)"
            )
            for key in keys
        )
        return f"Key frame. Grad-CAM heatmap of where the evidence for 'manipulated' lies ({where})."

    def _heat_image(self, index: int, keys: list[KeyFrame]) -> QImage:
        if self._heat is None or self._heat[0] != index:
            self._heat = (index, heat_to_image(heat_on_frame(keys)))
        return self._heat[1]

    def _show_spectrum(self, index: int | None, keys: list[KeyFrame]) -> None:
        key = next((k for k in keys if k.track_id == self.track_id), keys[0] if keys else None)
        if key is None and self.track_id is not None:
            track_keys = self.result.track(self.track_id).key_frames
            if track_keys and index is not None:
                key = min(track_keys, key=lambda k: abs(k.frame_index - index))
        where = f"face track {key.track_id} at {key.timestamp_s:.2f} s" if key else ""
        if key is not None and key.frame_index != index:
            where += " (nearest key frame)"
        self.spectrum_panel.show_key(key, self.result.spectrum_reference, where)

    def _show_weights(self, scores: list[FrameScore]) -> None:
        score = next((s for s in scores if s.track_id == self.track_id), scores[0] if scores else None)
        track_id = score.track_id if score else self.track_id
        mean = self.result.track(track_id).mean_level_weights if track_id is not None else None
        self.level_weights.show_weights(score.level_weights if score else None, mean)

    def step(self, delta: int) -> None:
        if not self.indices:
            return
        if self.current_index not in self.indices:
            self._go(0)
            return
        self._go(self.indices.index(self.current_index) + delta)

    def step_key(self, delta: int) -> None:
        """To the next (``delta`` 1) or previous (-1) key frame in time."""
        keys = sorted(self._keys)
        if not keys:
            return
        current = self.current_index if self.current_index is not None else -1
        if delta > 0:
            position = bisect.bisect_right(keys, current)
            target = keys[position] if position < len(keys) else keys[-1]
        else:
            position = bisect.bisect_left(keys, current) - 1
            target = keys[max(position, 0)]
        self.show_frame(target)

    def _go(self, position: int) -> None:
        if self.indices:
            self.show_frame(self.indices[int(np.clip(position, 0, len(self.indices) - 1))])

    def _select_track(self, track_id: int) -> None:
        self.track_id = track_id
        if self.current_index is not None:
            self.show_frame(self.current_index)

    def _frame_arrived(self, index: int) -> None:
        if index == self.current_index or (self.current_index is None and not self.indices):
            self.show_frame(index)
