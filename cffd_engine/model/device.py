"""Device choice for the engine: CUDA with mixed precision when present, else the CPU."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def select_device(preference: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; ``"cpu"``/``"cuda[:i]"`` are taken as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {preference!r} asked for, but no CUDA GPU is available; use 'cpu' or 'auto'"
        )
    return device


def autocast_for(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op on CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def default_cpu_threads(reserve: int = 1) -> int:
    """Threads for CPU inference that leave ``reserve`` cores to the GUI (at least one thread)."""
    return max(1, (os.cpu_count() or 1) - reserve)


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op CPU thread count (None leaves it as is)."""
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
