"""What an analysis does: which frames, which detector, which device, how many key frames to explain.

``AnalysisSettings`` is recorded whole in every result, and ``to_cli_args``
gives the ``cffd analyze`` options that reproduce it, so a second examiner can
run the same analysis from the report alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from cffd_engine.media.crops import DEFAULT_SCALE
from cffd_engine.media.detectors import DETECTOR_MODELS, DetectorSettings
from cffd_engine.media.tracking import TrackerSettings
from cffd_engine.video_rule import WINDOW_S

# "auto": bfloat16 where the CPU computes it natively (see ``model.device.inference_dtype``).
PRECISIONS = ("auto", "float32")


@dataclass
class AnalysisSettings:
    """Every choice that shapes a result; defaults are what ``cffd analyze`` uses without options.

        Frames: every ``stride``-th frame, or ``frames`` evenly spaced (then ``stride`` is ignored),
        at most ``max_frames``. ``detector.min_face_size`` is the smallest face judged: smaller
        faces are counted and reported, never scored. ``cpu_threads`` None means every core, one fewer
        when ``leave_core_free`` (the GUI asks for it). ``precision`` "auto" runs the model in bfloat16
        on a CPU that computes it natively (about 1.3 times the speed; on the real-video check, frame
        probabilities within 0.05 of float32, video scores within 0.012, the same verdicts), "float32"
        always in float32.
        A track needs ``min_track_faces`` faces to decide the video's verdict (all tracks count when
        none has that many). ``explain_top_k`` key frames per track get Grad-CAM and spectra, taken at
    spatial-backbone level ``cam_level`` (1..4; None: the deepest level whose map is at least 8 x 8).
        Decoding, detection and scoring of one file may take ``time_limit_s`` seconds per minute of
        video (a minute at least; an image counts as one), else the file is reported as timed out
        and the batch goes on; None: no limit.
    """

    stride: int = 1
    frames: int | None = None
    max_frames: int | None = None
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 32
    cpu_threads: int | None = None
    leave_core_free: bool = False
    queue_frames: int = 16
    crop_scale: float = DEFAULT_SCALE
    max_faces_per_frame: int = 8
    min_track_faces: int = 3
    window_s: float = WINDOW_S
    window_min_faces: int = 5
    explain: bool = True
    explain_top_k: int = 3
    cam_level: int | None = None
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    time_limit_s: float | None = 300.0

    def __post_init__(self) -> None:
        positive = {
            "stride": self.stride,
            "batch_size": self.batch_size,
            "queue_frames": self.queue_frames,
            "max_faces_per_frame": self.max_faces_per_frame,
            "min_track_faces": self.min_track_faces,
            "window_min_faces": self.window_min_faces,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"AnalysisSettings.{name} must be at least 1, got {value}")
        for name in ("frames", "max_frames", "cpu_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"AnalysisSettings.{name} must be at least 1 (or unset), got {value}")
        if self.explain_top_k < 0:
            raise ValueError(f"AnalysisSettings.explain_top_k must be >= 0, got {self.explain_top_k}")
        if self.cam_level not in (None, 1, 2, 3, 4):
            raise ValueError(f"AnalysisSettings.cam_level must be a level 1..4, got {self.cam_level}")
        if self.window_s < 0:
            raise ValueError(f"AnalysisSettings.window_s must be >= 0, got {self.window_s}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"AnalysisSettings.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.crop_scale <= 0:
            raise ValueError(f"AnalysisSettings.crop_scale must be positive, got {self.crop_scale}")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError(
                f"AnalysisSettings.time_limit_s must be positive (or unset), got {self.time_limit_s}"
            )

    def time_limit(self, duration_s: float) -> float | None:
        """Seconds one file of ``duration_s`` seconds may take to decode, detect and score (None: no limit)."""
        if self.time_limit_s is None:
            return None
        return self.time_limit_s * max(1.0, duration_s / 60.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AnalysisSettings:
        """Settings from ``to_dict`` output; unknown keys are an error, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown analysis setting(s) {unknown}")
        data = dict(data)
        data["detector"] = DetectorSettings(**data.get("detector", {}))
        data["tracker"] = TrackerSettings(**data.get("tracker", {}))
        return cls(**data)

    def to_cli_args(self) -> list[str]:
        """The ``cffd analyze`` options that give these settings (those left at defaults are omitted).

        Tracker details have no option: a result made with non-default tracker settings
        says so in its reproduction note (see ``cli_gaps``).
        """
        default = AnalysisSettings()
        args: list[str] = []
        if self.frames is not None:
            args += ["--frames", str(self.frames)]
        elif self.stride != default.stride:
            args += ["--stride", str(self.stride)]
        pairs = (
            ("--max-frames", self.max_frames, default.max_frames),
            ("--device", self.device, default.device),
            ("--precision", self.precision, default.precision),
            ("--batch-size", self.batch_size, default.batch_size),
            ("--threads", self.cpu_threads, default.cpu_threads),
            ("--crop-scale", self.crop_scale, default.crop_scale),
            ("--max-faces", self.max_faces_per_frame, default.max_faces_per_frame),
            ("--min-track-faces", self.min_track_faces, default.min_track_faces),
            ("--window", self.window_s, default.window_s),
            ("--window-faces", self.window_min_faces, default.window_min_faces),
            ("--top-k", self.explain_top_k, default.explain_top_k),
            ("--cam-level", self.cam_level, default.cam_level),
            ("--detector", self.detector.model, default.detector.model),
            ("--min-confidence", self.detector.min_confidence, default.detector.min_confidence),
            ("--min-face-size", self.detector.min_face_size, default.detector.min_face_size),
        )
        for flag, value, default_value in pairs:
            if value != default_value and value is not None:
                args += [flag, str(value)]
        if self.time_limit_s != default.time_limit_s:
            args += ["--time-limit", str(self.time_limit_s or 0)]
        if not self.detector.allow_fallback:
            args.append("--no-fallback")
        if not self.explain:
            args.append("--no-explain")
        if self.leave_core_free:
            args.append("--leave-core-free")
        return args

    def cli_gaps(self) -> list[str]:
        """Settings of this run that no ``cffd analyze`` option can express (normally none)."""
        gaps = []
        if self.tracker != TrackerSettings():
            gaps.append(f"tracker settings {self.tracker.to_dict()}")
        if self.queue_frames != AnalysisSettings().queue_frames:
            gaps.append(f"queue_frames={self.queue_frames} (affects speed only)")
        return gaps


DETECTOR_CHOICES = DETECTOR_MODELS
