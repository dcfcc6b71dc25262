"""Frames of an evidence file, at a stride or N evenly spaced, with their presentation times.

A video is decoded packet by packet with PyAV, so a damaged packet costs one
frame rather than the rest of the file, and a truncated file yields every frame
it still holds; ``DecodeStatus`` then says how far decoding got. An image is a
one-frame input (index 0, time 0). Frames are RGB uint8, turned upright.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.video import (
    IMAGE_SUFFIXES,
    MediaInfo,
    _damaged,
    _probe_image,
    _unreadable,
    _upright,
    open_container,
    probe,
    read_image,
)

log = logging.getLogger(__name__)

# Decoders recover from an isolated bad packet; this many in a row means the rest is unreadable.
MAX_CONSECUTIVE_ERRORS = 8


@dataclass
class Frame:
    """One decoded frame: its 0-based index in presentation order, its time from the stream start, RGB pixels."""

    index: int
    timestamp_s: float
    rgb: np.ndarray


@dataclass
class DecodeStatus:
    """How far decoding got: frames decoded and returned, and the problem that stopped it, if any."""

    path: str
    kind: str
    expected_frames: int
    expected_duration_s: float
    frames_decoded: int = 0
    frames_returned: int = 0
    last_index: int = -1
    last_timestamp_s: float = 0.0
    damaged_packets: int = 0
    complete: bool = True
    problem: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def message(self) -> str:
        """One line for a person: what was read, and why it stopped early if it did."""
        if self.kind == "image":
            return "image read"
        read = f"decoded {self.frames_decoded} frames (to {self.last_timestamp_s:.2f} s)"
        if self.complete:
            return read
        return f"{read}; {self.problem}"


def plan_indices(total_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total_frames`` (first and last included), no repeats."""
    if total_frames <= 0 or count <= 0:
        return []
    if count >= total_frames:
        return list(range(total_frames))
    return sorted({int(round(i)) for i in np.linspace(0, total_frames - 1, count)})


def count_packets(path: Path) -> int:
    """Video packets actually present in the file (no decoding); the honest frame count of a truncated file."""
    try:
        with open_container(path) as container:
            return sum(1 for packet in container.demux(video=0) if packet.size)
    except av.FFmpegError:
        return 0


def _timestamp(av_frame: av.VideoFrame, start: int | None, index: int, fps: float) -> float:
    """When a decoded frame is shown, in seconds from the stream's start; by its index when it has no time."""
    if av_frame.pts is not None and av_frame.time_base is not None:
        return float((av_frame.pts - (start or 0)) * av_frame.time_base)
    return index / fps


# Frames kept for reuse at most: past it, more frames held at once are plain copies.
FRAME_POOL_SIZE = 64


class FramePool:
    """Frame-sized arrays that are refilled once nobody holds them any more.

    Decoding allocates a few megabytes per frame, and frames are freed in another thread (the
    model's). Left to glibc, those blocks either fragment its heaps (4.7 GB on a one-minute
    crowd clip) or, with a low mmap threshold, every large allocation (the model's activations
    too) is a fresh mapping that faults in page by page: inference 1.5x slower. Reusing the
    frames' arrays avoids both. An array is refilled only when the pool's own references are
    the only ones left (a frame, a view or a crop of it held anywhere keeps it), so a frame
    someone holds is never overwritten; the pool grows to the most frames held at once.
    """

    def __init__(self, size: int = FRAME_POOL_SIZE):
        self.size = size
        self._arrays: list[np.ndarray] = []
        for array in [np.empty(0)]:  # the count an array only a list holds shows in the loop below
            self._unheld = sys.getrefcount(array)

    def copy(self, image: np.ndarray) -> np.ndarray:
        """``image``'s pixels in a pooled array that nobody else holds."""
        for array in self._arrays:
            if array.shape == image.shape and sys.getrefcount(array) == self._unheld:
                np.copyto(array, image)
                return array
        array = np.array(image, copy=True, order="C")
        if len(self._arrays) < self.size:
            self._arrays.append(array)
        return array


