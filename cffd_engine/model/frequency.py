"""Frequency input of RSIA-Net: orthonormal 2-D DCT-II by matrices, and band images in pixel space.

The model's frequency branch sees 12 channels aligned pixel-for-pixel with the RGB
crop: for each of the bands low, middle, high and all, the inverse DCT of the masked
spectrum of each colour channel (frequency-aware decomposition, as in F3Net). The
transform is two matrix products with precomputed DCT matrices, never a Python loop.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from cffd_engine.model.config import FrequencyMode

BAND_NAMES = ("low", "middle", "high", "all")


def dct_matrix(n: int, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
    """The orthonormal DCT-II matrix C (n x n): ``C @ v`` is ``scipy.fft.dct(v, norm='ortho')``."""
    k = torch.arange(n, dtype=torch.float64, device=device)[:, None]
    i = torch.arange(n, dtype=torch.float64, device=device)[None, :]
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(dtype)


def dct2(x: Tensor) -> Tensor:
    """Orthonormal 2-D DCT-II over the last two axes (any leading shape)."""
    ch = dct_matrix(x.shape[-2], x.dtype, x.device)
    cw = dct_matrix(x.shape[-1], x.dtype, x.device)
    return ch @ x @ cw.T


def idct2(coefficients: Tensor) -> Tensor:
    """Inverse of ``dct2`` (the matrices are orthogonal, so it is the transpose)."""
    ch = dct_matrix(coefficients.shape[-2], coefficients.dtype, coefficients.device)
    cw = dct_matrix(coefficients.shape[-1], coefficients.dtype, coefficients.device)
    return ch.T @ coefficients @ cw


def band_masks(height: int, width: int, edges: tuple[float, float]) -> Tensor:
    """Masks (3, H, W) for the low, middle and high bands; they partition the spectrum.

    A coefficient (i, j) belongs to a band by its normalised diagonal index
    d = i/H + j/W: low d < edges[0], middle edges[0] <= d < edges[1], high the rest.
    """
    i = torch.arange(height, dtype=torch.float64)[:, None] / height
    j = torch.arange(width, dtype=torch.float64)[None, :] / width
    d = i + j
    low = d < edges[0]
    middle = (d >= edges[0]) & (d < edges[1])
    high = d >= edges[1]
    return torch.stack([low, middle, high]).to(torch.float32)


class FrequencyTransform(nn.Module):
    """RGB (N, 3, H, W) -> band image (N, 12, H, W): [low, middle, high, all] x [R, G, B].

    ``low + middle + high`` equals the input and ``all`` is the input itself (the
    inverse DCT of the unmasked spectrum). In "bands" mode the DCT covers the whole
    crop; in "block" mode it is taken per ``block_size`` tile (JPEG-like), and H and W
    must be multiples of the block size. Computed in float32 even under autocast.
    """

    def __init__(self, mode: FrequencyMode, edges: tuple[float, float], block_size: int, size: int):
        super().__init__()
        self.mode = mode
        self.edges = (float(edges[0]), float(edges[1]))
        self.block_size = block_size
        self.size = size
        self._cache: dict[tuple[int, int, str], tuple[Tensor, Tensor, Tensor]] = {}
        if mode == "block":
            matrix = dct_matrix(block_size, torch.float32)
            masks = band_masks(block_size, block_size, self.edges)[:2]
            self.register_buffer("block_matrix", matrix, persistent=False)
            self.register_buffer("block_masks", masks, persistent=False)
        else:
            rows, cols, masks = self._whole_crop_operators(size, size, torch.device("cpu"))
            # Buffers for the configured size follow .to(device); other sizes are built on demand.
            self.register_buffer("row_matrix", rows, persistent=False)
            self.register_buffer("col_matrix", cols, persistent=False)
            self.register_buffer("masks", masks, persistent=False)

    def _whole_crop_operators(self, height: int, width: int, device: torch.device) -> tuple[Tensor, ...]:
        # Only coefficients with i/H < edges[1] and j/W < edges[1] can be in the low or middle
        # band, so the low and middle images need just those DCT rows; high = input - low - middle.
        kh = min(height, math.ceil(self.edges[1] * height))
        kw = min(width, math.ceil(self.edges[1] * width))
        rows = dct_matrix(height, torch.float32, device)[:kh]
        cols = dct_matrix(width, torch.float32, device)[:kw]
        masks = band_masks(height, width, self.edges)[:2, :kh, :kw].to(device)
        return rows, cols, masks

    def _operators(self, height: int, width: int, device: torch.device) -> tuple[Tensor, ...]:
        if height == width == self.size and self.row_matrix.device == device:
            return self.row_matrix, self.col_matrix, self.masks
        key = (height, width, str(device))
        if key not in self._cache:
            self._cache[key] = self._whole_crop_operators(height, width, device)
        return self._cache[key]

    def low_and_middle(self, x: Tensor) -> Tensor:
        """The low and middle band images, shape (N, 2, C, H, W)."""
        if self.mode == "block":
            return self._block_low_and_middle(x)
        rows, cols, masks = self._operators(x.shape[-2], x.shape[-1], x.device)
        spectrum = rows @ x @ cols.T  # (N, C, kh, kw)
        masked = spectrum.unsqueeze(1) * masks[None, :, None]  # (N, 2, C, kh, kw)
        return rows.T @ masked @ cols

    def _block_low_and_middle(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        b = self.block_size
        if h % b or w % b:
            raise ValueError(f"block DCT needs H and W divisible by {b}; got an input of {h}x{w}")
        tiles = x.reshape(n, c, h // b, b, w // b, b).transpose(3, 4)  # (N, C, h/b, w/b, b, b)
        spectrum = self.block_matrix @ tiles @ self.block_matrix.T
        masked = spectrum.unsqueeze(1) * self.block_masks[None, :, None, None, None]
        bands = self.block_matrix.T @ masked @ self.block_matrix  # (N, 2, C, h/b, w/b, b, b)
        return bands.transpose(4, 5).reshape(n, 2, c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            low_and_middle = self.low_and_middle(x)
            high = x - low_and_middle.sum(dim=1)
            return torch.cat([low_and_middle.flatten(1, 2), high, x], dim=1)
