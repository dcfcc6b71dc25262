"""What a report says: ``build_report`` makes the typed ``Report`` that the PDF is drawn from and the JSON twin is.

``build_report`` re-hashes every evidence file (SHA-256 and MD5 again, at
report time) and compares with the hashes taken at intake; it adds the
software the report was made with, the interpretation in plain words, the
limitations and the commands that reproduce each result.
"""

from __future__ import annotations

from pathlib import Path

from cffd_engine.analysis.result import LIKELY_MANIPULATED, NOT_APPLICABLE, AnalysisResult, utc_now
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.video import file_hashes
from cffd_engine.report.document import CaseInfo, EvidenceCheck, Report, ReportEntry, Software
from cffd_engine.store.card import heatmap_words


def evidence_check(result: AnalysisResult, job: JobControl | None = None) -> EvidenceCheck:
    """The file's hashes now, next to those taken at intake, and whether they match."""
    evidence = result.evidence
    check = EvidenceCheck(
        name=evidence.name,
        path=evidence.path,
        size_bytes=evidence.size_bytes,
        sha256_intake=evidence.sha256,
        md5_intake=evidence.md5,
        hashed_intake_utc=evidence.hashed_utc,
    )
    try:
        now = file_hashes(evidence.path, job)
    except CFFDError as exc:
        check.problem = f"cannot be hashed again: {exc}"
        return check
    check.sha256_now, check.md5_now, check.hashed_now_utc = now["sha256"], now["md5"], utc_now()
    if evidence.sha256 is not None:
        check.match = now["sha256"] == evidence.sha256 and now["md5"] == evidence.md5
        if not check.match:
            check.problem = "the file changed since it was analysed: this report does not describe it"
    return check


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def interpretation(result: AnalysisResult) -> list[str]:
    """The result in plain words: a likelihood from a detector, never proof; what supports it and what not."""
    if result.verdict == NOT_APPLICABLE:
        reason = result.not_applicable.reason if result.not_applicable else "no reason recorded"
        return [f"No verdict could be given for {result.evidence.name}: {reason}. This says nothing either way "
                "about whether the video was manipulated."]  # fmt: skip
    threshold = result.threshold
    deciding = result.track(result.deciding_track)
    words = []
    if result.verdict == LIKELY_MANIPULATED:
        words.append(
            f"The detector rates face track {deciding.track_id} of {result.evidence.name} as likely manipulated: "
            f"its most suspicious stretch ({deciding.window_start_s:.2f} to {deciding.window_end_s:.2f} s, "
            f"{deciding.window_faces} faces) has a mean fake probability of {deciding.score:.3f}, at or above the "
            f"model's threshold of {threshold:.2f}; over the whole track ({deciding.faces} judged faces) the mean is "
            f"{deciding.mean_probability:.3f} and {_pct(deciding.fraction_above_threshold)} of its faces score "
            "above the threshold. So the video as a whole is rated likely manipulated."
        )
    else:
        words.append(
            f"No face track of {result.evidence.name} reached the model's threshold of {threshold:.2f}: the most "
            f"suspicious stretch of any track (track {deciding.track_id}, {deciding.window_start_s:.2f} to "
            f"{deciding.window_end_s:.2f} s) has a mean fake probability of {deciding.score:.3f}, and the track's "
            f"mean over {deciding.faces} judged faces is {deciding.mean_probability:.3f}. This does not show that the video is authentic: a forgery made "
            "by a method the model has not learned, strong compression or small faces can go undetected."
        )
    keys = result.key_frames()
    if keys:
        inside = sum(key.peak_in_box for key in keys)
        outside = sum(key.spectrum_outside_fraction for key in keys) / len(keys)
        words.append(
            f"The heat maps of the {len(keys)} key frames show which parts of the face crop pushed the score "
            f"towards 'manipulated'; they show where the detector looked, not what was changed. The strongest "
            f"point lies inside the face box in {inside} of them"
            + (
                "; where it lies outside (hair, neck, background), that is not evidence that the face was changed."
                if inside < len(keys)
                else "."
            )
        )
        from cffd_engine.model.backbones import cam_level_for  # here: it pulls in timm

        level = result.settings.cam_level or cam_level_for(result.model.input_size)
        checked = heatmap_words(result.model.heatmap_check, level)
        if checked:
            words.append(checked)
        reference = result.spectrum_reference
        words.append(
            f"On average {_pct(outside)} of the frequency rings of the key-frame faces fall outside the band of "
            "real faces. "
            + (reference.genuine_words() + " " if reference is not None else "")
            + "Resizing, sharpening and compression move a spectrum too, so a departure supports but "
            "does not establish manipulation, and a face inside the band is not thereby shown to be genuine."
        )
    return words


