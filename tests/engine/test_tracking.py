"""Faces through a video: tracks (one face, two faces, a stretch without a face), crops, no face, big frames."""

import cv2
import numpy as np
import pytest

from cffd_engine.media.faces import FaceDetection, FaceDetector
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces, main_track
from cffd_engine.media.tracking import FaceTracker, TrackerSettings, box_iou
from tests import synthetic_media

# Where the detector puts the face centre in the still portrait (box 171, 146, 194 x 194), as fractions.
PORTRAIT_FACE_CENTRE = (268 / 512, 243 / 600)


@pytest.fixture(scope="module")
def detector():
    with FaceDetector("short", min_confidence=0.5) as face_detector:
        yield face_detector


def _det(x, y, size=100, score=0.9):
    return FaceDetection((x, y, size, size), score, np.zeros((6, 2), np.float32), "test")


def test_tracker_links_by_overlap_and_keeps_faces_apart():
    tracker = FaceTracker()
    for index in range(5):
        ids = tracker.update(index, index / 25, [_det(10 + 8 * index, 50), _det(400 - 8 * index, 60)])
        assert ids == [0, 1]
    tracks = tracker.tracks()
    assert [t.frame_indices for t in tracks] == [list(range(5))] * 2
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)


def test_tracker_bridges_a_short_gap_but_not_a_long_one():
    tracker = FaceTracker(TrackerSettings(max_missed=2))
    plan = {0: 1, 1: 1, 2: 0, 3: 0, 4: 1, 5: 0, 6: 0, 7: 0, 8: 1}
    for index, present in plan.items():
        tracker.update(index, index / 25, [_det(100 + 5 * index, 100)] if present else [])
    assert [t.frame_indices for t in tracker.tracks()] == [[0, 1, 4], [8]]


def test_tracker_links_a_fast_face_by_centre_distance_and_not_a_far_one():
    tracker = FaceTracker()
    tracker.update(0, 0.0, [_det(100, 100)])
    assert tracker.update(1, 0.04, [_det(150, 100)]) == [0]  # IoU 0.33 / shift 0.5 face: same face
    assert tracker.update(2, 0.08, [_det(400, 100)]) == [1]  # 2.5 faces away: another face


def test_one_moving_face_is_one_track_with_centred_crops(portrait_video, detector):
    result = extract_faces(portrait_video, FaceExtractionSettings(crop_size=128), detector=detector)
    assert not result.no_face and not result.detector_fallback
    (track,) = result.tracks
    assert track.frame_indices == list(range(20))
    assert len(result.crops) == 20
    offsets = []
    for crop in result.crops:
        # Where the face centre truly is (portrait scaled to 300 rows, slid right) must be mid-crop.
        left = synthetic_media.portrait_offset(crop.frame_index)
        face_x = left + PORTRAIT_FACE_CENTRE[0] * 300 * 512 / 600
        face_y = 90 + PORTRAIT_FACE_CENTRE[1] * 300
        offsets.append(crop.geometry.to_crop([[face_x, face_y]])[0] - 63.5)
        # And the geometry maps the crop centre back onto the detected face's centre.
        ((fx, fy),) = crop.geometry.to_frame([[63.5, 63.5]])
        assert (fx, fy) == pytest.approx(crop.detection.center, abs=1.5)  # squares are whole pixels
    offsets = np.array(offsets)
    assert np.abs(offsets).max() < 128 * 0.08  # the detector's own jitter, frame to frame
    assert np.abs(offsets.mean(axis=0)).max() < 128 * 0.03
    assert result.to_dict()["tracks"][0]["length"] == 20


def test_two_faces_are_two_tracks(tmp_path, detector):
    path = synthetic_media.write_video_av(tmp_path / "two.mp4", synthetic_media.two_face_frames(10))
    result = extract_faces(path, detector=detector)
    assert len(result.tracks) == 2
    left, right = sorted(result.tracks, key=lambda t: t.faces[0].detection.center[0])
    assert left.frame_indices == right.frame_indices == list(range(10))
    assert all(f.detection.center[0] < 400 for f in left.faces)
    assert all(f.detection.center[0] > 400 for f in right.faces)


def test_stretch_without_a_face(tmp_path, detector):
    frames = synthetic_media.frames_with_gap(20, gap=(6, 10))
    path = synthetic_media.write_video_av(tmp_path / "gap.mp4", frames)
    bridged = extract_faces(path, detector=detector)  # default: up to 5 frames missed
    (track,) = bridged.tracks
    assert track.frame_indices == [*range(6), *range(10, 20)]
    assert bridged.frames_with_faces == 16 and bridged.frames_read == 20
    settings = FaceExtractionSettings(tracker=TrackerSettings(max_missed=3))
    split = extract_faces(path, settings, detector=detector)
    assert [t.frame_indices for t in split.tracks] == [list(range(6)), list(range(10, 20))]
    assert main_track(split).track_id == 1  # the longer one


def test_no_face_is_a_result_with_a_reason(tmp_path):
    path = synthetic_media.write_video_av(tmp_path / "wall.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 5)
    result = extract_faces(path)
    assert result.no_face and result.crops == [] and result.frames_read == 5
    assert "no face found in the 5 frame(s)" in result.not_applicable


def test_image_with_no_face(tmp_path, detector):
    path = tmp_path / "landscape.jpg"
    sky = np.dstack([np.linspace(90, 200, 480)[:, None].repeat(640, 1)] * 3).astype(np.uint8)
    cv2.imwrite(str(path), sky)
    result = extract_faces(path, detector=detector)
    assert result.no_face and result.media.kind == "image" and result.frames_read == 1


def test_8k_frame_gives_the_face_in_full_resolution_pixels(tmp_path, detector):
    frame = np.full((4320, 7680, 3), 90, np.uint8)
    portrait = synthetic_media.scaled_portrait(
        3600
    )  # the short-range detector wants a face >~15% of the frame
    synthetic_media.paste(frame, portrait, 2500, 100)
    path = tmp_path / "8k frame.png"
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    result = extract_faces(path, FaceExtractionSettings(crop_size=224), detector=detector)
    (crop,) = result.crops
    assert result.media.width == 7680 and crop.geometry.frame_size == (7680, 4320)
    expected = (2500 + PORTRAIT_FACE_CENTRE[0] * portrait.shape[1], 100 + PORTRAIT_FACE_CENTRE[1] * 3600)
    assert crop.detection.center == pytest.approx(expected, abs=3600 * 0.02)
    assert crop.image.shape == (224, 224, 3)


def test_landmarks_when_asked_lie_on_the_face(portrait_video, detector):
    settings = FaceExtractionSettings(stride=10, landmarks=True)
    result = extract_faces(portrait_video, settings, detector=detector)
    assert len(result.crops) == 2
    for crop in result.crops:
        assert crop.landmarks.shape == (478, 3)
        x, y, w, h = crop.detection.box
        inside = crop.geometry.to_crop(crop.landmarks[:, :2])
        assert ((inside > 0) & (inside < crop.geometry.size)).all()  # all within the crop
        nose = crop.landmarks[1, :2]
        assert x < nose[0] < x + w and y < nose[1] < y + h
    assert len(result.to_dict()["crops"][0]["landmarks"]) == 478
