"""The frames a result is about, decoded again in the background for the frame viewer.

The analysis keeps no pixels of the frames it judged (a long video would not fit in
memory). The viewer gets them back by reading the evidence again with the result's
own frame selection, keeping the judged frames shrunk for the screen and JPEG-compressed
(a 720p frame: about 0.1 MB instead of 2.8), up to a memory budget; past it, an evenly
spread subset plus every key frame. A frame is decoded when it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.workers import Job, WorkControl, pool
from cffd_engine.analysis import AnalysisResult
from cffd_engine.media.frames import FrameReader
from cffd_engine.media.video import jpeg_picture

MAX_SIDE = 1280
MEMORY_BUDGET_BYTES = 128 << 20
JPEG_QUALITY = 90
JPEG_RATIO = 8  # raw bytes per JPEG byte, on the safe side (video frames at quality 90: 15 to 30)
MIN_FRAMES, MAX_FRAMES = 16, 2000
POOL = "frames"


def frame_budget(width: int, height: int) -> int:
    """How many frames of this size, shrunk to ``MAX_SIDE`` and compressed, fit in the memory budget."""
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    frame_bytes = max(1, int(width * scale) * int(height * scale) * 3 // JPEG_RATIO)
    return int(np.clip(MEMORY_BUDGET_BYTES // frame_bytes, MIN_FRAMES, MAX_FRAMES))


def frames_to_show(result: AnalysisResult, budget: int) -> list[int]:
    """The frame indices the viewer offers: judged frames (all key frames kept), at most ``budget``.

    Empty when no face was judged: the viewer then shows the first frame read.
    """
    judged = sorted({score.frame_index for track in result.tracks for score in track.scores})
    if len(judged) <= budget:
        return judged
    keys = {key.frame_index for key in result.key_frames()}
    room = max(budget - len(keys), 1)
    picks = np.linspace(0, len(judged) - 1, room).round().astype(int)
    return sorted(keys | {judged[i] for i in picks})


@dataclass(frozen=True)
class FramePicture:
    """Handed from the reading thread: one frame as a JPEG for the screen, and its size before reduction."""

    index: int
    jpeg: bytes
    size: tuple[int, int]  # width, height


class FrameStore(QObject):
    """Decoded frames of one result by index; ``frame_arrived(index)`` as each comes in."""

    frame_arrived = Signal(int)
    loading_failed = Signal(str)
    complete = Signal()

    def __init__(self, result: AnalysisResult, parent: QObject | None = None):
        super().__init__(parent)
        self.result = result
        media = result.media or {}
        budget = frame_budget(int(media.get("width", 1920)), int(media.get("height", 1080)))
        self.indices = frames_to_show(result, budget)
        self._pictures: dict[int, bytes] = {}  # JPEG
        self.frame_sizes: dict[int, tuple[int, int]] = {}
        self.first_index: int | None = None
        self.finished = False
        self._job: Job | None = None

    def start(self) -> None:
        """Start reading, unless reading or done already (a shown result is shown again)."""
        if self._job is not None or self.finished:
            return
        if not self.result.analysed:
            self.finished = True
            return
        self._job = Job(self._read)
        self._job.partial.connect(self._arrived)
        self._job.finished.connect(self._finish)
        self._job.failed.connect(self._fail)
        self._job.start(pool(POOL))

    def stop(self) -> None:
        if self._job is not None:
            self._job.abandon()
            self._job = None

    def _read(self, control: WorkControl) -> None:
        settings = self.result.settings
        wanted = set(self.indices)
        last = max(wanted) if wanted else None
        reader = FrameReader(
            self.result.evidence.path,
            stride=settings.stride,
            count=settings.frames,
            max_frames=settings.max_frames,
            job=control,
        )
        for frame in reader:
            if not wanted or frame.index in wanted:
                height, width = frame.rgb.shape[:2]
                control.publish(
                    FramePicture(
                        frame.index, jpeg_picture(frame.rgb, MAX_SIDE, JPEG_QUALITY), (width, height)
                    )
                )
            if last is None or frame.index >= last:
                break

    def image(self, index: int | None) -> QImage | None:
        """Frame ``index`` for the screen (None until it has been read)."""
        picture = self._pictures.get(index)
        return QImage.fromData(picture, "JPG") if picture is not None else None

    def _arrived(self, frame: FramePicture) -> None:
        self._pictures[frame.index] = frame.jpeg
        self.frame_sizes[frame.index] = frame.size
        if self.first_index is None:
            self.first_index = frame.index
        self.frame_arrived.emit(frame.index)

    def _finish(self, _result: object) -> None:
        self.finished = True
        self._job = None
        self.complete.emit()

    def _fail(self, message: str) -> None:
        self.finished = True
        self._job = None
        self.loading_failed.emit(message)
