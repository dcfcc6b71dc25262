import numpy as np
import pytest

from cffd_engine.media.faces import FaceDetector, FaceLandmarker
from tests import synthetic_media


@pytest.fixture(scope="module")
def detector():
    with FaceDetector() as face_detector:
        yield face_detector


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker() as face_landmarker:
        yield face_landmarker


def test_landmarker_returns_478_points_inside_the_image(portrait, landmarker):
    (points,) = landmarker.landmarks(portrait)
    assert points.shape == (478, 3)
    height, width = portrait.shape[:2]
    assert (points[:, 0] > 0).all() and (points[:, 0] < width).all()
    assert (points[:, 1] > 0).all() and (points[:, 1] < height).all()


def test_detector_finds_exactly_one_face_in_the_portrait_and_the_box_is_on_it(portrait, detector, landmarker):
    (face,) = detector.detect(portrait)
    assert face.score > 0.7
    (points,) = landmarker.landmarks(portrait)
    x, y, w, h = face.box
    nose_tip = points[1, :2]  # landmark 1 is the nose tip in mediapipe's face mesh
    assert x < nose_tip[0] < x + w and y < nose_tip[1] < y + h
    centre = points[:, :2].mean(axis=0)
    assert np.linalg.norm(np.array(face.center) - centre) < 0.2 * w
    assert 0.5 < w / np.ptp(points[:, 0]) < 1.5


def test_detector_follows_the_face_through_the_generated_video(detector):
    frames = synthetic_media.moving_face_frames(n_frames=12)
    offsets = []
    for index, frame in enumerate(frames):
        faces = detector.detect(frame)
        assert len(faces) == 1, f"frame {index}: {len(faces)} faces"
        offsets.append(faces[0].center[0] - synthetic_media.portrait_offset(index))
    # The face moves with the portrait: its position relative to the portrait stays put.
    assert np.ptp(offsets) < 12


def test_no_face_is_an_empty_result_and_min_size_filters(detector, portrait):
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    with FaceDetector(min_face_size=400) as picky:
        assert picky.detect(portrait) == []


def test_detector_rejects_non_rgb_input(detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), np.float32))
