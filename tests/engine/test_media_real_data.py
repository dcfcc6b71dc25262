"""Faces in the shared real footage and photographs (skipped where the shared data is absent)."""

import pytest

from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces, main_track

pytestmark = pytest.mark.data


def test_real_interview_video_is_one_face_track_over_the_whole_clip(shared_data):
    result = extract_faces(
        shared_data / "videos" / "deeperforensics_input.mp4", FaceExtractionSettings(frames=32)
    )
    assert result.decode.complete and result.decode.frames_decoded == 396
    track = main_track(result)
    assert len(track) == 32 and (track.first_frame, track.last_frame) == (0, 395)
    assert track.faces[-1].timestamp_s == pytest.approx(395 / 25)


def test_photo_of_two_people_gives_two_faces(shared_data):
    result = extract_faces(shared_data / "photos" / "two_people.jpg")
    assert len(result.tracks) == 2 and len(result.crops) == 2
    left, right = sorted(crop.detection.center[0] for crop in result.crops)
    assert right - left > 300
