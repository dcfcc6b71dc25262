"""Key-frame candidates: the most suspicious faces per track, in bounded memory, pictured as the whole frame was."""

from __future__ import annotations

import cv2
import numpy as np

from cffd_engine.analysis.explain import MAX_FRAME_SIDE, decode_picture, frame_overlay, frame_picture
from cffd_engine.analysis.keyframes import KeyFrameCandidates
from cffd_engine.analysis.pipeline import JudgedFace
from cffd_engine.media.crops import crop_face
from cffd_engine.media.faces import FaceDetection
from cffd_engine.media.frames import Frame
from tests import synthetic_media as sm


def judged(frame: Frame, track_id: int, probability: float, box=(500.0, 200.0, 200.0, 240.0)) -> JudgedFace:
    detection = FaceDetection(box, 0.9, np.zeros((6, 2)), "test")
    crop = crop_face(frame.rgb, detection, 64, 1.3, frame_index=frame.index)
    crop.track_id = track_id
    return JudgedFace(crop, probability, np.full(4, 0.25))


def test_the_most_suspicious_faces_of_each_track_are_kept_and_no_whole_frame(tmp_path):
    rng = np.random.default_rng(0)
    candidates = KeyFrameCandidates(top_k=2, spectrum_size=96, crop_scale=1.3)
    frames = [Frame(i, i / 25, rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)) for i in range(20)]
    probabilities = rng.random(20)
    faces = [judged(frame, 0, float(p)) for frame, p in zip(frames, probabilities, strict=True)]
    for frame, face in zip(frames, faces, strict=True):
        candidates.add(frame, [face])
    kept = sorted(entry[2].face.fake_probability for entry in candidates._heaps[0])
    assert kept == sorted(probabilities)[-6:]  # top_k x CANDIDATES_PER_KEY
    chosen = candidates.choose(0, 0.0, 20 / 25)
    assert len(chosen) == 2 and chosen[0].face.fake_probability == probabilities.max()
    held = chosen[0]
    assert not any(isinstance(v, Frame | np.ndarray) for v in vars(held).values())  # compressed, no frame
    assert held.face.crop.image.size == 0
    original = faces[int(np.argmax(probabilities))].crop
    crop = held.crop()
    assert np.array_equal(crop.image, original.image)  # lossless
    assert crop.geometry == original.geometry and crop.frame_index == original.frame_index
    assert held.spectrum_face(crop).shape == (96, 96, 3)
    assert max(decode_picture(held.picture).shape[:2]) == MAX_FRAME_SIDE


def test_a_spectrum_cut_of_the_crop_s_size_is_the_crop_itself():
    frame = Frame(3, 0.12, np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    candidates = KeyFrameCandidates(top_k=1, spectrum_size=64, crop_scale=1.3)
    face = judged(frame, 0, 0.7, box=(100.0, 60.0, 80.0, 90.0))
    candidates.add(frame, [face])
    (held,) = candidates.choose(0, 0.0, 1.0)
    assert held.spectrum_png is None
    crop = held.crop()
    assert held.spectrum_face(crop) is crop.image and np.array_equal(crop.image, face.crop.image)


def test_past_the_limit_the_track_with_the_most_candidates_gives_up_its_least_suspicious():
    frame = Frame(0, 0.0, np.full((240, 320, 3), 128, np.uint8))
    candidates = KeyFrameCandidates(top_k=3, spectrum_size=64, crop_scale=1.3, limit=10)
    for i in range(9):  # one busy track: 9 candidates, probabilities 0.10 .. 0.90
        candidates.add(frame, [judged(frame, 0, (i + 1) / 10, box=(100.0, 60.0, 80.0, 90.0))])
    for track in range(1, 5):  # four more tracks, one face each
        candidates.add(frame, [judged(frame, track, 0.05, box=(100.0, 60.0, 80.0, 90.0))])
    assert candidates.count == 10 == sum(len(h) for h in candidates._heaps.values())
    busy = sorted(round(e[2].face.fake_probability, 2) for e in candidates._heaps[0])
    assert busy == [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # its three least suspicious went
    assert all(len(candidates._heaps[track]) == 1 for track in range(1, 5))


def test_the_frame_picture_from_the_reduced_copy_matches_the_one_from_the_whole_frame():
    rgb = cv2.resize(sm.portrait_rgb(), (1920, 1080), interpolation=cv2.INTER_CUBIC)  # a real photograph
    frame = Frame(0, 0.0, rgb)
    face = judged(frame, 0, 0.9, box=(900.0, 400.0, 300.0, 360.0))
    heat = np.zeros((64, 64), np.float32)
    heat[20:40, 20:40] = 1.0
    args = (heat, face.crop.geometry, list(face.crop.detection.box), "track 0", (255, 64, 64))
    whole = frame_overlay(rgb, *args)
    reduced = frame_overlay(decode_picture(frame_picture(rgb)), *args)
    assert whole.shape == reduced.shape == (540, 960, 3)
    assert np.abs(whole.astype(int) - reduced.astype(int)).mean() < 2.0  # JPEG at quality 95