class FrameReader:
    """Iterates the frames of one video or image; ``status`` tells how far it got.

    ``stride`` keeps every stride-th frame; ``count`` (if given) instead keeps that
    many frames evenly spaced over the frames actually present in the file;
    ``max_frames`` caps what is returned. Opening raises ``EvidenceError`` for a
    file that cannot be read at all; damage found while decoding ends the
    iteration early and is recorded in ``status`` (and logged), never raised.
    """

    def __init__(
        self,
        path: Path | str,
        stride: int = 1,
        count: int | None = None,
        max_frames: int | None = None,
        job: JobControl | None = None,
        info: MediaInfo | None = None,
    ):
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self._still: np.ndarray | None = None
        if Path(path).suffix.lower() in IMAGE_SUFFIXES:
            self._still = read_image(path)  # read once: it is both the probe and the only frame
            self.info: MediaInfo = _probe_image(Path(path), self._still)
        else:
            self.info = info if info is not None else probe(path)
        self.path = Path(self.info.path)
        self.stride = stride
        self.count = count
        self.max_frames = max_frames
        self._job = ensure_job(job)
        self.status = DecodeStatus(
            path=str(self.path),
            kind=self.info.kind,
            expected_frames=self.info.frame_count,
            expected_duration_s=self.info.duration_s,
        )

    def __iter__(self) -> Iterator[Frame]:
        if self.info.kind == "image":
            yield from self._image()
        else:
            yield from self._video()

    def _image(self) -> Iterator[Frame]:
        frame = Frame(index=0, timestamp_s=0.0, rgb=self._still)
        self.status.frames_decoded = self.status.frames_returned = 1
        self.status.last_index = 0
        yield frame

    def _wanted(self) -> tuple[set[int] | None, int | None]:
        """The planned indices (None: every stride-th) and the index after which reading can stop."""
        if self.count is None:
            return None, None
        # The container's count may promise frames a truncated file no longer holds.
        present = count_packets(self.path) or self.info.frame_count
        planned = plan_indices(present, self.count)
        return set(planned), (planned[-1] if planned else -1)

    def _video(self) -> Iterator[Frame]:
        wanted, last_wanted = self._wanted()
        status, job = self.status, self._job
        expected = max(self.info.frame_count, 1)
        try:
            container = open_container(self.path)
        except av.FFmpegError as exc:
            raise _unreadable(self.path, exc) from exc
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = self.info.fps or 25.0
            start = stream.start_time if stream.start_time is not None else None
            index = -1
            pool = FramePool()
            errors_in_row = 0
            done = False
            for packet in container.demux(stream):
                job.check()  # also between kept frames: a long stride decodes many frames unseen
                try:
                    decoded = packet.decode()
                    errors_in_row = 0
                except av.FFmpegError as exc:
                    status.damaged_packets += 1
                    errors_in_row += 1
                    if errors_in_row >= MAX_CONSECUTIVE_ERRORS:
                        self._stop(f"decoding failed from frame {index + 1} on ({exc.__class__.__name__})")
                        break
                    continue
                for av_frame in decoded:
                    index += 1
                    status.frames_decoded += 1
                    if start is None and av_frame.pts is not None:
                        start = av_frame.pts
                    timestamp = _timestamp(av_frame, start, index, fps)
                    status.last_index, status.last_timestamp_s = index, timestamp
                    keep = index in wanted if wanted is not None else index % self.stride == 0
                    if keep:
                        rgb = pool.copy(
                            _upright(
                                av_frame.to_ndarray(format="rgb24"),
                                int(getattr(av_frame, "rotation", 0) or 0),
                            )
                        )
                        status.frames_returned += 1
                        yield Frame(index=index, timestamp_s=timestamp, rgb=rgb)
                        job.report(min(index + 1, expected) / expected, "reading frames")
                        job.check()
                    if (self.max_frames is not None and status.frames_returned >= self.max_frames) or (
                        last_wanted is not None and index >= last_wanted
                    ):
                        done = True
                        break
                if done:
                    break
            else:
                self._check_length()
        self._conclude()

    def _conclude(self) -> None:
        """After reading: no decodable frame at all is an error; skipped packets are noted, an incomplete read logged."""
        status = self.status
        if status.frames_decoded == 0:
            raise _damaged(self.path, "it contains no decodable frame")
        if status.damaged_packets and status.complete:
            status.problem = f"{status.damaged_packets} damaged packet(s) were skipped"
        if not status.complete:
            log.warning("%s: %s", self.path, status.message)

    def _check_length(self) -> None:
        """After the last packet: flag a stream that ends well before its container said it would."""
        status = self.status
        missing = status.expected_frames - status.frames_decoded
        if status.expected_frames and missing > max(2, status.expected_frames // 100):
            self._stop(
                f"the stream ends after {status.frames_decoded} of {status.expected_frames} frames "
                f"({status.last_timestamp_s:.2f} of {status.expected_duration_s:.2f} s): the file is truncated"
            )

    def _stop(self, problem: str) -> None:
        self.status.complete = False
        self.status.problem = problem


def iter_frames(
    path: Path | str,
    stride: int = 1,
    count: int | None = None,
    max_frames: int | None = None,
    job: JobControl | None = None,
) -> FrameReader:
    """A ``FrameReader`` over ``path``: iterate it for frames, then read its ``status``."""
    return FrameReader(path, stride=stride, count=count, max_frames=max_frames, job=job)


def read_frames(
    path: Path | str,
    stride: int = 1,
    count: int | None = None,
    max_frames: int | None = None,
    job: JobControl | None = None,
) -> tuple[list[Frame], DecodeStatus]:
    """All selected frames in memory, with the decode status; raises EvidenceError only if nothing is readable."""
    reader = FrameReader(path, stride=stride, count=count, max_frames=max_frames, job=job)
    frames = list(reader)
    return frames, reader.status
