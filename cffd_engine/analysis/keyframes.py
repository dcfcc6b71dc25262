"""Key frames: the most suspicious faces of each track, kept while the video streams past, then explained.

``KeyFrameCandidates`` keeps, per track, a few times more candidates than
will be shown, so the final choice can prefer faces spread over the track to
near-duplicates of one moment. It keeps what a key frame needs of its frame
(a reduced JPEG picture and the face cut for the spectrum), never the frame:
a long video has hundreds of tracks, and whole 720p frames for each of their
candidates took gigabytes. ``explain_judged_face``
explains any other judged face later, on demand, the same way: the face cut
again from its frame as analysis cut it, through the same ``face_heats``.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, replace

import numpy as np

from cffd_engine.analysis.explain import (
    Explainer,
    box_contains,
    coarse_grid,
    crop_overlay,
    decode_picture,
    encode_png,
    frame_overlay,
    frame_picture,
    peak_on_frame,
    spectrum_picture,
)
from cffd_engine.analysis.pipeline import JudgedFace
from cffd_engine.analysis.result import FrameScore, KeyFrame
from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.spectrum import ReferenceSpectrum, compare, log_magnitude, radial_power
from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import JobControl
from cffd_engine.media.crops import CropGeometry, FaceCrop, crop_face, crop_geometry, crop_image
from cffd_engine.media.faces import FaceDetection
from cffd_engine.media.frames import Frame, FrameReader
from cffd_engine.model import RSIANet

CANDIDATES_PER_KEY = 3
# At most this many candidates over all tracks (about 0.1 MB each): a crowd in a long video makes
# thousands of tracks. Past it, the track holding the most candidates gives up its least suspicious.
MAX_CANDIDATES = 600


@dataclass(eq=False)
class Candidate:
    """A judged face with what its key frame needs of the frame (compared by identity).

    The face's pixels (the model's crop, and the spectrum's cut when it is another) are kept as
    lossless PNG: a few hundred candidates of raw crops were the analysis's largest growth on a
    long video.
    """

    face: JudgedFace  # its crop without pixels (``crop()`` gives them back)
    timestamp_s: float
    picture: bytes  # the frame as the report pictures it (``frame_picture``), shared by its faces
    crop_png: bytes
    spectrum_png: bytes | None  # None: the spectrum's cut is the crop itself

    @classmethod
    def keep(
        cls, face: JudgedFace, timestamp_s: float, picture: bytes, spectrum_face: np.ndarray
    ) -> Candidate:
        crop = face.crop
        spectrum_png = None if spectrum_face is crop.image else encode_png(spectrum_face)
        bare = replace(face, crop=replace(crop, image=np.empty((0, 0, 3), np.uint8)))
        return cls(bare, timestamp_s, picture, encode_png(crop.image), spectrum_png)

    def crop(self) -> FaceCrop:
        return replace(self.face.crop, image=decode_picture(self.crop_png))

    def spectrum_face(self, crop: FaceCrop) -> np.ndarray:
        return crop.image if self.spectrum_png is None else decode_picture(self.spectrum_png)


class KeyFrameCandidates:
    """The ``top_k * CANDIDATES_PER_KEY`` highest-P(fake) faces of every track seen so far, at most
    ``limit`` in all.

    ``spectrum_size`` and ``crop_scale``: how the spectrum reference's faces were cut.
    """

    def __init__(self, top_k: int, spectrum_size: int, crop_scale: float, limit: int = MAX_CANDIDATES):
        self.top_k = top_k
        self.capacity = top_k * CANDIDATES_PER_KEY
        self.limit = limit
        self.count = 0
        self.spectrum_size, self.crop_scale = spectrum_size, crop_scale
        self._heaps: dict[int, list] = {}
        self._order = itertools.count()

    def add(self, frame: Frame, faces: list[JudgedFace]) -> None:
        if self.capacity == 0:
            return
        picture = None
        for face in faces:
            heap = self._heaps.setdefault(face.crop.track_id, [])
            rank = (face.fake_probability, -next(self._order))
            if len(heap) == self.capacity and rank <= heap[0][:2]:
                continue
            picture = picture or frame_picture(frame.rgb)
            spectrum_face = spectrum_crop(frame, face.crop, self.spectrum_size, self.crop_scale)
            entry = (*rank, Candidate.keep(face, frame.timestamp_s, picture, spectrum_face))
            if len(heap) < self.capacity:
                heapq.heappush(heap, entry)
                self.count += 1
            else:
                heapq.heapreplace(heap, entry)
            if self.count > self.limit:
                fullest = max((h for h in self._heaps.values() if h), key=lambda h: (len(h), -h[0][0]))
                heapq.heappop(fullest)
                self.count -= 1

    def choose(self, track_id: int, start_s: float, end_s: float) -> list[Candidate]:
        """Up to ``top_k`` of the track's candidates, most suspicious first, spread in time where possible."""
        ranked = [
            entry[2] for entry in sorted(self._heaps.get(track_id, []), key=lambda e: e[:2], reverse=True)
        ]
        gap = (end_s - start_s) / (2 * max(self.top_k, 1))
        chosen: list[Candidate] = []
        for candidate in ranked:
            t = candidate.timestamp_s
            if all(abs(t - other.timestamp_s) >= gap for other in chosen):
                chosen.append(candidate)
            if len(chosen) == self.top_k:
                break
        for candidate in ranked:
            if len(chosen) == self.top_k:
                break
            if candidate not in chosen:
                chosen.append(candidate)
        return sorted(chosen, key=lambda c: -c.face.fake_probability)


