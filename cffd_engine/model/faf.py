"""FAF: feature adaptive fusion of the per-level RSIA outputs (METHOD.md section 1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FAF(nn.Module):
    """Pool and project each f^l to v_l (width D); alpha = softmax(MLP([v_1..v_L])); g = sum alpha_l v_l.

    ``forward([f^1 .. f^L]) -> (g (N, D), alpha (N, L))``; alpha sums to 1 per sample and
    says which level decided.
    """

    def __init__(self, width: int, levels: int, hidden: int):
        super().__init__()
        self.project = nn.ModuleList(nn.Linear(width, width) for _ in range(levels))
        self.score = nn.Sequential(
            nn.Linear(levels * width, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, levels)
        )

    def forward(self, features: list[Tensor]) -> tuple[Tensor, Tensor]:
        vectors = [proj(f.mean(dim=(2, 3))) for proj, f in zip(self.project, features, strict=True)]
        stacked = torch.stack(vectors, dim=1)  # (N, L, D)
        alpha = torch.softmax(self.score(stacked.flatten(1)), dim=1)
        return (alpha.unsqueeze(-1) * stacked).sum(dim=1), alpha
