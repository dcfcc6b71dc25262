"""Rows of the report's tables, from the typed ``Report``'s parts: (label, value) pairs and table rows, as text."""

from __future__ import annotations

from cffd_engine.analysis.result import VERDICT_WORDS, AnalysisResult, ModelInfo
from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.verdict import assessment_label
from cffd_engine.report.document import EvidenceCheck, Software


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    return f"{size:,} bytes ({size / 2**20:.1f} MiB)"


def evidence_rows(check: EvidenceCheck, result: AnalysisResult) -> list[tuple[str, object]]:
    """The evidence file: where, what (container, codec, format), its hashes at intake and now, and the match."""
    media = result.media or {}  # as the probe recorded it: keys differ with the container
    match = {True: "yes: the file is unchanged since intake", False: "NO", None: "not checked"}[check.match]
    rows = [
        ("File", check.path),
        ("Size", _size(check.size_bytes)),
    ]
    if media:
        rows += [
            ("Container / codec", f"{media.get('container', '-')} / {media.get('codec', '-')}"),
            (
                "Picture",
                f"{media.get('width')} x {media.get('height')} px, {media.get('fps', 0):.3f} frames/s, "
                f"{media.get('frame_count')} frames, {media.get('duration_s', 0):.2f} s"
                + (f", rotated {media['rotation']} deg" if media.get("rotation") else ""),
            ),
            ("Creation time (tag)", media.get("creation_time") or "-"),
            ("Encoder (tag)", media.get("encoder") or "-"),
        ]
    rows += [
        ("SHA-256 at intake", check.sha256_intake or "-"),
        ("MD5 at intake", check.md5_intake or "-"),
        ("Hashed at intake (UTC)", check.hashed_intake_utc or "-"),
        ("SHA-256 now", check.sha256_now or "-"),
        ("MD5 now", check.md5_now or "-"),
        ("Hashed now (UTC)", check.hashed_now_utc or "-"),
        ("Hashes match", match + (f" ({check.problem})" if check.problem else "")),
    ]
    return rows


def software_rows(software: Software) -> list[tuple[str, object]]:
    """Application, libraries, OS and device of the analysis; the report's own when they differ.

    Each is an ``environment()`` record as saved with its result: older results lack newer keys.
    """
    report = software.report
    analyses = software.analysis or [report]
    first = analyses[0]
    rows = [
        ("Application", f"{first['application']} engine {first['engine_version']}"),
        ("Python", first["python"]),
        ("Operating system", first["os"]),
        ("Device", f"{first['device']}: {first['device_name']}, {first['cpu_threads']} CPU thread(s)"),
        # Results saved before the precision setting existed ran in float32.
        ("Model computed in", first.get("precision", "float32")),
        ("Libraries", ", ".join(f"{name} {version}" for name, version in first["libraries"].items())),
        # Results saved before the lock existed do not record one.
        ("Dependency lock", first.get("dependency_lock", "not recorded")),
    ]
    differing = [a for a in analyses[1:] if a != first]
    if differing:
        rows.append(
            ("Other analyses", f"{len(differing)} ran with other software or device (see the JSON twin)")
        )
    if (report["engine_version"], report["libraries"]) != (first["engine_version"], first["libraries"]):
        rows.append(
            (
                "Report made with",
                f"engine {report['engine_version']}, "
                + ", ".join(f"{k} {v}" for k, v in report["libraries"].items()),
            )
        )
    return rows


def model_rows(model: ModelInfo) -> list[tuple[str, object]]:
    """Identity of the model (version, bundle, weights hash), its architecture and its decision rule."""
    return [
        ("Version", model.version or "(bundle outside a store)"),
        ("Named as", model.source),
        ("Bundle", model.bundle_path),
        ("Weights SHA-256", model.weights_sha256),
        ("Architecture", f"RSIA-Net, preset '{model.preset}', {model.input_size} px face crops"),
        ("Created", f"{model.created} by engine {model.engine_version}"),
        ("Tasks learned", ", ".join(model.tasks) or "none recorded"),
        (
            "Decision threshold",
            f"{model.threshold:.2f} (calibration: {model.calibration.get('method', 'none')})",
        ),
        (
            "Real-face spectrum band",
            "shipped with the model" if model.reference else "not shipped: generic band used",
        ),
    ]


def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}{key}.", inner, out)
    else:
        out.append((prefix.rstrip("."), "-" if value is None else str(value)))


SETTING_LABELS = {
    "stride": "Frames: every n-th",
    "frames": "Frames: evenly spaced count (replaces the stride)",
    "max_frames": "Frames: at most",
    "device": "Device asked for",
    "precision": "Number format asked for (auto: bfloat16 where the CPU has it)",
    "batch_size": "Faces per inference batch",
    "cpu_threads": "CPU threads for inference (- = automatic)",
    "leave_core_free": "Leave a processor core free",
    "queue_frames": "Frames buffered between reader and model",
    "crop_scale": "Face crop side / face box side",
    "max_faces_per_frame": "Faces judged per frame, at most",
    "min_track_faces": "Faces a track needs to decide the video",
    "window_s": "Scoring stretch (seconds)",
    "window_min_faces": "Scoring stretch, at least (faces)",
    "explain": "Explanations made",
    "explain_top_k": "Key frames explained per track",
    "cam_level": "Grad-CAM backbone level (- = automatic)",
    "time_limit_s": "Time limit per file: seconds per minute of video (- = none)",
    "detector.model": "Face detector model",
    "detector.min_confidence": "Face detector confidence threshold",
    "detector.min_face_size": "Smallest face judged (pixels)",
    "detector.allow_fallback": "Fallback detector allowed",
    "tracker.min_iou": "Tracking: box overlap that links (IoU)",
    "tracker.max_center_shift": "Tracking: centre shift that still links (face sizes)",
    "tracker.max_size_ratio": "Tracking: size change that still links",
    "tracker.max_missed": "Tracking: frames a face may be missed",
}


def settings_rows(settings: AnalysisSettings) -> list[list[str]]:
    """Header and one row per setting: what it means, its name in the JSON, its value."""
    out: list = []
    _flatten("", settings.to_dict(), out)  # the table names each setting as the JSON twin does
    return [["Setting", "Name in the JSON", "Value"]] + [[SETTING_LABELS.get(k, k), k, v] for k, v in out]


def track_rows(result: AnalysisResult) -> list[list[str]]:
    """Header and one row per face track: length, time span, probabilities, verdict."""
    rows = [
        [
            "Track",
            "Faces",
            "Time (s)",
            "Score",
            "Worst stretch (s)",
            "Mean",
            "Max",
            "Above thr.",
            "Verdict",
            "Counts",
        ]
    ]
    for track in result.tracks:
        rows.append([
            str(track.track_id), str(track.faces), f"{track.start_s:.2f} - {track.end_s:.2f}",
            f"{track.score:.3f}", f"{track.window_start_s:.2f} - {track.window_end_s:.2f}",
            f"{track.mean_probability:.3f}", f"{track.max_probability:.3f}",
            f"{100 * track.fraction_above_threshold:.0f}%",
            VERDICT_WORDS.get(track.verdict, track.verdict),
            assessment_label(track),
        ])  # fmt: skip
    return rows
