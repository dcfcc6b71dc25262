"""``analyze``: one evidence file to an ``AnalysisResult``; ``analyze_many``: a batch that survives bad files.

Order of work: hash the file as taken in, probe it, then read/detect/track in
a thread while batches of faces go through the model here (see
``pipeline``), summarise per track and per video, and explain the key frames.
"No face", "faces too small" and "cannot be read" are results
(``NOT_APPLICABLE`` with a reason), not exceptions; only cancelling raises.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from cffd_engine.analysis.environment import environment
from cffd_engine.analysis.explain import Explainer
from cffd_engine.analysis.keyframes import KeyFrameCandidates, explain_key_frames
from cffd_engine.analysis.pipeline import (
    BatchJudge,
    JudgedFace,
    SizeGate,
    judge_video,
)
from cffd_engine.analysis.result import (
    FACES_TOO_SMALL,
    FAILED,
    NO_ASSESSABLE_FACE,
    NO_FACE,
    NOT_APPLICABLE,
    TIMED_OUT,
    UNREADABLE,
    AnalysisResult,
    Evidence,
    FrameScore,
    ModelInfo,
    NotApplicable,
    utc_now,
)
from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.spectrum import fallback_reference
from cffd_engine.analysis.verdict import (
    aggregation_rule,
    assess_tracks,
    exclusion,
    summarise_track,
    video_verdict,
)
from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import Cancelled, JobControl, TimedOut, ensure_job
from cffd_engine.media.crops import FaceCrop
from cffd_engine.media.detectors import LargeFrameSearch, create_face_detector
from cffd_engine.media.frames import Frame
from cffd_engine.media.intake import pick_files
from cffd_engine.media.pipeline import FaceExtractionSettings
from cffd_engine.media.video import MediaInfo, check_readable_file, file_hashes, probe
from cffd_engine.model import RSIANet, select_device
from cffd_engine.model.device import cpu_threads, inference_dtype

log = logging.getLogger(__name__)

# The face-mesh network checks that a track shows a face on its first crop and every
# FACE_CHECK_EVERY-th after, at most FACE_CHECKS per track (each check costs a few milliseconds).
FACE_CHECK_EVERY = 10
FACE_CHECKS = 8


def inference_threads(settings: AnalysisSettings) -> int:
    """Torch CPU threads: as set, else every core (one fewer if asked).

    Every core, although a reader thread decodes and detects beside the model: measured on
    2 cores (docs/detector-2026-12-03.md, "Speed"), 2 threads gave 29 frames/s against 23 for 1.
    """
    if settings.cpu_threads is not None:
        return settings.cpu_threads
    return max(1, (os.cpu_count() or 1) - int(settings.leave_core_free))


def reproduce_command(path: Path | str, settings: AnalysisSettings, model: ModelInfo) -> str:
    """The ``cffd analyze`` command line that repeats this analysis of ``path``."""
    words = ["cffd", "analyze", str(path), "--model", model.source]
    if not Path(model.source).is_dir() and model.version is not None:
        words += ["--store", str(Path(model.bundle_path).parent.parent)]
    return shlex.join(words + settings.to_cli_args())


def not_assessed_note(tracks: list) -> str:
    """One warning for the tracks left out of the verdict, grouped by reason."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        by_reason[exclusion(track)[0]].append(str(track.track_id))
    groups = [f"track(s) {', '.join(ids)}: {reason}" for reason, ids in by_reason.items()]
    return (
        f"{len(tracks)} face track(s) were not assessed and did not count for the video's verdict "
        f"(the track table gives each one's figures): {'; '.join(groups)}"
    )


class _JudgedFaces:
    """``judge_video``'s callback: every judged face's score by track, a sample of face-mesh face scores
    per track (one in FACE_CHECK_EVERY faces, at most FACE_CHECKS), and the key-frame candidates."""

    def __init__(self, face_score: Callable[[Frame, FaceCrop], float], candidates: KeyFrameCandidates):
        self.face_score = face_score
        self.candidates = candidates
        self.scores: dict[int, list[FrameScore]] = defaultdict(list)
        self.face_scores: dict[int, list[float]] = defaultdict(list)

    def __call__(self, frame: Frame, faces: list[JudgedFace]) -> None:
        for face in faces:
            crop = face.crop
            seen, checked = len(self.scores[crop.track_id]), self.face_scores[crop.track_id]
            if seen % FACE_CHECK_EVERY == 0 and len(checked) < FACE_CHECKS:
                checked.append(self.face_score(frame, crop))
            self.scores[crop.track_id].append(
                FrameScore(
                    frame_index=crop.frame_index,
                    timestamp_s=round(crop.timestamp_s, 4),
                    track_id=crop.track_id,
                    box=[round(float(v), 2) for v in crop.detection.box],
                    detection_score=round(float(crop.detection.score), 4),
                    fake_probability=round(face.fake_probability, 6),
                    level_weights=[round(float(v), 4) for v in face.level_weights],
                )
            )
        self.candidates.add(frame, faces)


