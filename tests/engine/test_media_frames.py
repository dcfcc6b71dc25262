"""Frame iteration: strides, evenly spaced frames, timestamps, images, and damaged or odd evidence."""

import cv2
import numpy as np
import pytest

from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.media.frames import FramePool, iter_frames, plan_indices, read_frames
from tests import synthetic_media


@pytest.fixture(scope="module")
def h264_video(tmp_path_factory):
    """40 frames of H.264 at 25 fps, index first (faststart), a key frame every 10 frames."""
    path = tmp_path_factory.mktemp("h264") / "clip.mp4"
    return synthetic_media.write_video_av(
        path, synthetic_media.moving_face_frames(40, size=(320, 240), face_height=150)
    )


def test_every_frame_has_its_presentation_time(h264_video):
    frames, status = read_frames(h264_video)
    assert [f.index for f in frames] == list(range(40))
    np.testing.assert_allclose([f.timestamp_s for f in frames], np.arange(40) / 25, atol=1e-6)
    assert status.complete and status.problem is None
    assert status.frames_decoded == status.frames_returned == 40
    assert frames[0].rgb.shape == (240, 320, 3) and frames[0].rgb.dtype == np.uint8


def test_stride_keeps_every_nth_frame_with_its_time(portrait_video):
    frames, status = read_frames(portrait_video, stride=6)
    assert [f.index for f in frames] == [0, 6, 12, 18]
    np.testing.assert_allclose([f.timestamp_s for f in frames], [0.0, 0.24, 0.48, 0.72], atol=1e-6)
    assert status.complete and status.frames_decoded == 20


def test_count_spreads_frames_evenly_from_first_to_last(h264_video):
    frames, _ = read_frames(h264_video, count=5)
    assert [f.index for f in frames] == [0, 10, 20, 29, 39]
    np.testing.assert_allclose([f.timestamp_s for f in frames], [0.0, 0.4, 0.8, 1.16, 1.56], atol=1e-6)
    assert plan_indices(3, 8) == [0, 1, 2] and plan_indices(0, 4) == []


def test_decoded_pixels_are_the_encoded_frame(portrait_video):
    expected = synthetic_media.moving_face_frames(20)
    for frame in iter_frames(portrait_video, stride=7):
        assert np.abs(frame.rgb.astype(int) - expected[frame.index].astype(int)).mean() < 6


def test_image_is_one_frame_at_time_zero(tmp_path, portrait):
    path = tmp_path / "face.webp"
    cv2.imwrite(str(path), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, 101])
    frames, status = read_frames(path, stride=5, count=10)
    assert len(frames) == 1 and (frames[0].index, frames[0].timestamp_s) == (0, 0.0)
    np.testing.assert_array_equal(frames[0].rgb, portrait)
    assert status.kind == "image" and status.complete


def test_truncated_video_gives_what_it_holds_and_says_how_far(tmp_path, h264_video):
    data = h264_video.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    frames, status = read_frames(path)
    assert 10 <= len(frames) < 40
    assert not status.complete and "truncated" in status.problem
    assert f"of {status.expected_frames} frames" in status.problem
    assert status.last_timestamp_s == pytest.approx(frames[-1].timestamp_s)
    assert f"to {status.last_timestamp_s:.2f} s" in status.message
    spread, _ = read_frames(path, count=4)
    assert spread[0].index == 0 and spread[-1].index <= frames[-1].index


def test_video_cut_inside_its_first_frame_is_an_error_not_a_crash(tmp_path, h264_video):
    path = tmp_path / "cut early.mp4"
    path.write_bytes(h264_video.read_bytes()[:3000])
    with pytest.raises(EvidenceError, match="truncated") as caught:
        read_frames(path)
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty"), (b"Notes from the interview, not a video.\n" * 30, "not a video")],
    ids=["zero-byte", "text-renamed-mp4"],
)
def test_unreadable_files_raise_their_own_error(tmp_path, content, problem):
    path = tmp_path / "evidence.mp4"
    path.write_bytes(content)
    with pytest.raises(EvidenceError, match=problem) as caught:
        iter_frames(path)
    assert caught.value.path == path and caught.value.fix


def test_path_with_spaces_and_non_ascii_characters(tmp_path, portrait_video, portrait):
    folder = tmp_path / "Beweisstück Nr 7 – çà ü 証拠"
    folder.mkdir()
    video = folder / "clip vidéo 01.mp4"
    video.write_bytes(portrait_video.read_bytes())
    image = folder / "visage été.png"
    image.write_bytes(cv2.imencode(".png", cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))[1].tobytes())
    frames, status = read_frames(video, stride=10)
    assert [f.index for f in frames] == [0, 10] and status.complete
    assert status.path == str(video)
    (only,), _ = read_frames(image)
    np.testing.assert_array_equal(only.rgb, portrait)


def test_progress_is_reported_and_cancel_stops_reading(portrait_video):
    seen = []
    frames, _ = read_frames(portrait_video, job=JobControl(lambda fraction, message: seen.append(fraction)))
    assert len(frames) == 20 and seen[-1] == 1.0 and seen == sorted(seen)
    job = JobControl()
    reader = iter_frames(portrait_video, job=job)
    with pytest.raises(Cancelled):
        for frame in reader:
            if frame.index == 3:
                job.cancel()
    assert reader.status.frames_returned == 4


def test_frames_held_keep_their_pixels_and_frames_let_go_are_refilled(h264_video):
    """Decoded frames are pooled: a frame (or a crop of it) anyone holds is never overwritten."""
    copied_at_once = [frame.rgb.copy() for frame in iter_frames(h264_video)]
    assert any(
        np.any(a != b) for a, b in zip(copied_at_once[:-1], copied_at_once[1:], strict=True)
    )  # it moves

    held = [frame.rgb for frame in iter_frames(h264_video)]
    assert len({array.ctypes.data for array in held}) == 40
    for array, expected in zip(held, copied_at_once, strict=True):
        np.testing.assert_array_equal(array, expected)

    crop_of_first = None
    addresses = set()
    for frame in iter_frames(h264_video):
        np.testing.assert_array_equal(frame.rgb, copied_at_once[frame.index])
        if crop_of_first is None:
            crop_of_first = frame.rgb[60:180, 100:220]  # a view: it keeps the first frame's array
        else:
            addresses.add(frame.rgb.ctypes.data)
        del frame
    np.testing.assert_array_equal(crop_of_first, copied_at_once[0][60:180, 100:220])
    assert len(addresses) <= 2  # the frames let go were refilled, not allocated anew


def test_the_frame_pool_grows_to_the_frames_held_at_once_and_no_further():
    pool = FramePool(size=3)
    images = [np.full((4, 5, 3), value, np.uint8) for value in range(6)]
    held = [pool.copy(image) for image in images[:4]]  # four at once: the fourth is not pooled
    assert [int(array[0, 0, 0]) for array in held] == [0, 1, 2, 3]
    first = held[0].ctypes.data
    del held[0]
    refilled = pool.copy(images[4])
    assert refilled.ctypes.data == first and int(refilled[0, 0, 0]) == 4
    assert [int(array[0, 0, 0]) for array in held] == [1, 2, 3]  # untouched while held
    other_shape = pool.copy(np.zeros((2, 2, 3), np.uint8))
    assert other_shape.shape == (2, 2, 3) and other_shape.ctypes.data not in {a.ctypes.data for a in held}
