"""Batch norms folded into the convolutions before them: the same outputs with a quarter less work.

In eval mode a batch norm is a fixed per-channel scale and shift, which the
convolution before it can apply itself: ``w' = w * s``, ``b' = (b - mean) * s + beta``
with ``s = gamma / sqrt(var + eps)``. A folded model can only be run, never trained or
saved (its state dict no longer has the batch norms' entries).
"""

from __future__ import annotations

import torch
from timm.layers import BatchNormAct2d
from torch import nn


class _AfterNorm(nn.Module):
    """What a timm ``BatchNormAct2d`` does after normalising (dropout, then the activation)."""

    def __init__(self, norm: BatchNormAct2d):
        super().__init__()
        self.drop = norm.drop
        self.act = norm.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(x))


def _foldable(conv: nn.Module | None, norm: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and type(norm) in (nn.BatchNorm2d, BatchNormAct2d)
        and norm.track_running_stats
        and norm.running_mean is not None
        and conv.out_channels == norm.num_features
    )


@torch.no_grad()
def _fold_into(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.affine:
        scale = scale * norm.weight
    shift = norm.bias if norm.affine else torch.zeros_like(scale)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter((bias - norm.running_mean) * scale + shift, requires_grad=False)


def fold_batch_norms(model: nn.Module) -> int:
    """Fold, in place, every batch norm that follows a convolution among its siblings; returns how many.

    "Follows" is the order the children were defined in, which is the order they run in
    for ``nn.Sequential`` and timm's blocks; a caller with other modules checks the outputs
    (``RSIANet.prepare_for_inference`` does).
    """
    folded = 0
    for parent in list(model.modules()):
        previous: nn.Module | None = None
        for name, child in list(parent.named_children()):
            if _foldable(previous, child):
                _fold_into(previous, child)
                replacement = _AfterNorm(child) if isinstance(child, BatchNormAct2d) else nn.Identity()
                setattr(parent, name, replacement)
                folded += 1
                child = replacement
            previous = child
    return folded
