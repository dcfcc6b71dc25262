"""The JSON twin's bytes for fixed inputs: a change to how the report is built must not change what it says.

``golden/report_twin.json`` was written by the report code before the report became a typed
model; the same results, case, clock and software must give the same bytes, byte for byte.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cffd_engine.analysis import AnalysisSettings
from cffd_engine.analysis.result import (
    DISPUTED,
    LIKELY_MANIPULATED,
    MANIPULATED_FINDING,
    NO_FACE,
    NOT_APPLICABLE,
    AnalysisResult,
    Evidence,
    FrameScore,
    KeyFrame,
    ModelInfo,
    NotApplicable,
    Review,
    TrackResult,
)
from cffd_engine.analysis.spectrum import ReferenceSpectrum
from cffd_engine.report import CaseInfo
from cffd_engine.report.content import build_report
from cffd_engine.report.writer import report_json_bytes

GOLDEN = Path(__file__).parent / "golden" / "report_twin.json"
NOW = "2026-03-01T10:00:00+00:00"
SOFTWARE = {
    "application": "CFFD Studio",
    "engine_version": "0.0-test",
    "python": "3.11.0",
    "os": "Linux-test",
    "libraries": {"torch": "2.0", "reportlab": "4.0"},
    "dependency_lock": "test lock",
    "device": "cpu",
    "device_name": "test CPU",
    "cpu_threads": 1,
}
REFERENCE = ReferenceSpectrum(
    frequencies=[0.1, 0.2, 0.3], p05=[-1.0, -2.0, -3.0], p50=[0.0, -1.0, -2.0], p95=[1.0, 0.0, -1.0],
    count=120, crop_size=64, source="held-out real faces",
    genuine_outside={"faces": 40, "source": "a test", "median": 0.1, "p95": 0.4},
)  # fmt: skip


def _model(version: str, weights: str) -> ModelInfo:
    return ModelInfo(
        source=version, version=version, bundle_path=f"/models/{version}", weights_sha256=weights,
        preset="lite", input_size=64, threshold=0.5, calibration={"method": "none"},
        tasks=["faceswap", "reenactment"], limits=["Trained on test data only."],
        card="# Model\n- lite\n1. faces only", created="2026-01-01T00:00:00+00:00",
        engine_version="0.0-test", reference=REFERENCE,
    )  # fmt: skip


def _track(track_id: int) -> TrackResult:
    scores = [
        FrameScore(frame_index=i, timestamp_s=i / 25, track_id=track_id, box=[10.0, 12.0, 40.0, 44.0],
                   detection_score=0.98, fake_probability=0.6 + i / 100, level_weights=[0.1, 0.2, 0.3, 0.4])
        for i in range(4)
    ]  # fmt: skip
    key = KeyFrame(
        frame_index=2, timestamp_s=0.08, track_id=track_id, box=[10.0, 12.0, 40.0, 44.0], fake_probability=0.62,
        level_weights=[0.1, 0.2, 0.3, 0.4], crop_geometry={"scale": 1.3, "origin": [0, 0]},
        heatmap=[[0.0, 0.5], [1.0, 0.25]], heatmap_peak=[30.0, 32.0], peak_in_box=track_id == 0,
        spectrum=[0.5, -0.25, 1.5], spectrum_outside_fraction=1 / 3, spectrum_high_excess_db=2.5,
        image_sha256={"frame": "ab" * 32, "crop": "cd" * 32, "spectrum": "ef" * 32},
    )  # fmt: skip
    return TrackResult(
        track_id=track_id, faces=4, first_frame=0, last_frame=3, start_s=0.0, end_s=0.12, score=0.615,
        window_faces=4, window_start_s=0.0, window_end_s=0.12, mean_probability=0.615, median_probability=0.615,
        max_probability=0.63, fraction_above_threshold=1.0, mean_level_weights=[0.1, 0.2, 0.3, 0.4],
        verdict=LIKELY_MANIPULATED, counts_for_video=True, mean_face_size=42.0, scores=scores, key_frames=[key],
        face_score=0.9,
    )  # fmt: skip


def _result(path: str, model: ModelInfo, hashes: tuple[str | None, str | None], **changes) -> AnalysisResult:
    evidence = Evidence(path=path, name=Path(path).name, size_bytes=Path(path).stat().st_size,
                        sha256=hashes[0], md5=hashes[1], hashed_utc=NOW)  # fmt: skip
    base = dict(
        evidence=evidence, model=model, settings=AnalysisSettings(explain_top_k=1), verdict=LIKELY_MANIPULATED,
        aggregation="the most suspicious stretch of any track decides", threshold=0.5, started_utc=NOW,
        finished_utc="2026-03-01T10:00:05+00:00", command=f"cffd analyze '{path}'",
        media={"container": "mp4", "codec": "h264", "width": 160, "height": 120, "fps": 25.0, "frame_count": 4,
               "duration_s": 0.16, "rotation": 90, "creation_time": None, "encoder": "Lavf"},
        environment=SOFTWARE, detector="yunet", frames_read=4, frames_with_faces=4, faces_scored=8,
        video_probability=0.615, deciding_track=0, tracks=[_track(0), _track(1)], spectrum_reference=REFERENCE,
        cam_layer="backbone.stages.2", warnings=["a test warning"], timings={"total": 1.5},
        review=Review(DISPUTED, "B. Reviewer", NOW, "looks odd", MANIPULATED_FINDING),
    )  # fmt: skip
    return AnalysisResult(**(base | changes))


@pytest.fixture
def results(tmp_path, monkeypatch):
    """Three results: a manipulated verdict with a review, one with no face and no intake hashes, one by a
    second model whose evidence file has changed since intake; the clock and the software fixed."""
    monkeypatch.chdir(tmp_path)
    for name, content in (("clip one.mp4", b"one"), ("empty.mp4", b"two"), ("changed.mp4", b"three")):
        Path(name).write_bytes(content)
    monkeypatch.setattr("cffd_engine.report.content.utc_now", lambda: NOW)
    monkeypatch.setattr("cffd_engine.analysis.environment.environment", lambda *a, **k: SOFTWARE)
    first, second = _model("v1", "a" * 64), _model("v2", "b" * 64)
    none = NotApplicable(NO_FACE, "no face was found in 4 frames")
    return [
        _result("clip one.mp4", first, (hashlib.sha256(b"one").hexdigest(), hashlib.md5(b"one").hexdigest())),
        _result("empty.mp4", first, (None, None), verdict=NOT_APPLICABLE, tracks=[], video_probability=None,
                deciding_track=None, not_applicable=none, review=None, detector_fallback=True),
        _result("changed.mp4", second, ("0" * 64, "1" * 32), settings=AnalysisSettings(stride=2)),
    ]  # fmt: skip


def report_bytes(results: list[AnalysisResult]) -> bytes:
    """What ``write_report`` writes as the JSON twin for ``results`` (with a shard's extra field)."""
    case = CaseInfo("2026-0042", "A. Examiner", "Forensic Lab", "Seized phone, item 3 & <4>")
    report = build_report(results, case)
    report.extra["shard"] = {"shard": "1/2", "positions": [0, 1, 2]}
    return report_json_bytes(report.to_dict())


def test_the_json_twin_is_byte_for_byte_what_it_was(results):
    assert report_bytes(results) == GOLDEN.read_bytes()
