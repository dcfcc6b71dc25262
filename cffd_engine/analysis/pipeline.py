"""Decoding and detection in one thread, batched inference in the caller's: the two overlap.

A producer thread runs ``extract_faces`` (read, detect, track, crop at the
model's input size) and puts each frame with its crops on a bounded queue; the
calling thread takes crops in batches through the model and hands every
judged face back with its frame. The queue bounds memory (``queue_frames``
decoded frames at most wait), and either side stopping (cancel, error) stops
the other.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from cffd_engine.analysis.explain import to_tensor
from cffd_engine.calibration import calibrated_probability
from cffd_engine.jobs import JobControl
from cffd_engine.media.crops import FaceCrop
from cffd_engine.media.faces import FaceDetection
from cffd_engine.media.frames import Frame
from cffd_engine.media.pipeline import FaceExtraction, FaceExtractionSettings, extract_faces
from cffd_engine.media.video import MediaInfo
from cffd_engine.model import RSIANet
from cffd_engine.model.device import inference_autocast

_POLL_S = 0.1
# How long a stopped reader thread gets to notice and end; one stuck in native code past it is left behind.
_READER_GRACE_S = 10.0


@dataclass
class JudgedFace:
    """A face crop with the model's answer: calibrated P(fake) and the FAF level weights."""

    crop: FaceCrop
    fake_probability: float
    level_weights: np.ndarray


JudgedCallback = Callable[[Frame, list[JudgedFace]], None]


class SizeGate:
    """A face detector that passes on faces at least ``min_size`` pixels wide and counts the smaller ones."""

    def __init__(self, detector, min_size: int):
        self.inner = detector
        self.min_size = min_size
        self.too_small = 0
        self.name = detector.name
        self.is_fallback = bool(getattr(detector, "is_fallback", False))

    def detect(self, rgb: np.ndarray) -> list[FaceDetection]:
        faces = self.inner.detect(rgb)
        kept = [face for face in faces if min(face.box[2:]) >= self.min_size]
        self.too_small += len(faces) - len(kept)
        return kept

    def close(self) -> None:
        """The wrapped detector belongs to whoever made it; nothing to close here."""


class _Stopped(Exception):
    """The consumer is gone: the producer stops reading."""


@dataclass
class _Finished:
    extraction: FaceExtraction


@dataclass
class _Failed:
    error: BaseException


def bucket(count: int, batch_size: int) -> int:
    """The batch shape ``count`` crops are padded to: the next power of two, or ``batch_size`` itself.

    On the CPU every new input shape costs oneDNN a new set of kernels (time, and memory
    that is kept): a handful of fixed shapes instead of every count from 1 to ``batch_size``.
    """
    size = 1
    while size < count and size < batch_size:
        size *= 2
    return min(size, batch_size)


class BatchJudge:
    """Runs crops through the model in batches of fixed shapes, in the settings' ``precision``;
    P(fake) is calibrated as the bundle says."""

    def __init__(
        self,
        model: RSIANet,
        calibration: dict,
        device: torch.device,
        batch_size: int,
        precision: str = "auto",
    ):
        self.model = model
        self.calibration = calibration
        self.device = device
        self.batch_size = batch_size
        self.precision = precision
        self.seconds = 0.0  # spent in the model, for the timings

    def __call__(self, crops: list[FaceCrop]) -> list[JudgedFace]:
        started = time.perf_counter()
        judged = []
        for start in range(0, len(crops), self.batch_size):
            judged += self._judge(crops[start : start + self.batch_size])
        self.seconds += time.perf_counter() - started
        return judged

    def _judge(self, crops: list[FaceCrop]) -> list[JudgedFace]:
        images = np.stack([crop.image for crop in crops])
        padding = bucket(len(crops), self.batch_size) - len(crops)
        if padding:
            images = np.concatenate([images, np.zeros((padding, *images.shape[1:]), images.dtype)])
        batch = to_tensor(images).to(self.device, non_blocking=True)
        if self.model.config.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), inference_autocast(self.device, self.precision):
            output = self.model(batch)
        count = len(crops)
        probabilities = calibrated_probability(output.logits[:count], self.calibration).cpu().numpy()
        weights = output.level_weights[:count].float().cpu().numpy()
        return [
            JudgedFace(crop, float(p), w) for crop, p, w in zip(crops, probabilities, weights, strict=True)
        ]


