"""Tiny face-like tasks and a tiny RSIA-Net for the continual-learning tests (fast on one CPU thread)."""

from __future__ import annotations

import json

import numpy as np
import torch

from cffd_engine.continual import SampleSet
from cffd_engine.model import ModelConfig, preset

SIZE = 32


TINY_FIELDS = dict(
    input_size=SIZE,
    spatial_backbone="test_efficientnet",
    frequency_backbone="test_efficientnet",
    width=16,
    msfe_branch_width=8,
    faf_hidden=16,
    sfia_key_dim=8,
    sfia_max_tokens=4,
    channels_last=False,
)


def tiny_config(**overrides) -> ModelConfig:
    """An RSIA-Net with timm's test backbones at 32 px: same structure, a fraction of the cost."""
    return preset("lite", **{**TINY_FIELDS, **overrides})


def tiny_model_toml() -> str:
    """``tiny_config`` as the [model] table of a recipe or an experiment file."""
    values = {key: json.dumps(value) for key, value in TINY_FIELDS.items()}  # JSON scalars are TOML scalars
    return '[model]\npreset = "lite"\n' + "".join(f"{key} = {value}\n" for key, value in values.items())


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
    base = np.kron(coarse, np.ones((size // 4, size // 4, 1), np.float32))
    return base + rng.normal(0, 8, (size, size, 3))


PATCHES = {
    "checker": lambda yy, xx: ((yy + xx) % 2) * 120.0 - 60.0,
    "stripes": lambda yy, xx: (xx % 2) * 120.0 - 60.0,
    "dark": lambda yy, xx: -90.0 + 0 * yy,
    "bright": lambda yy, xx: 90.0 + 0 * yy,
}


def make_task(name: str, count: int, patch: str = "checker", size: int = SIZE, seed: int = 0) -> SampleSet:
    """``count`` crops, half real (smooth textures), half fake (the same kind of texture with a patch)."""
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    images, labels = [], []
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        image = _texture(rng, size)
        label = i % 2
        if label:
            top, left = rng.integers(0, size // 2, 2)
            window = (slice(top, top + size // 2), slice(left, left + size // 2))
            image[window] += PATCHES[patch](yy, xx)[window][..., None]
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        labels.append(label)
    stack = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return SampleSet(stack, torch.tensor(labels), [name] * count, [f"{name}-{i:04d}" for i in range(count)])


def update_report(task_names, accuracy_before, accuracy_after, auc_before, auc_after, counts=None):
    """An ``UpdateReport`` of these per-task figures (the last task the new one); the rest placeholders."""
    from cffd_engine.continual.report import UpdateReport

    return UpdateReport(
        new_task=task_names[-1],
        task_names=list(task_names),
        accuracy_before=list(accuracy_before),
        accuracy_after=list(accuracy_after),
        auc_before=list(auc_before),
        auc_after=list(auc_after),
        validation_counts=list(counts or [50] * len(task_names)),
        strategy="cffd",
        settings={},
        train_samples=64,
        replay_samples=168,
        epochs=3,
        steps=24,
        seconds=94.0,
    )
