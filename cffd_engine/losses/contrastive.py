"""HSCL: hierarchical spatial-frequency contrastive losses (METHOD.md section 2).

SFICL is supervised contrastive learning inside one domain; SFCL contrasts across
domains (spatial anchors against frequency candidates and back), where the same
sample's other view is also a positive. HSCL averages all four over the levels.
All losses work on L2-normalised embeddings, in float32, with log-sum-exp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DEFAULT_TEMPERATURE = 0.01


def _mean_log_prob_over_positives(log_prob: Tensor, positives: Tensor) -> Tensor:
    """-mean over anchors with at least one positive of the mean log-probability of their positives.

    Anchors without a positive are skipped; if no anchor has one, the result is a zero
    that stays attached to the graph (so a degenerate batch neither NaNs nor breaks backward).
    """
    count = positives.sum(dim=1)
    valid = (count > 0).to(log_prob.dtype)
    # where() rather than multiply: excluded entries may hold -inf, and 0 * -inf is NaN.
    summed = torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    # Weights rather than a boolean select or a test of valid.any(): either makes a GPU wait for the host.
    per_anchor = summed / count.clamp(min=1)
    return -(per_anchor * valid).sum() / valid.sum().clamp(min=1)


def sficl_loss(z: Tensor, labels: Tensor, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """SFICL for one domain and level: supervised contrastive loss over a batch.

    z (N, E): embeddings (normalised here); labels (N,). For anchor i the positives are
    {j != i : y_j = y_i} and the denominator runs over all k != i. Returns a scalar.
    """
    z = F.normalize(z.float(), dim=1)
    n = z.shape[0]
    if n < 2:
        # A lone sample has neither positives nor a denominator; its row would be all -inf.
        return z.sum() * 0.0
    logits = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    return _mean_log_prob_over_positives(log_prob, positives)


def sfcl_loss(
    anchors: Tensor, candidates: Tensor, labels: Tensor, temperature: float = DEFAULT_TEMPERATURE
) -> Tensor:
    """SFCL in one direction: anchors of one domain against candidates of the other.

    anchors, candidates (N, E): the two domains' embeddings of the same N samples;
    positives of anchor i are all j with y_j = y_i, i included (no j != i condition);
    the denominator runs over all k. Returns a scalar.
    """
    a = F.normalize(anchors.float(), dim=1)
    c = F.normalize(candidates.float(), dim=1)
    logits = a @ c.T / temperature
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = labels[:, None] == labels[None, :]
    return _mean_log_prob_over_positives(log_prob, positives)


class ProjectionHead(nn.Module):
    """GAP then a two-layer MLP: (N, C, H, W) -> (N, E), the z of HSCL before normalisation."""

    def __init__(self, in_channels: int, out_dim: int, hidden_dim: int | None = None):
        super().__init__()
        hidden = hidden_dim or max(out_dim, min(in_channels, 512))
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)
        )

    def forward(self, features: Tensor) -> Tensor:
        return self.mlp(features.mean(dim=(2, 3)))


class HSCLTerms(NamedTuple):
    """The HSCL loss and its four parts, each averaged over the levels (total = their sum)."""

    total: Tensor
    intra_spatial: Tensor
    intra_frequency: Tensor
    spatial_to_frequency: Tensor
    frequency_to_spatial: Tensor


class HSCLoss(nn.Module):
    """HSCL = 1/L sum_l (L_s^l + L_f^l + L_{s->f}^l + L_{f->s}^l), with its projection heads.

    Holds one projection head per level and domain; it is a training-time module (its
    heads are not part of the detector). ``forward(spatial_features, frequency_features,
    labels)`` takes the model output's per-level feature lists and returns ``HSCLTerms``.
    """

    def __init__(
        self,
        spatial_channels: Sequence[int],
        frequency_channels: Sequence[int],
        projection_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = DEFAULT_TEMPERATURE,
    ):
        super().__init__()
        if len(spatial_channels) != len(frequency_channels):
            raise ValueError(
                f"HSCL needs as many spatial as frequency levels, got {len(spatial_channels)} "
                f"and {len(frequency_channels)}"
            )
        if temperature <= 0:
            raise ValueError(f"HSCL temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.spatial_heads = nn.ModuleList(
            ProjectionHead(c, projection_dim, hidden_dim) for c in spatial_channels
        )
        self.frequency_heads = nn.ModuleList(
            ProjectionHead(c, projection_dim, hidden_dim) for c in frequency_channels
        )

    @classmethod
    def for_model(cls, model: nn.Module, **kwargs) -> HSCLoss:
        """Heads sized for an ``RSIANet`` (anything with ``spatial_channels``/``frequency_channels``)."""
        return cls(model.spatial_channels, model.frequency_channels, **kwargs)

    def embed(
        self, spatial_features: Sequence[Tensor], frequency_features: Sequence[Tensor]
    ) -> list[tuple[Tensor, Tensor]]:
        """The per-level embeddings (z_s^l, z_f^l), each (N, E), normalised, float32."""
        with torch.autocast(device_type=spatial_features[0].device.type, enabled=False):
            return [
                (F.normalize(hs(fs.float()), dim=1), F.normalize(hf(ff.float()), dim=1))
                for hs, hf, fs, ff in zip(
                    self.spatial_heads,
                    self.frequency_heads,
                    spatial_features,
                    frequency_features,
                    strict=True,
                )
            ]

    def forward(
        self, spatial_features: Sequence[Tensor], frequency_features: Sequence[Tensor], labels: Tensor
    ) -> HSCLTerms:
        t = self.temperature
        parts: list[list[Tensor]] = [[], [], [], []]
        for z_s, z_f in self.embed(spatial_features, frequency_features):
            parts[0].append(sficl_loss(z_s, labels, t))
            parts[1].append(sficl_loss(z_f, labels, t))
            parts[2].append(sfcl_loss(z_s, z_f, labels, t))
            parts[3].append(sfcl_loss(z_f, z_s, labels, t))
        means = [torch.stack(p).mean() for p in parts]
        return HSCLTerms(sum(means), *means)
