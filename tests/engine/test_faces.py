import os
import sys

import cv2
import numpy as np
import pytest

from cffd_engine import assets
from cffd_engine.errors import AssetError
from cffd_engine.media import faces
from cffd_engine.media.faces import FaceDetection, FaceDetector, FaceLandmarker
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


def test_iris_centres_lie_between_their_eye_corners_and_the_face_score_is_high(portrait, landmarker):
    # Points 468 and 473 are the iris centres: taken from the wrong output of the iris network
    # (its 71 eye-contour points, OpenCV 5's default) they would not sit inside the eyes.
    (mesh,) = landmarker.meshes(portrait)
    points = mesh.points[:, :2]
    for centre, corner_a, corner_b in ((468, 33, 133), (473, 362, 263)):
        low, high = (
            np.minimum(points[corner_a], points[corner_b]),
            np.maximum(points[corner_a], points[corner_b]),
        )
        assert low[0] < points[centre, 0] < high[0], (
            f"iris {centre} at {points[centre]}, corners {low}-{high}"
        )
        eye_width = high[0] - low[0]
        assert abs(points[centre, 1] - (points[corner_a, 1] + points[corner_b, 1]) / 2) < 0.3 * eye_width
    assert mesh.face_score > 0.9


def test_the_face_score_is_low_where_a_detection_points_at_no_face(landmarker):
    wall = np.full((400, 400, 3), 90, np.uint8)
    not_a_face = FaceDetection(
        box=(150, 150, 100, 100),
        score=0.9,
        keypoints=np.array([[175, 180], [225, 180]] + [[200, 200]] * 4),
        detector="test",
    )
    (mesh,) = landmarker.meshes(wall, faces=[not_a_face])
    assert mesh.points.shape == (478, 3)
    assert mesh.face_score < 0.5


def test_a_landmark_model_with_other_outputs_is_refused_naming_the_file(monkeypatch):
    iris_file = assets.require("iris_landmarks")
    monkeypatch.setattr(faces.assets, "require", lambda name: iris_file)
    with pytest.raises(AssetError, match=r"iris_landmark\.tflite: this network has the outputs .*conv2d_21"):
        FaceLandmarker()


def test_an_output_of_another_size_is_refused_with_the_shape_it_had():
    network = faces._Network("iris_landmarks", (faces._Output("output_iris", (6, 3)),))
    with pytest.raises(AssetError, match=r"output_iris has shape \(1, 15\), expected 18 values"):
        network.run(cv2.dnn.blobFromImage(np.zeros((64, 64, 3), np.float32)))


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


def test_the_runtimes_chatter_is_dropped_and_errors_and_progress_are_kept(capfd):
    # Every detector that is made, run and closed writes LiteRT's INFO lines to file descriptor 2 (the
    # full-range model adds a warning for each of its sparse tensors); none of it may reach the analyst.
    for model in ("short", "full"):
        with FaceDetector(model) as face_detector:
            face_detector.detect(np.zeros((240, 320, 3), np.uint8))
    with faces._native_chatter_dropped():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"W0000 00:00:1764000000.000000    7 op_resolver.cc:1] an alignment warning\n")
        os.write(2, b"E0000 00:00:1764000000.000000    7 graph.cc:1] a native error\n")
        print("frames 40/80", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a native error" in err and "frames 40/80" in err
    assert "INFO: " not in err and "Sparsity" not in err and "alignment" not in err, err


class _WarnsOnSecondRun:
    """A detector's native graph that, like LiteRT on some inputs, warns about alignment on a later run."""

    def __init__(self, graph):
        self.graph, self.runs = graph, 0

    def detect(self, image):
        self.runs += 1
        if self.runs == 2:
            os.write(
                2,
                b"W0000 00:00:1796604583.8 19310 inference_runner_litert.cc:1433] Input tensor memory is "
                b"not aligned according to LiteRt's memory alignment requirements.\n",
            )
        return self.graph.detect(image)

    def close(self):
        self.graph.close()


def test_the_alignment_warning_is_dropped_on_whichever_run_it_comes(capfd, monkeypatch, portrait):
    monkeypatch.setattr(faces, "_alignment_warned", False)
    with FaceDetector() as face_detector:
        face_detector._detector = _WarnsOnSecondRun(face_detector._detector)
        counts = [len(face_detector.detect(portrait)) for _ in range(3)]
    assert counts == [1, 1, 1]
    assert "alignment" not in capfd.readouterr().err
    # LiteRT says it once per process: the later detections run unfiltered.
    assert faces._alignment_warned