def judge_video(
    path,
    extraction_settings: FaceExtractionSettings,
    detector,
    judge: BatchJudge,
    on_judged: JudgedCallback,
    batch_size: int,
    queue_frames: int,
    job: JobControl,
    on_abandoned: Callable[[], None] | None = None,
    info: MediaInfo | None = None,
) -> FaceExtraction:
    """Read, detect and crop ``path`` in a thread while ``judge`` scores batches here; returns the extraction.

    ``on_judged(frame, faces)`` is called in frame order, in this thread, for every frame
    that had faces. Raises what either side raised (``EvidenceError``, ``Cancelled``,
    ``TimedOut``, ...). This thread checks ``job`` every 0.1 s, so a deadline holds even
    while the reader is stuck in native code; such a reader is left behind (a daemon thread)
    after ``_READER_GRACE_S``, and ``on_abandoned()`` is told, since the detector it holds
    must not be used again.
    """
    frames = _FrameQueue(queue_frames)
    read = partial(
        extract_faces, path, extraction_settings, detector=detector, job=job, keep_crops=False, info=info
    )
    producer = threading.Thread(target=_read, args=(read, frames), name="cffd-analysis-reader", daemon=True)
    producer.start()
    try:
        return _judge_as_read(frames, judge, on_judged, batch_size, queue_frames, job)
    finally:
        frames.stop.set()
        producer.join(_READER_GRACE_S)
        if producer.is_alive() and on_abandoned is not None:
            on_abandoned()


class _FrameQueue:
    """The bounded queue from the reader thread to this one; ``stop`` set tells the reader to end."""

    def __init__(self, size: int):
        self.items: queue.Queue = queue.Queue(maxsize=size)
        self.stop = threading.Event()

    def put(self, item) -> None:
        """Wait for room, checking ``stop`` every ``_POLL_S``; ``_Stopped`` once it is set."""
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue
        raise _Stopped

    def on_frame(self, frame: Frame, crops: list[FaceCrop]) -> None:
        """``extract_faces``'s callback: frames with faces are queued; any frame stops a stopped reader."""
        if crops:
            self.put((frame, crops))
        elif self.stop.is_set():
            raise _Stopped


def _read(read: Callable[..., FaceExtraction], frames: _FrameQueue) -> None:
    """The reader thread: ``read`` fills the queue; its end, or what it raised, is queued last."""
    try:
        frames.put(_Finished(read(on_frame=frames.on_frame)))
    except _Stopped:
        pass
    except BaseException as exc:  # handed to the consumer, which raises it in the caller's thread
        try:
            frames.put(_Failed(exc))
        except _Stopped:
            pass


def _judge_as_read(
    frames: _FrameQueue,
    judge: BatchJudge,
    on_judged: JudgedCallback,
    batch_size: int,
    queue_frames: int,
    job: JobControl,
) -> FaceExtraction:
    """This thread's side: take frames off the queue and judge their faces in batches until the reader ends."""
    pending: list[tuple[Frame, list[FaceCrop]]] = []
    waiting = 0
    while True:
        try:
            item = frames.items.get(timeout=_POLL_S)
        except queue.Empty:
            job.check()
            continue
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, _Finished):
            _judge_pending(pending, judge, on_judged)
            return item.extraction
        pending.append(item)
        waiting += len(item[1])
        # The reader is at most ``queue_frames`` frames ahead: waiting for more than that
        # leaves the model idle while the reader refills the queue.
        if waiting >= batch_size or len(pending) >= queue_frames:
            _judge_pending(pending, judge, on_judged)
            waiting = 0
        job.check()


def _judge_pending(
    pending: list[tuple[Frame, list[FaceCrop]]], judge: BatchJudge, on_judged: JudgedCallback
) -> None:
    """Judge the faces of the waiting frames together, hand each frame its faces in order, and empty ``pending``."""
    if not pending:
        return
    judged = iter(judge([crop for _, crops in pending for crop in crops]))
    for frame, crops in pending:
        on_judged(frame, [next(judged) for _ in crops])
    pending.clear()
