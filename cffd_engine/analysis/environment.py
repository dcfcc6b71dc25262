"""The software and machine a result was made on: versions, operating system, processor, device."""

from __future__ import annotations

import os
import platform
import sys

import torch

from cffd_engine import __version__
from cffd_engine.environment import library_versions, lock_description


def processor_name() -> str:
    """The CPU model as the system names it (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device | str) -> str:
    """A person's name for the device: the GPU's model, or the CPU's with its core count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{processor_name()} ({os.cpu_count()} logical cores)"


def environment(
    device: torch.device | str = "cpu", threads: int | None = None, dtype: torch.dtype | None = None
) -> dict:
    """Application and library versions, Python, OS, the device the work ran on (and the model's
    number format, when given)."""
    described = {
        "application": "CFFD Studio",
        "engine_version": __version__,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "libraries": library_versions(),
        "dependency_lock": lock_description(),
        "device": str(device),
        "device_name": device_name(device),
        "cpu_threads": threads if threads is not None else torch.get_num_threads(),
    }
    if dtype is not None:
        described["precision"] = str(dtype).removeprefix("torch.")
    return described
