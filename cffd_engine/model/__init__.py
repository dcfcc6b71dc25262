"""RSIA-Net: frequency transform, SFIA/RSIA/FAF blocks and the detector built from a config."""

from cffd_engine.model.device import (
    autocast_for,
    leave_triton_out_without_cuda,
    release_cuda_libraries_without_cuda,
    select_device,
)

leave_triton_out_without_cuda()  # before timm, which brings torchvision and through it torch._dynamo

from cffd_engine.model.config import PRESETS, ModelConfig, preset  # noqa: E402
from cffd_engine.model.frequency import FrequencyTransform, dct2, idct2  # noqa: E402
from cffd_engine.model.rsianet import (  # noqa: E402
    FAKE,
    REAL,
    LogitsOnly,
    RSIANet,
    RSIAOutput,
    create_model,
    inference_copy,
    recalibrate_batch_norm,
)

release_cuda_libraries_without_cuda()  # now that torch, torchvision and timm have loaded theirs

__all__ = [
    "FAKE",
    "PRESETS",
    "REAL",
    "FrequencyTransform",
    "LogitsOnly",
    "ModelConfig",
    "RSIANet",
    "RSIAOutput",
    "autocast_for",
    "create_model",
    "dct2",
    "idct2",
    "inference_copy",
    "preset",
    "recalibrate_batch_norm",
    "select_device",
]
