"""Feature-pyramid backbones from timm: four levels at strides 4, 8, 16 and 32.

Weights are never downloaded from a model hub: a backbone starts from scratch,
from the project's verified ImageNet asset (``weights="imagenet"``), or from a
local weight file, read without pickle where possible. A first convolution with
other than 3 input channels (the 12 DCT bands) is made from the RGB filters by
timm's ``adapt_input_conv``.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import Tensor, nn

from cffd_engine.errors import AssetError

LEVEL_STRIDES = (4, 8, 16, 32)
MIN_CAM_CELLS = 8  # a coarser Grad-CAM map cannot say where in the face the evidence lies
IMAGENET = "imagenet"  # a weights value: the verified ImageNet asset of the backbone (assets)


def is_backbone(name: object) -> bool:
    """Whether timm can build a backbone of this name (checked when a bundle is imported, nothing is built)."""
    return isinstance(name, str) and timm.is_model(name)


def cam_level_for(input_size: int) -> int:
    """The deepest level (1..4) whose feature map is at least ``MIN_CAM_CELLS`` wide at ``input_size`` pixels.

    The level Grad-CAM reads by default; here, beside the strides it follows from, so the store's
    model card can state it without importing the analysis.
    """
    fine_enough = [
        level for level, stride in enumerate(LEVEL_STRIDES, 1) if input_size / stride >= MIN_CAM_CELLS
    ]
    return max(fine_enough, default=1)


def read_weight_file(path: Path | str) -> dict[str, Tensor]:
    """A state_dict from ``.safetensors`` or a tensors-only ``.pth``/``.bin`` (``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise AssetError(
            f"{path}: backbone weight file not found. Put the ImageNet weights there, "
            "or set the weights field of the model config to null to train from scratch"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise AssetError(f"{path}: not a state_dict of tensors; save the backbone weights as .safetensors")
    return state


class Backbone(nn.Module):
    """A timm ``features_only`` model returning the four pyramid levels as a list.

    ``channels`` gives the channel count of each level; ``forward`` takes (N, in_chans, H, W).
    """

    def __init__(
        self,
        name: str,
        in_chans: int,
        out_indices: tuple[int, ...] | None = None,
        weights: Path | str | None = None,
    ):
        super().__init__()
        kwargs: dict = {"features_only": True, "in_chans": in_chans}
        if out_indices is not None:
            kwargs["out_indices"] = out_indices
        if weights is not None:
            if weights == IMAGENET:
                from cffd_engine.backbone_weights import imagenet_state_dict

                state = imagenet_state_dict(name)
            else:
                state = read_weight_file(weights)
            # The classifier head has no place in a feature pyramid: leave it out rather than have
            # timm log every unused key.
            with torch.device("meta"):
                wanted = set(timm.create_model(name, pretrained=False, **kwargs).state_dict())
            state = {key: value for key, value in state.items() if key in wanted}
            # source="" keeps timm from preferring its hub entry over the state_dict we pass.
            overlay = {"state_dict": state, "source": "", "file": None}
            self.body = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
        else:
            self.body = timm.create_model(name, pretrained=False, **kwargs)
        reductions = self.body.feature_info.reduction()
        if out_indices is None:
            # Which outputs are strides 4..32 depends on the architecture; timm reports it. The
            # stride-2 output, where there is one, is computed on the way anyway, so no cost.
            self.levels = tuple(i for i, r in enumerate(reductions) if r in LEVEL_STRIDES)
        else:
            self.levels = tuple(range(len(reductions)))
        strides = tuple(reductions[i] for i in self.levels)
        if strides != LEVEL_STRIDES:
            raise ValueError(
                f"backbone {name!r} gives feature strides {tuple(reductions)}; RSIA-Net needs "
                f"{LEVEL_STRIDES}. Set ModelConfig.out_indices to pick those levels"
            )
        self.name = name
        all_channels = self.body.feature_info.channels()
        self.channels: tuple[int, ...] = tuple(all_channels[i] for i in self.levels)

    def early_layers(self) -> list[nn.Module]:
        """The layers that make the finest level (stride 4), in order: the stem and the first blocks."""
        last = self.body.feature_info.module_name(self.levels[0])  # e.g. "blocks.1"
        layers: list[nn.Module] = []

        def take_until_last(module: nn.Module, prefix: str) -> None:
            for name, child in module.named_children():
                path = prefix + name
                if last.startswith(path + "."):
                    return take_until_last(child, path + ".")
                layers.append(child)
                if path == last:
                    return

        take_until_last(self.body, "")
        return layers

    def forward(self, x: Tensor) -> list[Tensor]:
        features = self.body(x)
        return [features[i] for i in self.levels]