class Analyzer:
    """One model, one detector and one Grad-CAM object, reused over any number of files.

    It runs an inference copy of the model (``RSIANet.prepare_for_inference``: eval mode, on the
    settings' device, batch norms folded); the model given is left as it was.
    """

    def __init__(self, settings: AnalysisSettings, model: RSIANet, model_info: ModelInfo):
        self.settings = settings
        self.info = model_info
        self.device = select_device(settings.device)
        self.model = model.prepare_for_inference(self.device)
        self.threads = inference_threads(settings)
        self.reference = model_info.reference or fallback_reference()
        self._detector = None
        self._landmarker = None
        self._explainer: Explainer | None = None

    @property
    def detector(self) -> LargeFrameSearch:
        if self._detector is None:
            # The size gate, not the detector, drops small faces: so they can be counted and reported.
            settings = replace(self.settings.detector, min_face_size=0)
            self._detector = LargeFrameSearch(create_face_detector(settings), settings)
        return self._detector

    def _abandon_reader(self) -> None:
        """A reader thread stuck in native code still holds the detector: the next file gets new ones."""
        log.warning("a reader thread did not stop in time; it is left behind with its face detector")
        self._detector = None
        self._landmarker = None

    @property
    def landmarker(self):
        if self._landmarker is None:
            from cffd_engine.media.faces import FaceLandmarker

            self._landmarker = FaceLandmarker(max_faces=1, detector=self.detector)
        return self._landmarker

    @property
    def explainer(self) -> Explainer:
        if self._explainer is None:
            self._explainer = Explainer(self.model, self.settings.cam_level, self.device)
        return self._explainer

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
        if self._detector is not None:
            self._detector.close()
            self._detector = None
        if self._explainer is not None:
            self._explainer.close()
            self._explainer = None

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def extraction_settings(self) -> FaceExtractionSettings:
        s = self.settings
        return FaceExtractionSettings(
            stride=s.stride,
            frames=s.frames,
            max_frames=s.max_frames,
            crop_size=self.model.config.input_size,
            crop_scale=s.crop_scale,
            max_faces_per_frame=s.max_faces_per_frame,
            detector=s.detector,
            tracker=s.tracker,
        )

    def _start(self, path: Path) -> AnalysisResult:
        s = self.settings
        threshold = self.info.threshold
        return AnalysisResult(
            evidence=Evidence(path=str(path.absolute()), name=path.name),
            model=self.info,
            settings=s,
            verdict=NOT_APPLICABLE,
            aggregation=aggregation_rule(threshold, s),
            threshold=threshold,
            started_utc=utc_now(),
            finished_utc="",
            command=reproduce_command(path.absolute(), s, self.info),
            environment=environment(self.device, self.threads, inference_dtype(self.device, s.precision)),
            device=str(self.device),
            spectrum_reference=self.reference,
        )

    def analyze(self, path: Path | str, job: JobControl | None = None) -> AnalysisResult:
        """Analyse one file; see the module docstring. Raises only ``Cancelled``."""
        job = ensure_job(job)
        path = Path(path)
        result = self._start(path)
        began = time.perf_counter()
        try:
            check_readable_file(path)
            result.evidence.size_bytes = path.stat().st_size
            hashes = file_hashes(path, job.sub(0.0, 0.05))
            result.evidence.sha256, result.evidence.md5 = hashes["sha256"], hashes["md5"]
            result.evidence.hashed_utc = utc_now()
            result.timings["hashing_s"] = round(time.perf_counter() - began, 3)
            media = probe(path)
            result.media = media.to_dict()
            limit = self.settings.time_limit(media.duration_s)
            with cpu_threads(self.threads if self.device.type == "cpu" else None):
                self._judge(path, media, result, job.with_deadline(limit))
        except EvidenceError as exc:
            result.evidence.kind = exc.kind
            result.not_applicable = NotApplicable(UNREADABLE, f"{exc.problem}. {exc.fix}")
        except TimedOut as exc:
            result = self._timed_out(path, result, exc)
        result.finished_utc = utc_now()
        result.timings["total_s"] = round(time.perf_counter() - began, 3)
        job.report(1.0, "done")
        return result

    def _timed_out(self, path: Path, partial: AnalysisResult, exc: TimedOut) -> AnalysisResult:
        """A result that keeps what was known before the deadline (hashes, metadata) and nothing judged."""
        result = self._start(path)
        result.evidence, result.media, result.timings = partial.evidence, partial.media, partial.timings
        result.started_utc = partial.started_utc
        duration = (partial.media or {}).get("duration_s") or 0.0
        result.not_applicable = NotApplicable(
            TIMED_OUT,
            f"decoding, detection and scoring took longer than this file's time limit of {exc.seconds:.0f} s "
            f"({self.settings.time_limit_s:g} s per minute of video, {duration:.1f} s long) and were stopped. "
            "Analyse it alone with a longer --time-limit, or read fewer frames (--stride, --frames)",
        )
        return result

    def _judge(self, path: Path, media: MediaInfo, result: AnalysisResult, job: JobControl) -> None:
        """Read, detect and score ``path`` into ``result``; then its tracks, its verdict and the explanations."""
        s = self.settings
        candidates = KeyFrameCandidates(
            s.explain_top_k if s.explain else 0, self.reference.crop_size, s.crop_scale
        )
        judged = _JudgedFaces(self._face_score, candidates)
        self._read_and_judge(path, media, result, judged, job.sub(0.05, 0.9))
        if not judged.scores:
            result.not_applicable = self._no_face_reason(result)
            return
        if not self._decide(result, judged) or not (s.explain and s.explain_top_k):
            return
        started = time.perf_counter()
        self._explain(result, candidates, job.sub(0.9, 0.99))
        result.cam_layer = self.explainer.layer_name
        result.timings["explanations_s"] = round(time.perf_counter() - started, 3)

    def _face_score(self, frame: Frame, crop: FaceCrop) -> float:
        """The face-mesh network's score that the detected face is one it can judge."""
        (mesh,) = self.landmarker.meshes(frame.rgb, faces=[crop.detection])
        return mesh.face_score

    def _read_and_judge(
        self, path: Path, media: MediaInfo, result: AnalysisResult, judged: _JudgedFaces, job: JobControl
    ) -> None:
        """``judge_video`` over ``path``; what it read, how long it took and what to note go on ``result``."""
        s = self.settings
        gate = SizeGate(self.detector, s.detector.min_face_size)
        self.detector.start_file()
        retried_before = self.detector.found_by_retry
        judge = BatchJudge(self.model, self.info.calibration, self.device, s.batch_size, s.precision)
        started = time.perf_counter()
        extraction = judge_video(
            path,
            self.extraction_settings(),
            gate,
            judge,
            judged,
            s.batch_size,
            s.queue_frames,
            job,
            self._abandon_reader,
            media,
        )
        elapsed = time.perf_counter() - started
        result.timings["decode_detect_judge_s"] = round(elapsed, 3)
        result.timings["inference_s"] = round(judge.seconds, 3)
        result.timings["frames_per_second"] = round(extraction.frames_read / max(elapsed, 1e-9), 2)
        result.decode = extraction.decode.to_dict()
        result.detector, result.detector_fallback = extraction.detector, extraction.detector_fallback
        result.frames_read, result.frames_with_faces = extraction.frames_read, extraction.frames_with_faces
        result.faces_too_small = gate.too_small
        result.faces_scored = sum(len(v) for v in judged.scores.values())
        result.warnings += self._warnings(result, extraction.decode)
        found_by_retry = gate.inner.found_by_retry - retried_before
        if found_by_retry:
            result.warnings.append(
                f"in {found_by_retry} frame(s) the short-range face detector found no face, and the "
                "full-range detector (on the whole frame, else on overlapping tiles) did: small faces in "
                "large frames"
            )

    def _decide(self, result: AnalysisResult, judged: _JudgedFaces) -> bool:
        """Summarise and assess each track, then the video's verdict; False (and why) when no track counts."""
        s, threshold, scores = self.settings, self.info.threshold, judged.scores
        result.tracks = assess_tracks(
            [summarise_track(tid, scores[tid], threshold, s, judged.face_scores[tid]) for tid in scores],
            s.min_track_faces,
        )
        left_out = [t for t in result.tracks if not t.counts_for_video]
        if left_out:
            result.warnings.append(not_assessed_note(left_out))
        decided = video_verdict(result.tracks, threshold)
        if decided is None:
            result.not_applicable = NotApplicable(
                NO_ASSESSABLE_FACE,
                f"{len(result.tracks)} track(s) were found, and none shows a face the model can judge "
                f"({left_out[0].not_assessed.removeprefix('not assessed: ')}). Check the frames: the detector "
                "may have taken something else for a face",
            )
            return False
        result.verdict, probability, result.deciding_track = decided
        result.video_probability = round(probability, 6)
        return True

    def _explain(self, result: AnalysisResult, candidates: KeyFrameCandidates, job: JobControl) -> None:
        assessed = [track for track in result.tracks if track.counts_for_video]
        chosen = {t.track_id: candidates.choose(t.track_id, t.start_s, t.end_s) for t in assessed}
        total = max(sum(len(c) for c in chosen.values()), 1)
        done = 0
        for track in assessed:
            picks = chosen[track.track_id]
            sub = job.sub(done / total, (done + len(picks)) / total)
            track.key_frames = explain_key_frames(
                picks, self.explainer, self.reference, self.info.threshold, sub
            )
            done += len(picks)

    def _no_face_reason(self, result: AnalysisResult) -> NotApplicable:
        size = self.settings.detector.min_face_size
        if result.faces_too_small:
            return NotApplicable(
                FACES_TOO_SMALL,
                f"{result.faces_too_small} face(s) were found in {result.frames_read} frame(s), all smaller "
                f"than {size} px, the smallest face this analysis judges. Analyse a higher-resolution copy "
                "of the evidence, or lower --min-face-size (the judgement gets less reliable)",
            )
        return NotApplicable(
            NO_FACE,
            f"no face was found in the {result.frames_read} frame(s) read (detector {result.detector}). "
            "The model judges faces only; a video without a visible face cannot be assessed by it",
        )

    def _warnings(self, result: AnalysisResult, decode) -> list[str]:
        warnings = []
        if result.detector_fallback:
            warnings.append(
                f"mediapipe's face detector was unavailable; OpenCV's Haar cascade ({result.detector}) was "
                "used instead: it finds frontal faces only and misses more faces"
            )
        if not decode.complete or decode.problem:
            warnings.append(f"the file is damaged: {decode.message}; only the frames read were analysed")
        if result.faces_too_small and result.faces_scored:
            warnings.append(
                f"{result.faces_too_small} face(s) smaller than {self.settings.detector.min_face_size} px "
                "were found and not judged"
            )
        if self.reference.fallback:
            warnings.append(
                "the model ships no reference spectrum of real faces; spectra are drawn against a "
                "generic real-face band"
            )
        return warnings


