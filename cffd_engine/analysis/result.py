"""``AnalysisResult``: everything one analysis found and everything needed to reproduce it.

A plain dataclass tree; ``to_dict`` is JSON-ready and ``from_dict`` reads it
back (``from_dict(r.to_dict()).to_dict() == r.to_dict()``). The GUI, the PDF
and the JSON report read the same object. Pictures made for the report
(``KeyFrame.images``: PNG bytes) stay out of the JSON, which keeps their
SHA-256 so a PDF's pictures can be tied to the result they came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.spectrum import ReferenceSpectrum


def utc_now() -> str:
    """Now in UTC to the second, as every time in a result, a case and a report is written."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


FORMAT_VERSION = 1

LIKELY_MANIPULATED = "LIKELY_MANIPULATED"
NO_MANIPULATION_DETECTED = "NO_MANIPULATION_DETECTED"
NOT_APPLICABLE = "NOT_APPLICABLE"
NOT_ASSESSED = "NOT_ASSESSED"  # a track's verdict: not a face the model can judge (TrackResult.not_assessed)
VERDICT_WORDS = {
    LIKELY_MANIPULATED: "Likely manipulated",
    NO_MANIPULATION_DETECTED: "No manipulation detected",
    NOT_APPLICABLE: "Not applicable",
    NOT_ASSESSED: "Not assessed",
}

# Reasons a result is NOT_APPLICABLE; unreadable, failed and timed out mean the input could not be analysed.
NO_FACE = "no_face"
FACES_TOO_SMALL = "faces_too_small"
UNREADABLE = "unreadable"
FAILED = "failed"
TIMED_OUT = "timed_out"
NO_ASSESSABLE_FACE = "no_assessable_face"  # faces were found, but no track is a face the model can judge