GENERAL_INTERPRETATION = (
    "Every probability in this report is a score from a statistical detector trained on the forgery methods "
    "listed in the model section. A high score is a likelihood, not proof of manipulation, and a low score is "
    "not proof of authenticity: weigh both with the provenance of the file, its metadata and a visual "
    "examination by a person.",
)

GENERAL_LIMITS = (
    "Compression: re-encoding (messaging apps, social networks, screen recording) removes the fine traces "
    "detectors rely on; scores on low-quality copies are less reliable in both directions.",
    "Unseen methods: the detector knows only the manipulation methods it was trained on (see the model "
    "section). A new generation method may not be detected at all.",
    "Faces only: the detector judges the faces it finds. Manipulated background, body or audio is not "
    "assessed; faces in profile, occluded or blurred are judged less reliably.",
    "Explanations: Grad-CAM heat maps and spectra are aids to a person's examination, not independent tests.",
)


def limitations(results: list[AnalysisResult]) -> list[str]:
    """General limits, each model's own (from its card), and those of these particular results."""
    items = list(GENERAL_LIMITS)
    sizes = sorted({r.settings.detector.min_face_size for r in results})
    if sizes:  # none in the report of a shard that was given no inputs
        items.append(f"Faces smaller than {', '.join(map(str, sizes))} pixels are not judged.")
    seen = set()
    for result in results:
        model = result.model
        if model.weights_sha256 in seen:
            continue
        seen.add(model.weights_sha256)
        if model.calibration.get("method", "none") == "none":
            items.append(
                f"Model {model.version or model.source}: its probabilities are not calibrated; a score of 0.8 "
                "does not mean that 8 in 10 such videos are manipulated."
            )
        else:
            fitted = model.calibration.get("fitted") or {}
            items.append(
                f"Model {model.version or model.source}: its threshold was chosen so that at most "
                f"{100 * float(model.calibration.get('false_alarm_goal', 0.05)):.0f}% of held-out genuine faces "
                f"({fitted.get('genuine', '?')}, {model.calibration.get('fitted_on', 'held-out faces')}) are called "
                "manipulated; on footage unlike those faces the false-alarm rate can be higher."
            )
        items += [f"Model {model.version or model.source}: {limit}" for limit in model.limits]
    if any(r.detector_fallback for r in results):
        items.append("A fallback face detector (OpenCV Haar cascade) was used: faces may have been missed.")
    return items


def build_report(
    results: list[AnalysisResult], case: CaseInfo | None = None, job: JobControl | None = None
) -> Report:
    """The whole report; re-hashes the evidence files (progress on ``job``)."""
    job = ensure_job(job)
    checks = []
    for index, result in enumerate(results):
        sub = job.sub(index / max(len(results), 1), (index + 1) / max(len(results), 1))
        checks.append(evidence_check(result, sub))
    return report_content(results, checks, case)


def report_content(
    results: list[AnalysisResult], checks: list[EvidenceCheck], case: CaseInfo | None = None
) -> Report:
    """The report from the results and their ``evidence_check`` (same order); hashes nothing.

    ``cffd merge`` calls it with the checks the shards made, so a merged report is built
    by the same code as one made in a single run.
    """
    from cffd_engine.analysis.environment import environment  # torch: not loaded by the window's start

    return Report(
        case=case or CaseInfo(),
        created_utc=utc_now(),
        software=Software(report=environment(), analysis=[r.environment for r in results]),
        entries=[
            ReportEntry(result, check, interpretation(result), result.settings.cli_gaps())
            for result, check in zip(results, checks, strict=True)
        ],
        general_interpretation=list(GENERAL_INTERPRETATION),
        limitations=limitations(results),
    )


def default_json_path(pdf_path: Path) -> Path:
    """Where the JSON twin goes when only a PDF was asked for: beside it, same name, ``.json``."""
    return pdf_path.with_suffix(".json")
