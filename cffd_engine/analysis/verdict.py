"""From per-face probabilities to verdicts: per track, then per video, by a rule stated in words.

A track is scored by its most suspicious stretch: the highest mean P(fake)
over a short window of consecutive judged faces. Averaging within the window
keeps one odd frame from deciding; taking the worst window keeps a forgery of
part of the video from being averaged away by the genuine rest (a face
swapped for ten seconds of a minute is still a swapped face). The video is as
suspicious as its most suspicious track, counting only tracks long enough to
judge unless none is. Only tracks that show a face are assessed: a track the
face detector was unsure of, or whose crops the face-mesh network does not take
for a face (a patch of background, a chin), is listed as not assessed, with
the reason, and never decides the verdict. Faces in profile fall there too:
the model learned from faces seen from the front.
"""

from __future__ import annotations

import math

import numpy as np

from cffd_engine.analysis.result import (
    LIKELY_MANIPULATED,
    NO_MANIPULATION_DETECTED,
    NOT_ASSESSED,
    FrameScore,
    TrackResult,
)
from cffd_engine.analysis.settings import AnalysisSettings

# A track is a face the model can judge when the face detector's median confidence over its faces
# and the face-mesh network's median face score over its sampled crops reach these.
MIN_TRACK_DETECTION_SCORE = 0.6
MIN_TRACK_FACE_SCORE = 0.5


def aggregation_rule(threshold: float, settings: AnalysisSettings) -> str:
    """The rule of ``summarise_track`` and ``video_verdict`` in words, as results and reports state it."""
    return (
        "Each face track is scored by its most suspicious stretch: the highest mean fake probability over any "
        f"{settings.window_s:g} s of the track (at least {settings.window_min_faces} consecutive judged faces; "
        "the whole track when it is shorter), so a manipulation of part of the video is not averaged away and "
        f"no single frame decides. A track is called likely manipulated when its score is at least the model's "
        f"threshold {threshold:.2f}. The video is as suspicious as its most suspicious track, counting tracks "
        f"with at least {settings.min_track_faces} judged faces (every track counts when none has that many). "
        f"A track counts only if it shows a face: the face detector's median confidence is at least "
        f"{MIN_TRACK_DETECTION_SCORE:.2f} and the face-mesh network's median face score on sampled crops at "
        f"least {MIN_TRACK_FACE_SCORE:.2f}; other tracks are listed as not assessed, with the reason."
    )


def window_length(times: np.ndarray, window_s: float, min_faces: int) -> int:
    """Faces per window: those in ``window_s`` at the track's sampling rate, at least ``min_faces``, at most all."""
    count = len(times)
    if count <= min_faces:
        return count
    spacing = float(np.median(np.diff(times))) if count > 1 else 0.0
    in_window = math.floor(window_s / spacing + 1e-6) + 1 if spacing > 0 else count
    return int(min(count, max(min_faces, in_window)))


def peak_window(probabilities: np.ndarray, length: int) -> tuple[float, int]:
    """(highest mean over ``length`` consecutive values, index where that run starts)."""
    sums = np.convolve(probabilities, np.ones(length), mode="valid")
    start = int(np.argmax(sums))
    return float(sums[start] / length), start


