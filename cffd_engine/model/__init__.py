"""RSIA-Net: frequency transform, SFIA/RSIA/FAF blocks and the detector built from a config."""

from cffd_engine.model.config import PRESETS, ModelConfig, preset
from cffd_engine.model.device import autocast_for, select_device
from cffd_engine.model.frequency import FrequencyTransform, dct2, idct2
from cffd_engine.model.rsianet import FAKE, REAL, LogitsOnly, RSIANet, RSIAOutput, recalibrate_batch_norm

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
    "dct2",
    "idct2",
    "preset",
    "recalibrate_batch_norm",
    "select_device",
]
