"""Face tracks: the detections of one face linked across frames.

Detections in each new frame are matched to the live tracks by box overlap
(IoU) or, failing that, by how far the centre moved relative to the face's
size, one-to-one (Hungarian assignment). A track survives ``max_missed``
sampled frames without a match, so a face that is briefly missed (turned head,
motion blur) keeps its track; an unmatched detection starts a new track.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from cffd_engine.media.faces import FaceDetection

_NO_MATCH = 1e6


@dataclass
class TrackerSettings:
    """Matching rules: IoU that links outright, centre shift (in face sizes) that still links, gap allowed."""

    min_iou: float = 0.3
    max_center_shift: float = 0.6
    max_size_ratio: float = 1.6
    max_missed: int = 5

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrackedFace:
    """A detection as part of a track: which frame, when, and the detection itself."""

    frame_index: int
    timestamp_s: float
    detection: FaceDetection

    def to_dict(self) -> dict:
        return {
            "frame_index": self.frame_index,
            "timestamp_s": self.timestamp_s,
            "box": list(self.detection.box),
            "score": self.detection.score,
            "detector": self.detection.detector,
        }


@dataclass
class FaceTrack:
    """One face followed through the video; ``faces`` in frame order."""

    track_id: int
    faces: list[TrackedFace] = field(default_factory=list)
    missed: int = 0

    @property
    def first_frame(self) -> int:
        return self.faces[0].frame_index

    @property
    def last_frame(self) -> int:
        return self.faces[-1].frame_index

    @property
    def frame_indices(self) -> list[int]:
        return [face.frame_index for face in self.faces]

    @property
    def mean_score(self) -> float:
        return float(np.mean([face.detection.score for face in self.faces]))

    @property
    def mean_size(self) -> float:
        return float(np.mean([max(face.detection.box[2:]) for face in self.faces]))

    def __len__(self) -> int:
        return len(self.faces)

    def to_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "length": len(self),
            "mean_score": self.mean_score,
            "faces": [face.to_dict() for face in self.faces],
        }


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = overlap_w * overlap_h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Links detections frame by frame into tracks; feed ``update`` in frame order, then read ``tracks``."""

    def __init__(self, settings: TrackerSettings | None = None):
        self.settings = settings or TrackerSettings()
        self._live: list[FaceTrack] = []
        self._ended: list[FaceTrack] = []
        self._next_id = 0

    def _cost(self, track: FaceTrack, detection: FaceDetection) -> float:
        last = track.faces[-1].detection
        iou = box_iou(last.box, detection.box)
        size_last, size_new = max(last.box[2:]), max(detection.box[2:])
        ratio = max(size_last, size_new) / max(min(size_last, size_new), 1e-6)
        (lx, ly), (nx, ny) = last.center, detection.center
        shift = float(np.hypot(nx - lx, ny - ly)) / max((size_last + size_new) / 2, 1e-6)
        s = self.settings
        if ratio > s.max_size_ratio or (iou < s.min_iou and shift > s.max_center_shift):
            return _NO_MATCH
        return (1.0 - iou) + shift

    def update(self, frame_index: int, timestamp_s: float, detections: list[FaceDetection]) -> list[int]:
        """Add one frame's detections; returns the track id given to each detection, in order."""
        ids = [-1] * len(detections)
        matched: set[int] = set()
        if self._live and detections:
            cost = np.array([[self._cost(t, d) for d in detections] for t in self._live])
            rows, cols = linear_sum_assignment(cost)
            for row, col in zip(rows, cols, strict=True):
                if cost[row, col] < _NO_MATCH:
                    track = self._live[row]
                    track.faces.append(TrackedFace(frame_index, timestamp_s, detections[col]))
                    matched.add(row)
                    ids[col] = track.track_id
        still_live = []
        for row, track in enumerate(self._live):
            track.missed = 0 if row in matched else track.missed + 1
            if track.missed > self.settings.max_missed:
                self._ended.append(track)
            else:
                still_live.append(track)
        self._live = still_live
        for col, detection in enumerate(detections):
            if ids[col] == -1:
                track = FaceTrack(self._next_id, [TrackedFace(frame_index, timestamp_s, detection)])
                self._next_id += 1
                self._live.append(track)
                ids[col] = track.track_id
        return ids

    def tracks(self, min_length: int = 1) -> list[FaceTrack]:
        """Every track so far with at least ``min_length`` faces, by id."""
        every = sorted(self._ended + self._live, key=lambda track: track.track_id)
        return [track for track in every if len(track) >= min_length]


def track_faces(
    detections_by_frame: list[tuple[int, float, list[FaceDetection]]],
    settings: TrackerSettings | None = None,
    min_length: int = 1,
) -> list[FaceTrack]:
    """Tracks from (frame_index, timestamp_s, detections) triples given in frame order."""
    tracker = FaceTracker(settings)
    for frame_index, timestamp_s, detections in detections_by_frame:
        tracker.update(frame_index, timestamp_s, detections)
    return tracker.tracks(min_length)
