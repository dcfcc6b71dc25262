"""One result, explained: verdict card, frame viewer, timeline, spectrum and level weights, kept in step."""

from __future__ import annotations

import bisect

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.images import heat_to_image
from app.results.frame_store import FrameStore
from app.results.frame_viewer import FaceBox, FrameViewer
from app.results.heatmaps import Heatmaps, heat_key
from app.results.level_weights import LevelWeights
from app.results.spectrum_panel import SpectrumPanel
from app.results.timeline import Timeline
from app.results.verdict_card import VerdictCard
from app.theme import FAKE_BOX, REAL_BOX
from cffd_engine.analysis import AnalysisResult, FrameScore, KeyFrame
from cffd_engine.media.crops import CropGeometry
from cffd_engine.store import ModelStore

HEAT_DELAY_MS = 300  # a heatmap is computed for the frame the analyst stops on, not each one passed


def peak_words(track_id: int, peak_in_box: bool) -> str:
    where = "inside the face box" if peak_in_box else "outside the face box (not evidence of a change)"
    return f"track {track_id}: strongest point {where}"


class ResultsView(QWidget):
    """Shows one ``AnalysisResult`` with its ``FrameStore``, following the face track selected in the verdict card.

    The deciding track is selected when a result is shown. The frame viewer steps through the
    selected track's judged frames (arrows, Home/End; Page Up/Down: its key frames) and draws its
    box bold; the timeline, the spectrum and the level weights show that track. A frame without a
    key-frame heatmap gets one computed in the background once the analyst stops on it.
    """

    frame_changed = Signal(int)

    def __init__(self, store: ModelStore | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.verdict_card = VerdictCard()
        self.frame_viewer = FrameViewer()
        self.timeline = Timeline()
        self.spectrum_panel = SpectrumPanel()
        self.level_weights = LevelWeights()
        self.heatmaps = Heatmaps(store, self)
        self._build_layout()
        self._connect()
        self._add_shortcuts()

        self.result: AnalysisResult | None = None
        self.frames: FrameStore | None = None
        self.indices: list[int] = []  # the selected track's judged frames the viewer can show
        self.current_index: int | None = None
        self.track_id: int | None = None
        self._scores: dict[int, list[FrameScore]] = {}  # every judged face, by frame
        self._track_scores: dict[int, FrameScore] = {}  # the selected track's, by frame
        self._track_keys: dict[int, KeyFrame] = {}
        self._heat: tuple[tuple[int, int], QImage] | None = None
        self._heat_problem: str | None = None  # why no heatmap can be computed for this result
        self._heat_failure: tuple[tuple, str] | None = None

    def _build_layout(self) -> None:
        """The verdict card over the frame viewer (beside its side panels) and the timeline."""
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

    def _connect(self) -> None:
        """Heatmaps after a pause on a frame; the timeline, viewer and card move the frame and track."""
        self._heat_timer = QTimer(self)
        self._heat_timer.setSingleShot(True)
        self._heat_timer.setInterval(HEAT_DELAY_MS)
        self._heat_timer.timeout.connect(self._request_heat)
        self.heatmaps.ready.connect(self._heat_arrived)
        self.heatmaps.failed.connect(self._heat_failed)
        self.timeline.seek.connect(self.show_frame)
        self.timeline.track_picked.connect(self.verdict_card.select_track)
        self.frame_viewer.step.connect(self.step)
        self.verdict_card.track_selected.connect(self._select_track)

    def _add_shortcuts(self) -> None:
        """Arrow keys step through frames, Home/End go to the ends, Page keys to key frames, H the overlay."""
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

    def show_result(self, result: AnalysisResult, frames: FrameStore) -> None:
        if self.frames is not None:
            self.frames.frame_arrived.disconnect(self._frame_arrived)
        self._heat_timer.stop()
        self.heatmaps.cancel()
        self.result, self.frames, self._heat, self._heat_failure = result, frames, None, None
        self._scores = {}
        for track in result.tracks:
            for score in track.scores:
                self._scores.setdefault(score.frame_index, []).append(score)
        self._heat_problem = self.heatmaps.missing_model(result) if result.tracks else None
        self.indices, self.current_index, self.track_id = [], None, None
        self._track_scores, self._track_keys = {}, {}
        frames.frame_arrived.connect(self._frame_arrived)
        self.timeline.set_result(result)
        self.verdict_card.show_result(result)  # selects the deciding track
        if not result.analysed:
            self.frame_viewer.show_message("The evidence could not be analysed; see the reason above.")
            self.spectrum_panel.show_key(None, None)
            self.level_weights.show_weights(None, None)
            return
        if result.tracks:
            self._select_track(self.verdict_card.selected_track())
        else:
            self.show_frame(frames.first_index)

    def _select_track(self, track_id: int | None) -> None:
        """Follow face track ``track_id``: its frames, box, curve, heatmaps, spectrum and weights."""
        if self.result is None or track_id is None or track_id == self.track_id:
            return
        track = self.result.track(track_id)
        offered = set(self.frames.indices)
        self.track_id = track_id
        self.indices = [score.frame_index for score in track.scores if score.frame_index in offered]
        self._track_scores = {score.frame_index: score for score in track.scores}
        self._track_keys = {key.frame_index: key for key in track.key_frames}
        self.timeline.emphasise(track_id)
        self.show_frame(self._start_frame(track.key_frames))

    def _start_frame(self, keys: list[KeyFrame]) -> int | None:
        """Where to go in the newly selected track: here if it is on this frame, else the nearest of its frames.

        A result opens on the track's most suspicious key frame.
        """
        if not self.indices or self.current_index in self.indices:
            return self.current_index
        if self.current_index is None:
            return keys[0].frame_index if keys else self.indices[0]
        here = self._time_of(self.current_index)
        return min(self.indices, key=lambda index: abs(self._track_scores[index].timestamp_s - here))

    def _time_of(self, index: int) -> float:
        scores = self._scores.get(index)
        return scores[0].timestamp_s if scores else 0.0

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
                emphasised=score.track_id == self.track_id,
            )
            for score in scores
        ]
        selected = self._track_scores.get(index)
        heat, note = self._heat_and_note(index, selected)
        key = self._track_keys.get(index)
        key_size = tuple(key.crop_geometry["frame_size"]) if key else None
        size = frames.frame_sizes.get(index) or key_size or self._media_size()
        seconds = selected.timestamp_s if selected else self._time_of(index)
        self.frame_viewer.show_frame(
            frames.image(index), size, faces, heat, self._position(index, seconds), note
        )
        self.timeline.show_time(seconds)
        self._show_spectrum(index)
        self._show_weights(selected)
        if index is not None:
            self.frame_changed.emit(index)

    def _media_size(self) -> tuple[int, int]:
        media = self.result.media or {}
        return int(media.get("width", 0)), int(media.get("height", 0))

    def _position(self, index: int | None, seconds: float) -> str:
        if index is None or index not in self.indices:
            return "first frame (no face judged)"
        return (
            f"track {self.track_id} · frame {index} · {seconds:.2f} s · "
            f"{self.indices.index(index) + 1} of {len(self.indices)}"
        )

    def _heat_and_note(self, index: int | None, score: FrameScore | None) -> tuple[QImage | None, str]:
        """The selected track's heatmap on this frame (key frame, computed, or asked for) and the note under it."""
        self._heat_timer.stop()
        if not self.result.tracks:
            return None, self.result.not_applicable.reason if self.result.not_applicable else ""
        if score is None:
            return None, ""
        key = self._track_keys.get(index)
        if key is not None:
            heat = CropGeometry.from_dict(key.crop_geometry).heatmap_to_frame(np.asarray(key.heatmap))
            return self._heat_image(index, heat), (
                "Key frame. Grad-CAM heatmap of where the evidence for 'manipulated' lies "
                f"({peak_words(key.track_id, key.peak_in_box)})."
            )
        wanted = heat_key(self.result, self.track_id, index)
        self.heatmaps.cancel(keep=wanted)
        computed = self.heatmaps.cached(self.result, self.track_id, index)
        if computed is not None:
            heat = computed.geometry.heatmap_to_frame(computed.heatmap)
            return self._heat_image(index, heat), (
                "Grad-CAM heatmap computed for this frame, as for the key frames "
                f"({peak_words(self.track_id, computed.peak_in_box)})."
            )
        if self._heat_problem is not None:
            return None, self._heat_problem
        if self._heat_failure is not None and self._heat_failure[0] == wanted:
            return None, f"No heatmap on this frame: {self._heat_failure[1]}"
        self._heat_timer.start()
        return None, f"Computing heatmap for track {self.track_id} on this frame..."

    def _heat_image(self, index: int, heat: np.ndarray) -> QImage:
        if self._heat is None or self._heat[0] != (self.track_id, index):
            self._heat = ((self.track_id, index), heat_to_image(heat))
        return self._heat[1]

    def _request_heat(self) -> None:
        score = self._track_scores.get(self.current_index)
        if self.result is not None and score is not None:
            self.heatmaps.request(self.result, score)

    def _heat_arrived(self, key: tuple) -> None:
        if self.result is not None and key == heat_key(self.result, self.track_id, self.current_index):
            self.show_frame(self.current_index)

    def _heat_failed(self, key: tuple, message: str) -> None:
        self._heat_failure = (key, message)
        self._heat_arrived(key)

    def _show_spectrum(self, index: int | None) -> None:
        """The selected track's key frame here, else its key frame nearest in time."""
        keys = list(self._track_keys.values())
        key = None
        if keys and index is not None:
            key = self._track_keys.get(index) or min(keys, key=lambda k: abs(k.frame_index - index))
        where = f"face track {key.track_id} at {key.timestamp_s:.2f} s" if key else ""
        if key is not None and key.frame_index != index:
            where += " (nearest key frame)"
        self.spectrum_panel.show_key(key, self.result.spectrum_reference, where)

    def _show_weights(self, score: FrameScore | None) -> None:
        mean = self.result.track(self.track_id).mean_level_weights if self.track_id is not None else None
        self.level_weights.show_weights(score.level_weights if score else None, mean, self.track_id)

    def step(self, delta: int) -> None:
        if not self.indices:
            return
        if self.current_index not in self.indices:
            self._go(0)
            return
        self._go(self.indices.index(self.current_index) + delta)

    def step_key(self, delta: int) -> None:
        """To the selected track's next (``delta`` 1) or previous (-1) key frame in time."""
        keys = sorted(self._track_keys)
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

    def _frame_arrived(self, index: int) -> None:
        if index == self.current_index or (self.current_index is None and not self.indices):
            self.show_frame(index)

    def close_jobs(self) -> None:
        self._heat_timer.stop()
        self.heatmaps.cancel()
