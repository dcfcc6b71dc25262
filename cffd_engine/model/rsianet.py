"""RSIA-Net: the dual-domain detector (spatial + DCT-band branches, SFIA, RSIA, FAF, classifier)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from cffd_engine.model.backbones import Backbone
from cffd_engine.model.config import ModelConfig, preset
from cffd_engine.model.faf import FAF
from cffd_engine.model.folding import fold_batch_norms
from cffd_engine.model.frequency import FrequencyTransform
from cffd_engine.model.rsia import RSIA
from cffd_engine.model.sfia import SFIA

REAL, FAKE = 0, 1


class RSIAOutput(NamedTuple):
    """Everything one forward pass gives (a NamedTuple so DDP, export and pytree see plain tensors).

    logits (N, classes): class 0 real, 1 fake.
    spatial_features / frequency_features: the backbone pyramids F_s^l, F_f^l, levels 1..4 (for HSCL).
    rsia_features: the RSIA outputs f^l, each (N, D, H_l, W_l) (for MFKD).
    embedding: the fused embedding g (N, D) (for replay selection and the report).
    level_weights: the FAF weights alpha (N, 4), rows sum to 1 (which level decided).
    """

    logits: Tensor
    spatial_features: tuple[Tensor, ...]
    frequency_features: tuple[Tensor, ...]
    rsia_features: tuple[Tensor, ...]
    embedding: Tensor
    level_weights: Tensor

    @property
    def fake_probability(self) -> Tensor:
        """P(fake) per sample, shape (N,)."""
        return torch.softmax(self.logits.float(), dim=1)[:, FAKE]


class RSIANet(nn.Module):
    """The detector of METHOD.md section 1, built from a ``ModelConfig``.

    ``forward(x)`` takes float RGB in [0, 1], shape (N, 3, H, W) with H, W multiples of
    32 (``config.input_size`` is the size it was designed for), and returns ``RSIAOutput``.
    The DCT band transform lives inside, so explanations, export and serving see one input.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.inference_only = False  # set on the folded copy ``prepare_for_inference`` returns
        mean = torch.tensor(config.input_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(config.input_std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("input_mean", mean, persistent=False)
        self.register_buffer("input_std", std, persistent=False)
        self.frequency_transform = FrequencyTransform(
            config.frequency_mode, config.band_edges, config.block_size, config.input_size
        )
        self.spatial_backbone = Backbone(
            config.spatial_backbone, 3, config.out_indices, config.spatial_weights
        )
        self.frequency_backbone = Backbone(
            config.frequency_backbone, 12, config.out_indices, config.frequency_weights
        )
        spatial_channels = self.spatial_backbone.channels
        frequency_channels = self.frequency_backbone.channels
        self.sfia = nn.ModuleList(
            SFIA(
                cs, cf, config.sfia_mode, config.sfia_key_dim, config.sfia_max_tokens, config.sfia_scale_init
            )
            for cs, cf in zip(spatial_channels, frequency_channels, strict=True)
        )
        self.rsia = nn.ModuleList(
            RSIA(
                cs,
                cf,
                config.width,
                has_previous=level > 0,
                branch_width=config.msfe_branch_width,
                dilations=config.msfe_dilations,
                depthwise=config.msfe_depthwise,
                msfe_conv=config.msfe_conv,
                sfia_mode=config.sfia_mode,
                key_dim=config.sfia_key_dim,
                max_tokens=config.sfia_max_tokens,
                scale_init=config.sfia_scale_init,
                frm_resize=config.frm_resize,
                residual=config.fusion_residual,
            )
            for level, (cs, cf) in enumerate(zip(spatial_channels, frequency_channels, strict=True))
        )
        self.faf = FAF(config.width, len(spatial_channels), config.faf_hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.width, config.num_classes)

    @property
    def spatial_channels(self) -> tuple[int, ...]:
        """Channels of F_s^1..F_s^4 (what the HSCL projection heads take)."""
        return self.spatial_backbone.channels

    @property
    def frequency_channels(self) -> tuple[int, ...]:
        """Channels of F_f^1..F_f^4."""
        return self.frequency_backbone.channels

    @property
    def device(self) -> torch.device:
        return self.classifier.weight.device

    def early_layers(self) -> list[nn.Module]:
        """Both backbones' layers up to their finest level (see ``Backbone.early_layers``)."""
        return self.spatial_backbone.early_layers() + self.frequency_backbone.early_layers()

    def forward(self, x: Tensor) -> RSIAOutput:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"RSIANet expects RGB images (N, 3, H, W), got shape {tuple(x.shape)}")
        x = (x - self.input_mean) / self.input_std
        bands = self.frequency_transform(x).to(x.dtype)
        if x.is_contiguous(memory_format=torch.channels_last):
            bands = bands.contiguous(memory_format=torch.channels_last)
        spatial = self.spatial_backbone(x)
        frequency = self.frequency_backbone(bands)
        previous: Tensor | None = None
        rsia_features = []
        for sfia, rsia, f_s, f_f in zip(self.sfia, self.rsia, spatial, frequency, strict=True):
            a_s, a_f = sfia(f_s, f_f)
            previous = rsia(a_s, a_f, previous)
            rsia_features.append(previous)
        embedding, alpha = self.faf(rsia_features)
        logits = self.classifier(self.dropout(embedding))
        return RSIAOutput(logits, tuple(spatial), tuple(frequency), tuple(rsia_features), embedding, alpha)

    def prepare_for_inference(self, device: torch.device | str | None = None) -> RSIANet:
        """A copy for inference: eval mode, on ``device`` (default: where this is), channels_last when
        the config asks for it, batch norms folded into their convolutions (``model/folding.py``).

        The copy gives the same logits (checked here on a fixed input; if it did not, the unfolded
        copy is returned) and refuses ``train()``: it cannot be trained or saved.
        """

        def unfolded() -> RSIANet:
            model = copy.deepcopy(self).eval()
            if device is not None:
                model.to(device)
            if model.config.channels_last:
                model.to(memory_format=torch.channels_last)
            return model

        folded = unfolded()
        probe = torch.rand(
            2, 3, self.config.input_size, self.config.input_size, generator=torch.Generator().manual_seed(0)
        )
        probe = probe.to(folded.device)
        with torch.inference_mode():
            expected = folded(probe).logits.float()
        fold_batch_norms(folded)
        with torch.inference_mode():
            if not torch.allclose(folded(probe).logits.float(), expected, atol=1e-3, rtol=1e-3):
                return unfolded()  # rare; the usual path copies the model once
        folded.inference_only = True
        return folded

    def train(self, mode: bool = True) -> RSIANet:
        if mode and self.inference_only:
            raise RuntimeError(
                "this RSIA-Net copy is for inference only (batch norms folded); train the model itself"
            )
        return super().train(mode)

    @classmethod
    def from_config_file(cls, path: Path | str) -> RSIANet:
        """Build a fresh (untrained) model from a config JSON written by ``ModelConfig.save``."""
        return cls(ModelConfig.load(path))


def inference_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that only answers, its weights taking no gradient: for RSIA-Net the one
    ``prepare_for_inference`` makes (on the CPU more than twice as fast as the model in eval mode),
    for any other module a deep copy in eval mode. Such a copy is returned as it is: making one
    takes a deep copy and two probe passes, so whoever predicts repeatedly makes it once."""
    if getattr(model, "inference_only", False):
        return model
    if isinstance(model, RSIANet):
        answering = model.prepare_for_inference()
    else:
        answering = copy.deepcopy(model).eval()
    for parameter in answering.parameters():
        parameter.requires_grad_(False)
    return answering


def create_model(name: str, **overrides: Any) -> RSIANet:
    """A fresh RSIA-Net from the preset ``name`` with field ``overrides`` (as ``timm.create_model``).

    Its config keeps the preset's name and the overrides, so a bundle saved from it says how it was made.
    """
    return RSIANet(preset(name, **overrides))


def recalibrate_batch_norm(model: nn.Module, batches: Iterable[Tensor]) -> None:
    """Re-estimate every BatchNorm's running statistics from ``batches`` (precise BN).

    Early in training, or after a short fine-tune, the running averages lag the weights
    and eval-mode outputs suffer; this replaces them by exact averages over the given
    batches (forward only, no gradients). Leaves the model in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # None = cumulative average over the batches seen
    model.train()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch.to(device))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()


class LogitsOnly(nn.Module):
    """Wraps a model so ``forward`` returns just the logits (for Grad-CAM libraries and export)."""

    def __init__(self, model: RSIANet):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x).logits
