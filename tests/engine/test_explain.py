"""Grad-CAM as the analysis computes it, against its definition computed another way."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from cffd_engine.analysis.explain import Explainer, to_tensor
from cffd_engine.model import FAKE
from cffd_engine.store import load_model


def min_max(image: np.ndarray) -> np.ndarray:
    image = image - image.min()
    return image / (1e-7 + image.max())


def test_heatmaps_equal_grad_cam_by_its_definition(untrained_bundle):
    model = load_model(untrained_bundle)
    size = model.config.input_size
    crops = np.random.default_rng(0).integers(0, 255, (5, size, size, 3), dtype=np.uint8)
    for level in (2, 3):
        explainer = Explainer(model, level=level)
        maps = explainer.heatmaps(crops, batch_size=2)  # batches of 2, 2 and 1

        # Independently: a full backward pass with the layer's output keeping its gradient.
        kept: list[torch.Tensor] = []

        def keep(_module, _inputs, output, kept=kept) -> None:
            output.retain_grad()
            kept.append(output)

        hook = explainer._layer.register_forward_hook(keep)
        inputs = to_tensor(crops).requires_grad_(True)
        with torch.enable_grad():
            explainer.model(inputs).logits[:, FAKE].sum().backward()
        hook.remove()
        activations, gradients = kept[0].detach(), kept[0].grad
        cams = torch.einsum("nc,nchw->nhw", gradients.mean(dim=(2, 3)), activations).clamp(min=0).numpy()
        expected = np.stack([min_max(cv2.resize(min_max(cam), (size, size))) for cam in cams])

        assert maps.shape == (5, size, size) and maps.dtype == np.float32
        np.testing.assert_allclose(maps, expected, atol=1e-5)
        assert np.allclose(maps.max(axis=(1, 2)), 1.0, atol=1e-5) and maps.min() >= 0.0
    assert explainer.heatmaps(crops[:0]).shape == (0, size, size)