def summarise_track(
    track_id: int,
    scores: list[FrameScore],
    threshold: float,
    settings: AnalysisSettings,
    face_scores: list[float] | None = None,
) -> TrackResult:
    """A track's summary and verdict from its scores (in frame order) and its crops' face-mesh scores."""
    probabilities = np.array([score.fake_probability for score in scores], dtype=np.float64)
    times = np.array([score.timestamp_s for score in scores], dtype=np.float64)
    weights = np.array([score.level_weights for score in scores], dtype=np.float64)
    length = window_length(times, settings.window_s, settings.window_min_faces)
    score, start = peak_window(probabilities, length)
    return TrackResult(
        track_id=track_id,
        faces=len(scores),
        first_frame=scores[0].frame_index,
        last_frame=scores[-1].frame_index,
        start_s=scores[0].timestamp_s,
        end_s=scores[-1].timestamp_s,
        score=round(score, 6),
        window_faces=length,
        window_start_s=scores[start].timestamp_s,
        window_end_s=scores[start + length - 1].timestamp_s,
        mean_probability=round(float(probabilities.mean()), 6),
        median_probability=round(float(np.median(probabilities)), 6),
        max_probability=round(float(probabilities.max()), 6),
        fraction_above_threshold=round(float((probabilities >= threshold).mean()), 6),
        mean_level_weights=[round(float(v), 4) for v in weights.mean(axis=0)],
        verdict=LIKELY_MANIPULATED if score >= threshold else NO_MANIPULATION_DETECTED,
        counts_for_video=True,
        mean_face_size=round(float(np.mean([max(score.box[2:]) for score in scores])), 1),
        median_detection_score=round(float(np.median([score.detection_score for score in scores])), 4),
        face_score=None if face_scores is None else round(float(np.median(face_scores)), 4),
        scores=scores,
    )


# Why a track is left out of the verdict, in general words (a track's own figures go beside them).
DETECTOR_UNSURE = "the face detector was unsure of this face: a turned, partial or blurred face, or no face"
NO_FITTED_FACE = (
    "the face-mesh network finds no face it can fit in these crops: a face in profile or hidden, or no face"
)
TOO_SHORT = "too few judged faces; the longer tracks decide"


def face_evidence_problem(track: TrackResult) -> tuple[str, str] | None:
    """(why the track's crops are not a face the model can judge, its figure), or None when they are."""
    if track.median_detection_score < MIN_TRACK_DETECTION_SCORE:
        return DETECTOR_UNSURE, f"detector {track.median_detection_score:.2f}"
    if track.face_score is not None and track.face_score < MIN_TRACK_FACE_SCORE:
        return NO_FITTED_FACE, f"face mesh {track.face_score:.2f}"
    return None


def exclusion(track: TrackResult) -> tuple[str, str]:
    """For a track left out of the verdict: (the reason in general words, its own figure)."""
    return face_evidence_problem(track) or (TOO_SHORT, "short")


def assess_tracks(tracks: list[TrackResult], min_track_faces: int) -> list[TrackResult]:
    """Mark which tracks are assessed (``counts_for_video``) and why the others are not; assessed
    tracks first, then the largest and longest."""
    faces = [track for track in tracks if face_evidence_problem(track) is None]
    long_enough = any(track.faces >= min_track_faces for track in faces)
    for track in tracks:
        track.counts_for_video = track in faces and not (long_enough and track.faces < min_track_faces)
        track.not_assessed = ""
        if not track.counts_for_video:
            reason, figure = exclusion(track)
            track.not_assessed = f"not assessed: {reason} ({figure}; {track.faces} judged face(s))"
            track.verdict = NOT_ASSESSED
    return sorted(tracks, key=lambda t: (not t.counts_for_video, -t.mean_face_size, -t.faces, t.track_id))


def assessment_label(track: TrackResult) -> str:
    """The track's assessment in a table cell: "yes", or "no" and what kept it out."""
    return "yes" if track.counts_for_video else f"no: {exclusion(track)[1]}"


def video_verdict(tracks: list[TrackResult], threshold: float) -> tuple[str, float, int] | None:
    """(verdict, the deciding track's score, the deciding track id) over the assessed tracks; None
    when no track is assessed."""
    counted = [track for track in tracks if track.counts_for_video]
    if not counted:
        return None
    deciding = max(counted, key=lambda track: (track.score, track.faces, -track.track_id))
    verdict = LIKELY_MANIPULATED if deciding.score >= threshold else NO_MANIPULATION_DETECTED
    return verdict, deciding.score, deciding.track_id