def _from(cls, data: dict[str, Any]):
    """A flat dataclass from a dict, ignoring nothing: unknown keys are a format error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}")
    return cls(**data)


@dataclass
class Evidence:
    """The evidence file as taken in: where it was, its size and hashes at intake (UTC)."""

    path: str
    name: str
    kind: str = "file"  # what the path is (``media.intake``): "file", "fifo", "link-loop", "folder", ...
    size_bytes: int | None = None
    sha256: str | None = None
    md5: str | None = None
    hashed_utc: str | None = None


@dataclass
class ModelInfo:
    """The model that judged: store version (or bundle folder), weights hash, preset, decision rule, card."""

    source: str  # how ``cffd analyze --model`` names it: a store version ("v3") or a bundle folder
    version: str | None
    bundle_path: str
    weights_sha256: str
    preset: str
    input_size: int
    threshold: float
    calibration: dict[str, Any]
    tasks: list[str]
    limits: list[str]
    card: str
    created: str
    engine_version: str
    reference: ReferenceSpectrum | None = None  # None: the bundle ships none (the fallback is used)
    heatmap_check: dict[str, Any] | None = None  # where its heat maps point on known manipulations

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reference"] = None if self.reference is None else self.reference.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        data = dict(data)
        reference = data.get("reference")
        data["reference"] = None if reference is None else ReferenceSpectrum.from_dict(reference)
        return _from(cls, data)


@dataclass(slots=True)
class FrameScore:
    """One judged face: frame, time, box (x, y, w, h) in frame pixels, P(fake), FAF level weights."""

    frame_index: int
    timestamp_s: float
    track_id: int
    box: list[float]
    detection_score: float
    fake_probability: float
    level_weights: list[float]


@dataclass
class KeyFrame:
    """An explained face: Grad-CAM on the crop (coarse grid), its peak on the frame, the face's spectrum.

    ``heatmap`` is the Grad-CAM map over the crop, ``HEATMAP_GRID`` squared, in [0, 1];
    ``heatmap_peak`` the (x, y) of its maximum on the full frame. ``spectrum`` is the
    face's ``radial_power`` (dB per ring); ``images`` holds PNG bytes (``frame``: the frame with
    box and heatmap, ``crop``: the face with heatmap, ``spectrum``: the 2-D log spectrum).
    """

    frame_index: int
    timestamp_s: float
    track_id: int
    box: list[float]
    fake_probability: float
    level_weights: list[float]
    crop_geometry: dict[str, Any]
    heatmap: list[list[float]]
    heatmap_peak: list[float]
    peak_in_box: bool
    spectrum: list[float]
    spectrum_outside_fraction: float
    spectrum_high_excess_db: float
    image_sha256: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict, repr=False)

    def add_image(self, name: str, png: bytes) -> None:
        self.images[name] = png
        self.image_sha256[name] = hashlib.sha256(png).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["images"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyFrame:
        return _from(cls, dict(data))


@dataclass
class TrackResult:
    """One face followed through the video: its series of scores, its summary and its verdict.

    ``score`` decides the verdict: the mean P(fake) of the track's most suspicious stretch
    (``window_faces`` consecutive judged faces from ``window_start_s`` to ``window_end_s``).
    """

    track_id: int
    faces: int
    first_frame: int
    last_frame: int
    start_s: float
    end_s: float
    score: float
    window_faces: int
    window_start_s: float
    window_end_s: float
    mean_probability: float
    median_probability: float
    max_probability: float
    fraction_above_threshold: float
    mean_level_weights: list[float]
    verdict: str
    counts_for_video: bool  # assessed: a face the model can judge, long enough to count
    mean_face_size: float
    scores: list[FrameScore] = field(default_factory=list)
    key_frames: list[KeyFrame] = field(default_factory=list)
    median_detection_score: float = 1.0
    face_score: float | None = None  # median face-mesh face score of sampled crops (None: not checked)
    not_assessed: str = ""  # why the track is no part of the verdict; "" when it is assessed

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("scores", "key_frames")}
        data["scores"] = [asdict(score) for score in self.scores]
        data["key_frames"] = [key.to_dict() for key in self.key_frames]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackResult:
        data = dict(data)
        data["scores"] = [_from(FrameScore, s) for s in data.get("scores", [])]
        data["key_frames"] = [KeyFrame.from_dict(k) for k in data.get("key_frames", [])]
        return _from(cls, data)


@dataclass
class NotApplicable:
    """Why a file got no verdict: ``code`` (no_face, faces_too_small, unreadable, failed) and words."""

    code: str
    reason: str


AGREED, DISPUTED = "agreed", "disputed"
GENUINE_FINDING, MANIPULATED_FINDING = "genuine", "manipulated"


@dataclass
class Review:
    """The analyst's own finding on a result, kept beside the model's verdict (never in the evidence file).

    ``decision`` is AGREED or DISPUTED; a dispute says what the analyst holds the evidence
    to be (``finding``: "genuine" or "manipulated").
    """

    decision: str
    reviewer: str
    reviewed_utc: str
    note: str = ""
    finding: str | None = None

    def __post_init__(self) -> None:
        if self.decision not in (AGREED, DISPUTED):
            raise ValueError(f"a review's decision is {AGREED!r} or {DISPUTED!r}, not {self.decision!r}")
        if not self.reviewer.strip():
            raise ValueError("a review needs the reviewer's name")
        wanted = (GENUINE_FINDING, MANIPULATED_FINDING) if self.decision == DISPUTED else (None,)
        if self.finding not in wanted:
            raise ValueError(f"a review that is {self.decision} has finding {wanted}, not {self.finding!r}")

    @property
    def words(self) -> str:
        """What the analyst found, in a few words: "Agreed" or "Disputed: genuine"."""
        return "Agreed" if self.decision == AGREED else f"Disputed: {self.finding}"

    @property
    def sentence(self) -> str:
        """What, who, when and the note, as the window and the report print it."""
        note = f": {self.note}" if self.note else ""
        when = self.reviewed_utc[:16].replace("T", " ") + " UTC"
        return f"{self.words}, by {self.reviewer} at {when}{note}"


@dataclass
class AnalysisResult:
    """One evidence file analysed: what it is, what judged it, how, what was found, and why."""

    evidence: Evidence
    model: ModelInfo
    settings: AnalysisSettings
    verdict: str
    aggregation: str
    threshold: float
    started_utc: str
    finished_utc: str
    command: str
    media: dict[str, Any] | None = None
    decode: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    detector: str = ""
    detector_fallback: bool = False
    frames_read: int = 0
    frames_with_faces: int = 0
    faces_scored: int = 0
    faces_too_small: int = 0
    video_probability: float | None = None
    deciding_track: int | None = None
    tracks: list[TrackResult] = field(default_factory=list)
    not_applicable: NotApplicable | None = None
    spectrum_reference: ReferenceSpectrum | None = None
    cam_layer: str = ""
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    review: Review | None = None
    format_version: int = FORMAT_VERSION

    @property
    def analysed(self) -> bool:
        """False only when the input could not be read or the analysis failed (not for "no face")."""
        return self.not_applicable is None or self.not_applicable.code not in (UNREADABLE, FAILED, TIMED_OUT)

    @property
    def verdict_words(self) -> str:
        return VERDICT_WORDS.get(self.verdict, self.verdict)

    def track(self, track_id: int) -> TrackResult:
        return next(track for track in self.tracks if track.track_id == track_id)

    def key_frames(self) -> list[KeyFrame]:
        return [key for track in self.tracks for key in track.key_frames]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "tracks":
                value = [track.to_dict() for track in value]
            elif item.name in ("model", "settings", "spectrum_reference") and value is not None:
                value = value.to_dict()
            elif item.name in ("evidence", "not_applicable", "review") and value is not None:
                value = asdict(value)
            data[item.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        """Read back ``to_dict`` output (a report's JSON); ValueError if it is not one."""
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, AttributeError) as exc:  # a missing or mistyped field
            raise ValueError(f"not an analysis result ({exc.__class__.__name__}: {exc})") from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        data = dict(data)
        version = data.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"analysis result format {version} is newer than this CFFD Studio ({FORMAT_VERSION})"
            )
        data["evidence"] = _from(Evidence, data["evidence"])
        data["model"] = ModelInfo.from_dict(data["model"])
        data["settings"] = AnalysisSettings.from_dict(data["settings"])
        data["tracks"] = [TrackResult.from_dict(t) for t in data.get("tracks", [])]
        if data.get("not_applicable") is not None:
            data["not_applicable"] = _from(NotApplicable, data["not_applicable"])
        if data.get("review") is not None:
            data["review"] = _from(Review, data["review"])
        if data.get("spectrum_reference") is not None:
            data["spectrum_reference"] = ReferenceSpectrum.from_dict(data["spectrum_reference"])
        return _from(cls, data)
