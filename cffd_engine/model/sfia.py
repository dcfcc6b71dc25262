"""SFIA: spatial-frequency interaction aggregation (METHOD.md section 1).

Each domain attends to the other: K_s correlates spatial queries with frequency
keys, w_s = softmax(K_s), V_s = w_s (x) F_f; symmetrically for the frequency side.
The outputs are A_s = F_s + gamma_s * V_s and A_f = F_f + gamma_f * V_f, with the
learnable scales gamma initialised at ``scale_init`` (0: an untrained SFIA is the identity).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cffd_engine.model.config import SFIAMode


def _format_of(x: Tensor) -> torch.memory_format:
    cl = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if cl else torch.contiguous_format


def _pool(x: Tensor, max_tokens: int) -> Tensor:
    h, w = x.shape[-2:]
    if h <= max_tokens and w <= max_tokens:
        return x
    return F.adaptive_avg_pool2d(x, (min(h, max_tokens), min(w, max_tokens)))


class CrossAttention(nn.Module):
    """Queries from one domain attend to average-pooled keys and values of the other.

    ``forward(query_map (N, Cq, H, W), context_map (N, Cc, H', W')) -> (N, Cq, H, W)``.
    """

    def __init__(self, query_channels: int, context_channels: int, key_dim: int, max_tokens: int):
        super().__init__()
        self.max_tokens = max_tokens
        self.query = nn.Conv2d(query_channels, key_dim, 1)
        # No key bias: it adds the same amount to every logit of a query, which softmax ignores.
        self.key = nn.Conv2d(context_channels, key_dim, 1, bias=False)
        # V = w (x) F_other as in the method; a 1x1 projection only where the widths differ.
        self.value: nn.Module = (
            nn.Identity()
            if context_channels == query_channels
            else nn.Conv2d(context_channels, query_channels, 1)
        )
        self.scale = key_dim**-0.5

    def forward(self, query_map: Tensor, context_map: Tensor) -> Tensor:
        n, c, h, w = query_map.shape
        # A 1x1 conv commutes with average pooling, so pooling first makes keys/values cheap.
        context = _pool(context_map, self.max_tokens)
        q = self.query(query_map).flatten(2).transpose(1, 2)  # (N, HW, dk)
        k = self.key(context).flatten(2).transpose(1, 2)  # (N, T, dk)
        v = self.value(context).flatten(2).transpose(1, 2)  # (N, T, Cq)
        # Written out rather than scaled_dot_product_attention: with few keys, the CPU math
        # path of SDPA spends more time in its masked "safe" softmax than in the products.
        weights = torch.softmax((q * self.scale) @ k.transpose(1, 2), dim=-1)  # (N, HW, T)
        return (weights @ v).transpose(1, 2).reshape(n, c, h, w)


class ChannelRelation(nn.Module):
    """The C x C relation option: a channel-to-channel correlation mixes the other domain's channels.

    ``forward(query_map (N, Cq, H, W), context_map (N, Cc, H, W)) -> (N, Cq, H, W)``;
    the correlation uses L2-normalised, pooled maps and a learnable temperature.
    """

    def __init__(self, query_channels: int, context_channels: int, max_tokens: int):
        super().__init__()
        self.max_tokens = max_tokens
        self.query = nn.Conv2d(query_channels, query_channels, 1)
        self.key = nn.Conv2d(context_channels, query_channels, 1)
        self.value = nn.Conv2d(context_channels, query_channels, 1)
        self.temperature = nn.Parameter(torch.tensor(math.log(10.0)))

    def forward(self, query_map: Tensor, context_map: Tensor) -> Tensor:
        n, c, h, w = query_map.shape
        q = F.normalize(self.query(_pool(query_map, self.max_tokens)).flatten(2), dim=-1)
        k = F.normalize(self.key(_pool(context_map, self.max_tokens)).flatten(2), dim=-1)
        if q.shape[-1] != k.shape[-1]:
            raise ValueError(f"channel relation needs equal pooled sizes, got {q.shape} and {k.shape}")
        weights = torch.softmax(q @ k.transpose(1, 2) * self.temperature.exp(), dim=-1)  # (N, C, C)
        v = self.value(context_map)
        if v.shape[-2:] != (h, w):
            v = F.interpolate(v, size=(h, w), mode="bilinear", align_corners=False)
        return (weights @ v.flatten(2)).reshape(n, c, h, w)


class SFIA(nn.Module):
    """Two-way spatial-frequency interaction with residual scales.

    ``forward(spatial (N, Cs, H, W), frequency (N, Cf, H, W)) -> (A_s, A_f)`` with the
    input shapes. With both scales at 0 the outputs are the inputs, exactly.
    """

    def __init__(
        self,
        spatial_channels: int,
        frequency_channels: int,
        mode: SFIAMode = "cross",
        key_dim: int = 32,
        max_tokens: int = 16,
        scale_init: float = 0.0,
    ):
        super().__init__()
        if mode == "cross":
            self.spatial_guided = CrossAttention(spatial_channels, frequency_channels, key_dim, max_tokens)
            self.frequency_guided = CrossAttention(frequency_channels, spatial_channels, key_dim, max_tokens)
        else:
            self.spatial_guided = ChannelRelation(spatial_channels, frequency_channels, max_tokens)
            self.frequency_guided = ChannelRelation(frequency_channels, spatial_channels, max_tokens)
        # Per-channel residual scales (LayerScale style); 0 keeps the backbones' features intact at start.
        self.spatial_scale = nn.Parameter(torch.full((1, spatial_channels, 1, 1), float(scale_init)))
        self.frequency_scale = nn.Parameter(torch.full((1, frequency_channels, 1, 1), float(scale_init)))

    def forward(self, spatial: Tensor, frequency: Tensor) -> tuple[Tensor, Tensor]:
        v_s = self.spatial_guided(spatial, frequency)
        v_f = self.frequency_guided(frequency, spatial)
        # addcmul: one pass over memory instead of a multiply and an add.
        a_s = torch.addcmul(spatial, self.spatial_scale, v_s.contiguous(memory_format=_format_of(spatial)))
        a_f = torch.addcmul(
            frequency, self.frequency_scale, v_f.contiguous(memory_format=_format_of(frequency))
        )
        return a_s, a_f
