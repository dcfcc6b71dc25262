"""The DCT and the band images against scipy, computed independently of the engine's matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.fft import dctn, idctn

from cffd_engine.model.frequency import FrequencyTransform, band_masks, dct2, dct_matrix, idct2

EDGES = (1 / 2.82, 0.5)


def reference_bands(image: np.ndarray, edges: tuple[float, float]) -> list[np.ndarray]:
    """low, middle, high band images of (C, H, W) from scipy's DCT, masks written out by loops."""
    _, h, w = image.shape
    spectrum = dctn(image, axes=(-2, -1), norm="ortho")
    masks = [np.zeros((h, w)) for _ in range(3)]
    for i in range(h):
        for j in range(w):
            d = i / h + j / w
            band = 0 if d < edges[0] else (1 if d < edges[1] else 2)
            masks[band][i, j] = 1.0
    return [idctn(spectrum * m, axes=(-2, -1), norm="ortho") for m in masks]


def test_dct_matches_scipy_and_inverts():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 16, 24))
    ours = dct2(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, dctn(x, axes=(-2, -1), norm="ortho"), atol=1e-10)
    x32 = torch.from_numpy(x).float()
    np.testing.assert_allclose(dct2(x32).numpy(), dctn(x, axes=(-2, -1), norm="ortho"), atol=1e-5)
    np.testing.assert_allclose(idct2(dct2(x32)).numpy(), x, atol=1e-5)
    np.testing.assert_allclose(idct2(dct2(torch.from_numpy(x))).numpy(), x, atol=1e-12)


def test_dct_matrix_is_orthonormal():
    c = dct_matrix(20)
    torch.testing.assert_close(c @ c.T, torch.eye(20, dtype=torch.float64))


def test_band_masks_partition_the_spectrum():
    masks = band_masks(32, 40, EDGES)
    assert masks.shape == (3, 32, 40)
    torch.testing.assert_close(masks.sum(0), torch.ones(32, 40))
    assert masks[0, 0, 0] == 1 and masks[2, -1, -1] == 1
    assert all(m.sum() > 0 for m in masks)


@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
def test_band_images_match_scipy_and_sum_to_the_image(size):
    h, w = size
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(2, 3, h, w)).astype(np.float32)
    transform = FrequencyTransform("bands", EDGES, 8, size=32)  # 24x40 goes the on-demand way
    out = transform(torch.from_numpy(image)).numpy()
    assert out.shape == (2, 12, h, w)
    for n in range(2):
        expected = reference_bands(image[n].astype(np.float64), EDGES)
        for band in range(3):
            np.testing.assert_allclose(out[n, 3 * band : 3 * band + 3], expected[band], atol=1e-5)
    np.testing.assert_allclose(out[:, 9:12], image, atol=0)
    np.testing.assert_allclose(out[:, 0:3] + out[:, 3:6] + out[:, 6:9], image, atol=1e-5)
    # Each band really is a different part of the image: low is smooth, high is not.
    assert np.abs(out[:, 6:9]).mean() > 0.05 and np.abs(out[:, 0:3]).mean() > 0.1


def test_block_mode_matches_per_block_scipy():
    rng = np.random.default_rng(2)
    image = rng.uniform(size=(1, 3, 16, 24)).astype(np.float32)
    out = FrequencyTransform("block", EDGES, 8, size=16)(torch.from_numpy(image)).numpy()
    expected = np.zeros((3, 3, 16, 24))
    for r in range(0, 16, 8):
        for c in range(0, 24, 8):
            tile = image[0, :, r : r + 8, c : c + 8].astype(np.float64)
            for band, part in enumerate(reference_bands(tile, EDGES)):
                expected[band, :, r : r + 8, c : c + 8] = part
    for band in range(3):
        np.testing.assert_allclose(out[0, 3 * band : 3 * band + 3], expected[band], atol=1e-5)
    np.testing.assert_allclose(out[0, :3] + out[0, 3:6] + out[0, 6:9], image[0], atol=1e-5)


def test_block_mode_rejects_sizes_that_do_not_tile():
    transform = FrequencyTransform("block", EDGES, 8, size=16)
    with pytest.raises(ValueError, match="divisible by 8"):
        transform(torch.rand(1, 3, 20, 16))


def test_transform_stays_float32_under_autocast():
    transform = FrequencyTransform("bands", EDGES, 8, size=16)
    x = torch.rand(1, 3, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = transform(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[:, :3] + out[:, 3:6] + out[:, 6:9], x, atol=1e-5, rtol=0)
