"""RSIA-Net architecture config: one dataclass, presets as data (the one registry), JSON save/load.

A ``ModelConfig`` fully describes the network (not its weights): the same config
and the same ``state_dict`` give the same outputs. Every reading of the paper that
METHOD.md marks as an "Interpretation" is a field here, so it can be changed
without touching code.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FrequencyMode = Literal["bands", "block"]
SFIAMode = Literal["cross", "channel"]
MSFEConv = Literal["dilated", "deformable"]
ResizeMode = Literal["avg", "bilinear"]
FusionResidual = Literal["msfe", "previous", "none"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build an RSIA-Net; serialises to JSON.

    Input contract: ``RSIANet.forward`` takes float RGB in [0, 1], shape (N, 3, H, W);
    normalisation with ``input_mean``/``input_std`` happens inside the model.
    """

    name: str = "custom"
    # Backbones (timm names, features_only); the frequency branch gets 12 input channels.
    spatial_backbone: str = "mobilenetv4_conv_small"
    frequency_backbone: str = "mobilenetv4_conv_small"
    # timm feature indices of the four levels; None = the levels at strides 4, 8, 16, 32.
    out_indices: tuple[int, ...] | None = None
    # Where a new model's backbones start: None = from scratch, "imagenet" = the verified ImageNet
    # asset of that backbone (`cffd assets status`), else a local .safetensors or state_dict .pth.
    # Only a new model reads them: a stored model's own weights replace them (store.bundle.load_model).
    spatial_weights: str | None = None
    frequency_weights: str | None = None
    input_size: int = 224
    input_mean: tuple[float, float, float] = IMAGENET_MEAN
    input_std: tuple[float, float, float] = IMAGENET_STD
    # Common width D of the RSIA outputs f^l, the fused embedding g and the classifier input.
    width: int = 96
    # Frequency input (Interpretation): whole-crop DCT bands, or 8x8 block DCT ("block").
    frequency_mode: FrequencyMode = "bands"
    # Band edges on the normalised diagonal index i/H + j/W: low < edges[0] <= mid < edges[1] <= high
    # (F3Net's frequency-aware decomposition: size/2.82 and size/2).
    band_edges: tuple[float, float] = (1 / 2.82, 0.5)
    block_size: int = 8
    # SFIA (Interpretation): "cross" = cross-attention with pooled keys/values, "channel" = C x C relation.
    sfia_mode: SFIAMode = "cross"
    sfia_max_tokens: int = 16  # keys/values are average-pooled to at most this many per side
    sfia_key_dim: int = 32
    sfia_scale_init: float = 0.0  # 0 makes an untrained SFIA the identity
    # MSFE (Interpretation): "D-Conv r" read as dilated convolution; "deformable" is the option.
    msfe_conv: MSFEConv = "dilated"
    msfe_dilations: tuple[int, ...] = (3, 5, 7)
    msfe_depthwise: bool = True  # depthwise 3x3 then the 1x1: a separable form of the same block
    msfe_branch_width: int = 32  # channels of each dilated branch after its 1x1
    frm_resize: ResizeMode = "avg"
    fusion_residual: FusionResidual = "msfe"  # the residual added after the RSIA 1x1 fusion
    faf_hidden: int = 64
    dropout: float = 0.0
    num_classes: int = 2
    channels_last: bool = True  # used by the inference helpers; on CPU it speeds up the convolutions
    notes: str = field(default="", compare=False)
    # The fields given on top of the preset ``name`` (``preset("lite", input_size=96)``), so a saved
    # model says how it was asked for; configs saved before this field read as {}.
    overrides: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # JSON gives lists back; the dataclass keeps tuples so configs stay hashable and comparable.
        for name in ("out_indices", "input_mean", "input_std", "band_edges", "msfe_dilations"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field when a value cannot build a model."""
        choices = {
            "frequency_mode": ("bands", "block"),
            "sfia_mode": ("cross", "channel"),
            "msfe_conv": ("dilated", "deformable"),
            "frm_resize": ("avg", "bilinear"),
            "fusion_residual": ("msfe", "previous", "none"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r}; expected one of {allowed}")
        low, high = self.band_edges
        if not 0 < low < high:
            raise ValueError(f"ModelConfig.band_edges={self.band_edges}; need 0 < low edge < high edge")
        if self.out_indices is not None and len(self.out_indices) != 4:
            raise ValueError(f"ModelConfig.out_indices={self.out_indices}; RSIA-Net needs exactly 4 levels")
        for name in ("input_size", "width", "sfia_max_tokens", "sfia_key_dim", "msfe_branch_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"ModelConfig.{name} must be positive, got {getattr(self, name)}")
        if not self.msfe_dilations:
            raise ValueError("ModelConfig.msfe_dilations is empty; MSFE needs at least one branch")
        if self.num_classes < 2:
            raise ValueError(f"ModelConfig.num_classes={self.num_classes}; need at least 2")

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a dict; unknown keys are an error (a typo must not silently change a model)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))

    def save(self, path: Path | str) -> Path:
        """Write the config as JSON; returns the path."""
        path = Path(path)
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | str) -> ModelConfig:
        """Read a config written by ``save``; errors name the file."""
        path = Path(path)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a readable RSIA-Net config ({exc})") from exc


# The CPU presets' input size and RSIA-Net heads: 160 px, RSIA width 32, small SFIA/MSFE/FAF.
_SMALL_HEADS: dict[str, Any] = {
    "input_size": 160,
    "width": 32,
    "sfia_max_tokens": 4,
    "sfia_key_dim": 16,
    "msfe_branch_width": 8,
    "faf_hidden": 48,
}

# Presets are data: a name and the fields that differ from the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "lite": {
        "spatial_backbone": "mobilenetv3_small_100",
        # The band images need less width than the photo: half-width MobileNetV3-small.
        "frequency_backbone": "mobilenetv3_small_050",
        **_SMALL_HEADS,
        "notes": "CPU real time: MobileNetV3-small (photo) and MobileNetV3-small 0.5 (bands) at 160 px, RSIA width 32.",
    },
    **{
        f"lite{n}": {
            "spatial_backbone": f"tf_efficientnet_lite{n}",
            "frequency_backbone": f"tf_efficientnet_lite{n}",
            "spatial_weights": "imagenet",
            "frequency_weights": "imagenet",
            "input_mean": (0.5, 0.5, 0.5),  # how the ImageNet weights were trained
            "input_std": (0.5, 0.5, 0.5),
            **_SMALL_HEADS,
            "notes": f"ImageNet-pretrained EfficientNet-Lite{n} for the photo and the bands (the 12-band stem "
            "made from the RGB filters) at 160 px, RSIA width 32.",
        }
        for n in (0, 1, 2)
    },
    "base": {
        "spatial_backbone": "mobilenetv3_large_100",
        "frequency_backbone": "mobilenetv3_large_100",
        "input_size": 224,
        "width": 128,
        "sfia_max_tokens": 12,
        "sfia_key_dim": 48,
        "msfe_branch_width": 48,
        "faf_hidden": 128,
        "dropout": 0.2,
        "notes": "Balanced: two MobileNetV3-large pyramids at 224 px.",
    },
    "full": {
        "spatial_backbone": "efficientnet_b4",
        "frequency_backbone": "efficientnet_b4",
        "input_size": 256,
        "width": 256,
        "sfia_max_tokens": 16,
        "sfia_key_dim": 64,
        "msfe_depthwise": False,
        "msfe_branch_width": 96,
        "faf_hidden": 256,
        "dropout": 0.3,
        "notes": "The paper's scale: two EfficientNet-B4 pyramids at 256 px, for GPU training.",
    },
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """The named preset (``lite``, ``base``, ``full``...) with field overrides, which it records."""
    if name not in PRESETS:
        raise ValueError(f"unknown RSIA-Net preset {name!r}; choose one of {sorted(PRESETS)}")
    if "name" in overrides or "overrides" in overrides:
        raise ValueError("a preset's name and its recorded overrides cannot themselves be overridden")
    return ModelConfig.from_dict({"name": name, **PRESETS[name], **overrides, "overrides": dict(overrides)})
