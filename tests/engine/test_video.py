import hashlib

import cv2
import numpy as np
import pytest

from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.media import video


def test_probe_reports_what_was_encoded(portrait_video):
    info = video.probe(portrait_video)
    assert info.kind == "video"
    assert (info.width, info.height) == (640, 480)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 20
    assert info.duration_s == pytest.approx(0.8, abs=0.05)
    assert info.codec == "mpeg4"
    assert info.file_size == portrait_video.stat().st_size


def test_first_frame_matches_what_was_encoded(portrait_video):
    from tests.synthetic_media import moving_face_frames

    frame = video.read_first_frame(portrait_video)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert np.abs(frame.astype(int) - moving_face_frames(1)[0].astype(int)).mean() < 6


def test_hashes_match_hashlib_and_report_progress(portrait_video):
    seen = []
    hashes = video.file_hashes(portrait_video, JobControl(lambda fraction, message: seen.append(fraction)))
    data = portrait_video.read_bytes()
    assert hashes == {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    assert seen[-1] == 1.0


def test_hashing_stops_when_cancelled(portrait_video):
    job = JobControl()
    job.cancel()
    with pytest.raises(Cancelled):
        video.file_hashes(portrait_video, job)


def test_image_is_a_one_frame_input(tmp_path, portrait):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    info = video.probe(path)
    assert (info.kind, info.frame_count, info.width, info.height) == ("image", 1, 512, 600)
    np.testing.assert_array_equal(video.read_first_frame(path), portrait)


def test_zero_byte_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(EvidenceError, match="empty") as caught:
        video.probe(path)
    assert caught.value.path == path


def test_text_renamed_to_mp4_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("These are an examiner's notes, not a video.\n" * 20)
    with pytest.raises(EvidenceError, match="not a video") as caught:
        video.probe(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_truncated_video_is_reported_as_truncated(tmp_path, portrait_video, keep):
    data = portrait_video.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(EvidenceError, match="truncated") as caught:
        video.probe(path)
    assert "complete copy" in caught.value.fix


def test_missing_file_and_folder_have_their_own_errors(tmp_path):
    with pytest.raises(EvidenceError, match="no such file"):
        video.probe(tmp_path / "gone.mp4")
    with pytest.raises(EvidenceError, match="folder"):
        video.probe(tmp_path)