def analyze(
    path: Path | str,
    settings: AnalysisSettings,
    model: RSIANet,
    model_info: ModelInfo,
    job: JobControl | None = None,
) -> AnalysisResult:
    """Analyse one evidence file (see ``Analyzer``); for many files use ``analyze_many``."""
    with Analyzer(settings, model, model_info) as analyzer:
        return analyzer.analyze(path, job)


def analyze_safely(analyzer: Analyzer, path: Path | str, job: JobControl | None = None) -> AnalysisResult:
    """``analyzer.analyze``, with an unexpected error turned into a ``failed`` result; only cancelling raises."""
    try:
        return analyzer.analyze(path, job)
    except Cancelled:
        raise
    except Exception as exc:  # one file's failure is reported, the batch goes on
        log.exception("analysis of %s failed", path)
        result = analyzer._start(Path(path))
        result.not_applicable = NotApplicable(FAILED, f"the analysis failed: {exc!r}")
        result.finished_utc = utc_now()
        if job is not None:
            job.report(1.0, "failed")
        return result


def analyze_many(
    paths: Iterable[Path | str],
    settings: AnalysisSettings,
    model: RSIANet,
    model_info: ModelInfo,
    job: JobControl | None = None,
    on_result: Callable[[AnalysisResult], None] | None = None,
) -> list[AnalysisResult]:
    """Analyse every entry (folders give their media, see ``intake.pick_files``) in order; a file that fails gets a NOT_APPLICABLE result.

    One bad file never stops the batch: unreadable files say why, and an unexpected
    error is recorded as ``failed`` with its message. Only cancelling stops it.
    """
    job = ensure_job(job)
    files = pick_files(list(paths))
    results = []
    with Analyzer(settings, model, model_info) as analyzer:
        for index, path in enumerate(files):
            sub = job.sub(index / max(len(files), 1), (index + 1) / max(len(files), 1))
            result = analyze_safely(analyzer, path, sub)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
