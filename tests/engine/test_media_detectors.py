"""The detector factory: mediapipe when it can be had, OpenCV's Haar cascade otherwise, flagged as a fallback."""

import numpy as np
import pytest

from cffd_engine.errors import AssetError
from cffd_engine.media import detectors
from cffd_engine.media.detectors import DetectorSettings, HaarFaceDetector, create_face_detector
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces


@pytest.fixture
def mediapipe_unavailable(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssetError("face_detection_short_range.tflite is missing and could not be obtained (offline?)")

    monkeypatch.setattr(detectors, "FaceDetector", refuse)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown detector"):
        DetectorSettings(model="dlib")
    with pytest.raises(ValueError, match="min_confidence"):
        DetectorSettings(min_confidence=1.5)
    assert DetectorSettings().to_dict()["min_face_size"] == 32


def test_mediapipe_is_used_when_its_model_is_there(portrait):
    with create_face_detector(DetectorSettings("short", 0.5, 40)) as detector:
        assert not detector.is_fallback and detector.name == "mediapipe-short-range"
        (face,) = detector.detect(portrait)
        assert face.score > 0.5
        assert detector.detect(np.full((200, 200, 3), 90, np.uint8)) == []


def test_threshold_and_minimum_size_filter_faces(portrait):
    with create_face_detector(DetectorSettings(min_face_size=250)) as detector:
        assert detector.detect(portrait) == []  # the portrait's face is 194 px
    with create_face_detector(DetectorSettings(min_confidence=0.99)) as detector:
        assert detector.detect(portrait) == []


def test_no_detector_at_all_names_both_problems(mediapipe_unavailable, monkeypatch, tmp_path):
    monkeypatch.setattr(detectors, "haar_cascade_candidates", lambda explicit=None: [tmp_path / "none.xml"])

    def offline(name, explicit_dir=None):
        raise AssetError(f"{name}: missing and could not be obtained (offline?)")

    monkeypatch.setattr(detectors.assets, "require", offline)
    with pytest.raises(AssetError) as caught:
        create_face_detector()
    message = str(caught.value)
    assert "mediapipe" in message and "face_detection_short_range.tflite" in message
    assert "haarcascade_frontalface_default.xml" in message and str(tmp_path / "none.xml") in message


def test_fallback_is_refused_when_not_allowed(mediapipe_unavailable):
    with pytest.raises(AssetError, match="short_range"):
        create_face_detector(DetectorSettings(allow_fallback=False))


def test_haar_fallback_finds_the_face_and_is_flagged(mediapipe_unavailable, portrait, portrait_video):
    with create_face_detector() as detector:
        assert isinstance(detector, HaarFaceDetector) and detector.is_fallback
        (face,) = detector.detect(portrait)
    x, y, w, h = face.box
    assert face.detector == "opencv-haar" and face.keypoints.shape == (6, 2)
    assert 150 < x + w / 2 < 380 and 150 < y + h / 2 < 330 and 150 < w < 300
    result = extract_faces(portrait_video, FaceExtractionSettings(stride=5))
    assert result.detector_fallback and result.detector == "opencv-haar"
    assert result.to_dict()["detector_fallback"] is True
    assert len(result.tracks) == 1 and result.tracks[0].frame_indices == [0, 5, 10, 15]
