"""From an evidence file to face tracks and face crops: read, detect, track, crop (and landmarks if asked).

``extract_faces`` is the one call the analysis and the preprocessing share.
"No face found" is a result (``FaceExtraction.no_face`` with a reason), not an
exception; a truncated video gives the faces of the frames it still holds and
says in ``decode`` how far it got.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.crops import DEFAULT_SCALE, DEFAULT_SIZE, FaceCrop, crop_face
from cffd_engine.media.detectors import DetectorSettings, create_face_detector
from cffd_engine.media.faces import FaceDetector, FaceLandmarker
from cffd_engine.media.frames import DecodeStatus, Frame, FrameReader
from cffd_engine.media.tracking import FaceTrack, FaceTracker, TrackerSettings
from cffd_engine.media.video import MediaInfo

FrameCallback = Callable[[Frame, list[FaceCrop]], None]


@dataclass
class FaceExtractionSettings:
    """Which frames (every ``stride``-th, or ``frames`` evenly spaced), how to crop, detect and track."""

    stride: int = 1
    frames: int | None = None
    max_frames: int | None = None
    crop_size: int = DEFAULT_SIZE
    crop_scale: float = DEFAULT_SCALE
    align: bool = False
    landmarks: bool = False
    max_faces_per_frame: int = 8
    min_track_length: int = 1
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)

    def frame_reader(self, path: Path | str, job: JobControl, info: MediaInfo | None = None) -> FrameReader:
        """The frames of ``path`` these settings pick, read as they are asked for."""
        return FrameReader(
            path, stride=self.stride, count=self.frames, max_frames=self.max_frames, job=job, info=info
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FaceExtractionSettings:
        data = dict(data)
        data["detector"] = DetectorSettings(**data.get("detector", {}))
        data["tracker"] = TrackerSettings(**data.get("tracker", {}))
        return cls(**data)


@dataclass
class FaceExtraction:
    """What one file gave: its metadata, how far decoding got, which detector ran, the tracks and crops."""

    path: str
    media: MediaInfo
    decode: DecodeStatus
    detector: str
    detector_fallback: bool
    frames_read: int
    frames_with_faces: int
    tracks: list[FaceTrack]
    crops: list[FaceCrop]
    settings: FaceExtractionSettings

    @property
    def no_face(self) -> bool:
        return not self.tracks

    @property
    def not_applicable(self) -> str | None:
        """Why there is nothing to judge, in words, or None when faces were found."""
        if not self.no_face:
            return None
        return f"no face found in the {self.frames_read} frame(s) read (detector {self.detector})"

    def crops_of(self, track_id: int) -> list[FaceCrop]:
        return [crop for crop in self.crops if crop.track_id == track_id]

    def to_dict(self) -> dict:
        """Everything but pixels, JSON-ready."""
        return {
            "path": self.path,
            "media": self.media.to_dict(),
            "decode": self.decode.to_dict(),
            "detector": self.detector,
            "detector_fallback": self.detector_fallback,
            "frames_read": self.frames_read,
            "frames_with_faces": self.frames_with_faces,
            "not_applicable": self.not_applicable,
            "tracks": [track.to_dict() for track in self.tracks],
            "crops": [crop.to_dict() for crop in self.crops],
            "settings": self.settings.to_dict(),
        }


def extract_faces(
    path: Path | str,
    settings: FaceExtractionSettings | None = None,
    detector: FaceDetector | None = None,
    landmarker: FaceLandmarker | None = None,
    job: JobControl | None = None,
    on_frame: FrameCallback | None = None,
    keep_crops: bool = True,
    info: MediaInfo | None = None,
) -> FaceExtraction:
    """Read ``path``, detect and track faces, crop every tracked face; see ``FaceExtraction``.

    Pass ``detector`` (and ``landmarker``) to reuse them across files; else they
    are made from ``settings`` and closed here. ``on_frame(frame, crops)`` sees
    each frame's crops as they are made; with ``keep_crops=False`` the result
    holds no pixels (long videos). Raises EvidenceError if the file cannot be
    read at all, AssetError if no detector can be had. ``info``: the file's probe, when the caller
    has it already (each evidence file is probed once).
    """
    settings = settings or FaceExtractionSettings()
    job = ensure_job(job)
    reader = settings.frame_reader(path, job, info)
    own_detector = detector is None
    detector = detector or create_face_detector(settings.detector)
    own_landmarker = settings.landmarks and landmarker is None
    tracker = FaceTracker(settings.tracker)
    crops: list[FaceCrop] = []
    frames_read = frames_with_faces = 0
    try:
        if own_landmarker:
            landmarker = FaceLandmarker(max_faces=1, detector=detector)
        for frame in reader:
            frames_read += 1
            frame_crops = _faces_of_frame(frame, detector, tracker, settings, landmarker)
            frames_with_faces += bool(frame_crops)
            if on_frame is not None:
                on_frame(frame, frame_crops)
            if keep_crops:
                crops.extend(frame_crops)
    finally:
        if own_landmarker and landmarker is not None:
            landmarker.close()
        name, fallback = detector.name, bool(getattr(detector, "is_fallback", False))
        if own_detector:
            detector.close()
    tracks = tracker.tracks(settings.min_track_length)
    kept = {track.track_id for track in tracks}
    return FaceExtraction(
        path=str(reader.path),
        media=reader.info,
        decode=reader.status,
        detector=name,
        detector_fallback=fallback,
        frames_read=frames_read,
        frames_with_faces=frames_with_faces,
        tracks=tracks,
        crops=[crop for crop in crops if crop.track_id in kept],
        settings=settings,
    )


def _faces_of_frame(
    frame: Frame,
    detector: FaceDetector,
    tracker: FaceTracker,
    settings: FaceExtractionSettings,
    landmarker: FaceLandmarker | None,
) -> list[FaceCrop]:
    """The faces of ``frame`` (at most ``max_faces_per_frame``) linked to their tracks and cropped, one crop
    per face, with landmarks when the settings ask for them."""
    faces = detector.detect(frame.rgb)[: settings.max_faces_per_frame]
    track_ids = tracker.update(frame.index, frame.timestamp_s, faces)
    crops = []
    for face, track_id in zip(faces, track_ids, strict=True):
        crop = crop_face(
            frame.rgb,
            face,
            size=settings.crop_size,
            scale=settings.crop_scale,
            align=settings.align,
            frame_index=frame.index,
            timestamp_s=frame.timestamp_s,
            track_id=track_id,
        )
        if settings.landmarks and landmarker is not None:
            found = landmarker.landmarks(frame.rgb, faces=[face])
            crop.landmarks = found[0] if found else None
        crops.append(crop)
    return crops


def main_track(extraction: FaceExtraction) -> FaceTrack | None:
    """The track most present in the video (ties: the larger face), or None when there is no face."""
    if not extraction.tracks:
        return None
    return max(extraction.tracks, key=lambda track: (len(track), track.mean_size, -track.track_id))
