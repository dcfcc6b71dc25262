"""RSIA: relation-aware spatial-frequency interaction aggregation (METHOD.md section 1).

RSIA(A_s, A_f, f^{l-1}) = fusion[SFTIA(MSFE_s(A_s), MSFE_f(A_f)), FRM(f^{l-1})] + residual,
giving f^l of width D at the resolution of level l.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import DeformConv2d

from cffd_engine.model.config import FusionResidual, MSFEConv, ResizeMode, SFIAMode
from cffd_engine.model.sfia import SFIA


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DilatedConv(nn.Conv2d):
    """A 3x3 convolution with dilation r and "same" padding r, fast on small maps.

    Where r is at least the map's height (width), the off-centre kernel rows (columns)
    only ever see zero padding, so they are dropped: the output is exactly the same,
    and oneDNN's slow path for large paddings on tiny maps is avoided.
    """

    def __init__(self, channels: int, dilation: int, groups: int):
        super().__init__(
            channels, channels, 3, padding=dilation, dilation=dilation, groups=groups, bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        r = self.dilation[0]
        weight = self.weight
        pad_h = pad_w = r
        if r >= x.shape[-2]:
            weight, pad_h = weight[:, :, 1:2, :], 0
        if r >= x.shape[-1]:
            weight, pad_w = weight[:, :, :, 1:2], 0
        return F.conv2d(x, weight, None, padding=(pad_h, pad_w), dilation=r, groups=self.groups)


class DeformableConv(nn.Module):
    """A 3x3 deformable convolution whose offsets start at 0 (so it starts as the dilated conv)."""

    def __init__(self, channels: int, dilation: int, groups: int):
        super().__init__()
        self.offset = nn.Conv2d(channels, 2 * 9, 3, padding=dilation, dilation=dilation)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.conv = DeformConv2d(
            channels, channels, 3, padding=dilation, dilation=dilation, groups=groups, bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x, self.offset(x))


class MSFE(nn.Module):
    """Multi-scale feature enhancement: parallel dilated 3x3 convs, each then 1x1; concat; 3x3 conv-BN-ReLU.

    ``forward((N, in_channels, H, W)) -> (N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        branch_width: int,
        dilations: tuple[int, ...] = (3, 5, 7),
        depthwise: bool = True,
        conv: MSFEConv = "dilated",
    ):
        super().__init__()
        groups = in_channels if depthwise else 1
        branches = []
        for r in dilations:
            if conv == "deformable":
                spatial: nn.Module = DeformableConv(in_channels, r, groups)
            else:
                spatial = DilatedConv(in_channels, r, groups)
            branches.append(nn.Sequential(spatial, nn.Conv2d(in_channels, branch_width, 1)))
        self.branches = nn.ModuleList(branches)
        self.merge = conv_bn_relu(branch_width * len(dilations), out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.merge(torch.cat([branch(x) for branch in self.branches], dim=1))


class FRM(nn.Module):
    """Feature refinement of the previous level's f^{l-1}: resize to level l, then conv-BN-ReLU."""

    def __init__(self, width: int, resize: ResizeMode = "avg"):
        super().__init__()
        self.resize = resize
        self.refine = conv_bn_relu(width, width)

    def forward(self, previous: Tensor, size: tuple[int, int]) -> Tensor:
        if tuple(previous.shape[-2:]) != tuple(size):
            if self.resize == "avg":
                previous = F.adaptive_avg_pool2d(previous, size)
            else:
                previous = F.interpolate(previous, size=size, mode="bilinear", align_corners=False)
        return self.refine(previous)


class RSIA(nn.Module):
    """One level of RSIA: MSFE per domain, SFTIA, FRM on f^{l-1}, 1x1 fusion to width D plus a residual.

    ``forward(A_s, A_f, previous=None) -> f^l`` of shape (N, width, H, W), where H, W
    are those of A_s. ``previous`` must be given iff the block was built with
    ``has_previous=True`` (every level but the first).
    """

    def __init__(
        self,
        spatial_channels: int,
        frequency_channels: int,
        width: int,
        has_previous: bool,
        *,
        branch_width: int = 32,
        dilations: tuple[int, ...] = (3, 5, 7),
        depthwise: bool = True,
        msfe_conv: MSFEConv = "dilated",
        sfia_mode: SFIAMode = "cross",
        key_dim: int = 32,
        max_tokens: int = 16,
        scale_init: float = 0.0,
        frm_resize: ResizeMode = "avg",
        residual: FusionResidual = "msfe",
    ):
        super().__init__()
        self.msfe_spatial = MSFE(spatial_channels, width, branch_width, dilations, depthwise, msfe_conv)
        self.msfe_frequency = MSFE(frequency_channels, width, branch_width, dilations, depthwise, msfe_conv)
        self.sftia = SFIA(width, width, sfia_mode, key_dim, max_tokens, scale_init)
        self.frm = FRM(width, frm_resize) if has_previous else None
        parts = 3 if has_previous else 2
        self.fuse = nn.Sequential(nn.Conv2d(parts * width, width, 1, bias=False), nn.BatchNorm2d(width))
        self.residual = residual

    def forward(self, spatial: Tensor, frequency: Tensor, previous: Tensor | None = None) -> Tensor:
        if (previous is None) != (self.frm is None):
            raise ValueError(
                "RSIA: previous level features must be given exactly when the block expects them"
            )
        m_s = self.msfe_spatial(spatial)
        m_f = self.msfe_frequency(frequency)
        if m_f.shape[-2:] != m_s.shape[-2:]:
            m_f = F.interpolate(m_f, size=m_s.shape[-2:], mode="bilinear", align_corners=False)
        t_s, t_f = self.sftia(m_s, m_f)
        parts = [t_s, t_f]
        refined = None
        if self.frm is not None:
            refined = self.frm(previous, m_s.shape[-2:])
            parts.append(refined)
        fused = self.fuse(torch.cat(parts, dim=1))
        # In place: BatchNorm's backward does not need its output, and ReLU keeps its own result.
        if self.residual == "msfe" or (self.residual == "previous" and refined is None):
            fused.add_(m_s).add_(m_f)
        elif self.residual == "previous":
            fused.add_(refined)
        return fused.relu_()