@dataclass
class FaceHeat:
    """Grad-CAM of one face: the map over its crop, where the crop lies, the map's peak on the frame."""

    heatmap: np.ndarray  # (S, S) float32 in [0, 1]
    geometry: CropGeometry
    box: list[float]
    peak: tuple[float, float]
    peak_in_box: bool


def face_heats(explainer: Explainer | None, crops: list[FaceCrop]) -> list[FaceHeat]:
    """Grad-CAM (all zeros without an explainer) of each crop, with its peak on the frame and whether in the box."""
    images = np.stack([crop.image for crop in crops])
    heatmaps = explainer.heatmaps(images) if explainer is not None else np.zeros(images.shape[:3], np.float32)
    heats = []
    for crop, heatmap in zip(crops, heatmaps, strict=True):
        box = [round(float(v), 2) for v in crop.detection.box]
        peak = peak_on_frame(heatmap, crop.geometry)
        heats.append(FaceHeat(heatmap, crop.geometry, box, peak, box_contains(box, peak)))
    return heats


def result_explainer(model: RSIANet, settings: AnalysisSettings) -> Explainer:
    """The ``Explainer`` analysis made for ``settings``, on the CPU: on the model's inference copy, same level."""
    return Explainer(model.prepare_for_inference("cpu"), settings.cam_level)


def read_judged_frame(path: str, settings: AnalysisSettings, frame_index: int, job: JobControl) -> Frame:
    """Frame ``frame_index`` of the evidence, read with the analysis's own frame selection."""
    reader = FrameReader(
        path, stride=settings.stride, count=settings.frames, max_frames=settings.max_frames, job=job
    )
    for frame in reader:
        if frame.index == frame_index:
            return frame
        if frame.index > frame_index:
            break
    raise EvidenceError(
        path,
        f"frame {frame_index}, judged by the analysis, is no longer in the file",
        "Check that the evidence is the file analysed (compare its SHA-256 with the result's)",
    )


def explain_judged_face(
    explainer: Explainer,
    path: str,
    settings: AnalysisSettings,
    input_size: int,
    score: FrameScore,
    job: JobControl,
) -> FaceHeat:
    """Grad-CAM of one judged face, read again from the evidence and cut as analysis cut it.

    The crop is the model's input size at the settings' ``crop_scale`` around the judged box
    (analysis never aligns), so on a key frame this gives the heatmap analysis stored.
    """
    frame = read_judged_frame(path, settings, score.frame_index, job)
    job.check()
    detection = FaceDetection(tuple(score.box), score.detection_score, np.zeros((6, 2)), "judged")
    crop = crop_face(frame.rgb, detection, input_size, settings.crop_scale, frame_index=frame.index)
    (heat,) = face_heats(explainer, [crop])
    return heat


def spectrum_crop(frame: Frame, crop: FaceCrop, size: int, scale: float) -> np.ndarray:
    """The face cut again from its frame at ``size`` px: spectra compare only at the reference's scale."""
    if crop.image.shape[0] == size:
        return crop.image
    height, width = frame.rgb.shape[:2]
    return crop_image(frame.rgb, crop_geometry(crop.detection, (width, height), size, scale))


def explain_key_frames(
    candidates: list[Candidate],
    explainer: Explainer | None,
    reference: ReferenceSpectrum,
    threshold: float,
    job: JobControl,
) -> list[KeyFrame]:
    """Grad-CAM (when an explainer is given), pictures and spectra for the chosen faces.

    The spectrum is taken from the face cut at the reference band's crop size (same
    ``crop_scale``, see ``KeyFrameCandidates``), so its frequencies mean the same as the band's.
    """
    if not candidates:
        return []
    crops = [candidate.crop() for candidate in candidates]
    heats = face_heats(explainer, crops)
    keys = []
    for index, (candidate, crop, heat) in enumerate(zip(candidates, crops, heats, strict=True)):
        job.check()
        heatmap, box, peak = heat.heatmap, heat.box, heat.peak
        face_for_spectrum = candidate.spectrum_face(crop)
        curve = radial_power(face_for_spectrum)
        comparison = compare(curve, reference)
        probability = candidate.face.fake_probability
        key = KeyFrame(
            frame_index=crop.frame_index,
            timestamp_s=round(crop.timestamp_s, 4),
            track_id=crop.track_id,
            box=box,
            fake_probability=round(probability, 6),
            level_weights=[round(float(v), 4) for v in candidate.face.level_weights],
            crop_geometry=crop.geometry.to_dict(),
            heatmap=coarse_grid(heatmap),
            heatmap_peak=[round(peak[0], 1), round(peak[1], 1)],
            peak_in_box=heat.peak_in_box,
            spectrum=[round(float(v), 3) for v in curve],
            spectrum_outside_fraction=comparison.outside_fraction,
            spectrum_high_excess_db=comparison.high_frequency_excess_db,
        )
        colour = (255, 64, 64) if probability >= threshold else (64, 255, 64)
        label = f"track {crop.track_id}  P(fake) {probability:.2f}"
        key.add_image(
            "frame",
            encode_png(
                frame_overlay(decode_picture(candidate.picture), heatmap, crop.geometry, box, label, colour)
            ),
        )
        key.add_image("crop", encode_png(crop_overlay(crop.image, heatmap)))
        key.add_image("spectrum", encode_png(spectrum_picture(log_magnitude(face_for_spectrum))))
        keys.append(key)
        job.report((index + 1) / len(candidates), "explaining")
    return keys
