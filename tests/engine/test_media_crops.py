"""Face crops: the square, the size, and the geometry that maps crop points back to frame pixels."""

import numpy as np
import pytest

from cffd_engine.media.crops import CropGeometry, crop_face, crop_geometry, square_box
from cffd_engine.media.faces import FaceDetection


def _face(box, eyes=((0.3, 0.4), (0.7, 0.4))):
    x, y, w, h = box
    keypoints = np.array(
        [[x + ex * w, y + ey * h] for ex, ey in eyes] + [[x + w / 2, y + h / 2]] * 4, np.float32
    )
    return FaceDetection(box=box, score=0.9, keypoints=keypoints, detector="test")


def _coordinate_frame(width=640, height=480):
    """A frame whose pixels encode their own position: R = x / 4, G = y / 4 (smooth, so resampling keeps it)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.dstack([xs / 4, ys / 4, np.full_like(xs, 128)]).astype(np.uint8)


def test_square_is_scaled_and_centred_on_the_face():
    assert square_box((100, 50, 80, 100), 1.3) == pytest.approx((75, 35, 130))
    crop = crop_face(_coordinate_frame(), _face((100, 50, 80, 100)), size=64)
    assert crop.image.shape == (64, 64, 3)
    assert crop.geometry.square == (75.0, 35.0, 130.0)
    np.testing.assert_allclose(crop.geometry.to_frame([[31.5, 31.5]]), [[139.5, 99.5]])


@pytest.mark.parametrize("align", [False, True], ids=["plain", "aligned"])
@pytest.mark.parametrize("size", [64, 224], ids=["shrunk", "enlarged"])
def test_crop_points_map_back_to_the_frame_pixels_they_show(align, size):
    frame = _coordinate_frame()
    eyes = ((0.3, 0.35), (0.7, 0.45))  # tilted about 14 degrees, so alignment rotates
    crop = crop_face(frame, _face((200, 150, 120, 140), eyes), size=size, align=align)
    rng = np.random.default_rng(0)
    points = rng.uniform(2, size - 3, (50, 2))
    in_frame = crop.geometry.to_frame(points)
    shown = crop.image[points[:, 1].round().astype(int), points[:, 0].round().astype(int), :2].astype(float)
    expected = in_frame / 4
    # Colours encode x/4 and y/4 (one level = 4 px): the point shows the colour of where it maps to.
    tolerance = 1.5 + (0.3 * crop.geometry.square[2] / size)
    assert np.abs(shown - expected).max() < tolerance
    np.testing.assert_allclose(crop.geometry.to_crop(in_frame), points, atol=1e-9)


def test_aligned_crop_levels_the_eyes():
    eyes = ((0.3, 0.3), (0.7, 0.5))
    crop = crop_face(_coordinate_frame(), _face((200, 150, 120, 140), eyes), size=128, align=True)
    right_eye, left_eye = crop.geometry.to_crop(crop.detection.keypoints[:2])
    assert left_eye[1] == pytest.approx(right_eye[1], abs=1e-3)
    assert crop.geometry.angle_deg == pytest.approx(np.degrees(np.arctan2(0.2 * 140, 0.4 * 120)))


def test_square_beyond_the_frame_is_padded_black_and_stays_centred():
    frame = np.full((200, 300, 3), 200, np.uint8)
    crop = crop_face(frame, _face((-20, 120, 100, 100)), size=100)
    x, y, side = crop.geometry.square
    assert (x + side / 2, y + side / 2) == (30.0, 170.0)
    assert crop.image[5, 5].tolist() == [0, 0, 0]  # outside the frame, top-left is x < 0
    assert crop.image[40, 60].tolist() == [200, 200, 200]


def test_big_frame_shrinks_without_aliasing():
    stripes = np.zeros((4320, 7680, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: any point sampling gives black or white
    crop = crop_face(stripes, _face((3000, 1500, 2000, 2000)), size=224)
    # Area averaging gives mid-grey (11.6 stripes per output pixel: +-5 levels); sampling would give 0 or 255.
    assert abs(crop.image.mean() - 127.5) < 2 and crop.image.min() > 115 and crop.image.max() < 140


def test_heatmap_lands_where_the_crop_was():
    geometry = crop_geometry(_face((100, 100, 100, 100)), (400, 300), size=50, scale=1.0)
    heat = np.zeros((50, 50), np.float32)
    heat[20:30, 20:30] = 1.0
    on_frame = geometry.heatmap_to_frame(heat)
    assert on_frame.shape == (300, 400)
    ys, xs = np.nonzero(on_frame > 0.5)
    assert 139 <= xs.min() <= 141 and 158 <= xs.max() <= 160
    assert 139 <= ys.min() <= 141 and 158 <= ys.max() <= 160
    assert on_frame[:, :90].max() == 0


def test_geometry_survives_json():
    geometry = crop_geometry(_face((10, 20, 30, 40)), (64, 64), size=32, align=True)
    again = CropGeometry.from_dict(geometry.to_dict())
    assert again == geometry
    corners = again.corners_in_frame()
    assert corners.shape == (4, 2)
