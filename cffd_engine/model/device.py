"""Device choice for the engine: CUDA with mixed precision when present, else the CPU."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch

from cffd_engine.argtypes import DEVICE_HELP
from cffd_engine.errors import DeviceError


def leave_triton_out_without_cuda() -> None:
    """Without a CUDA GPU, have ``import triton`` fail, so torch never loads it.

    timm imports torchvision, which imports torch._dynamo, which imports triton only to
    learn whether it is there: about 76 MB of resident memory (libtriton and its modules,
    measured on this 2-core machine) for a GPU compiler a CPU never runs. The engine does
    not compile models; with a GPU, triton stays available to whoever does.
    """
    if "triton" not in sys.modules and not torch.cuda.is_available():
        sys.modules["triton"] = None  # type: ignore[assignment]  (the documented way to block an import)


def _is_cuda_library(path: str) -> bool:
    name = os.path.basename(path)
    return f"{os.sep}nvidia{os.sep}" in path or name.startswith(("libtorch_cuda", "libc10_cuda", "libcudnn"))


def cuda_library_mappings() -> list[tuple[int, int, str, str]]:
    """(start, end, permissions, path) of this process's read-only mappings of CUDA's libraries (Linux; else none)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.readlines()
    except OSError:
        return []
    mappings = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "w" not in fields[1] and _is_cuda_library(path := fields[5].strip()):
            start, end = (int(address, 16) for address in fields[0].split("-"))
            mappings.append((start, end, fields[1], path))
    return mappings


def release_cuda_libraries_without_cuda() -> int:
    """Without a CUDA GPU, hand the pages of CUDA's libraries back to the system; returns how many
    mappings were released.

    The CUDA build of torch (the one the lock installs) loads cuBLAS, cuDNN, NVRTC and the rest at
    import, and their start-up leaves about 140 MB of them resident (measured on this 2-core machine)
    that a CPU never executes. These read-only pages are the files' own, so giving them back loses
    nothing: should anything touch them again, the kernel reads them back in. Linux 5.4 or newer
    (``MADV_PAGEOUT``); elsewhere, or with a GPU, nothing is done.
    """
    if not sys.platform.startswith("linux") or torch.cuda.is_available():
        return 0
    import ctypes
    import mmap

    try:
        madvise = ctypes.CDLL("libc.so.6", use_errno=True).madvise
    except OSError:
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    pageout = getattr(mmap, "MADV_PAGEOUT", 21)
    return sum(madvise(start, end - start, pageout) == 0 for start, end, _, _ in cuda_library_mappings())


def select_device(preference: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; ``"cpu"``/``"cuda[:i]"`` are taken as given."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference)
    except (RuntimeError, TypeError):
        raise DeviceError(f"device {preference!r} is not a device; use {DEVICE_HELP}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {preference!r} asked for, but no CUDA GPU is available; use 'cpu' or 'auto'"
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(
            f"device {preference!r} asked for, but this machine has {torch.cuda.device_count()} CUDA GPU(s), "
            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}; use one of those, or 'auto'"
        )
    return device


def autocast_for(device: torch.device | str, cpu_bfloat16: bool = False) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA (bfloat16 where supported, else float16); on a CPU float32, unless
    ``cpu_bfloat16`` asks for bfloat16 and the CPU has bfloat16 instructions (emulated it is slower)."""
    device = torch.device(device)
    if device.type == "cuda" or (cpu_bfloat16 and device.type == "cpu"):
        return inference_autocast(device)
    return contextlib.nullcontext()


def cpu_computes_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX); elsewhere bfloat16 is emulated, slower."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch build without these probes
        return False


def inference_dtype(device: torch.device | str, precision: str = "auto") -> torch.dtype:
    """What analysis computes in: float32 when asked; on "auto", CUDA's mixed precision, bfloat16
    on a CPU with bfloat16 instructions, else float32."""
    device = torch.device(device)
    if precision == "float32":
        return torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_computes_bfloat16() else torch.float32


def inference_autocast(
    device: torch.device | str, precision: str = "auto"
) -> contextlib.AbstractContextManager:
    """Autocast to ``inference_dtype`` (a no-op for float32)."""
    device = torch.device(device)
    dtype = inference_dtype(device, precision)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


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
