"""Training throughput of the one trainer: images per second, as one process or under torchrun.

    cffd bench train --preset base --steps 300 --batch-size 32 --out train_benchmark.json
    torchrun --standalone --nproc_per_node 4 -m cffd_engine.cli bench train --preset base ...

The images are random face-sized crops (speed does not depend on what they show), the
strategy's full loss is computed (CE + HSCL for CFFD's first task), and the first
``--warm-up`` steps (cuDNN autotuning, allocator growth) are left out of the figure.
``--batch-size`` is per process, so N processes train on N times the global batch.
"""

from __future__ import annotations

import math
import platform
import time

import torch

from cffd_engine import distributed
from cffd_engine.continual.config import StrategyConfig, TrainSettings
from cffd_engine.continual.samples import SampleSet
from cffd_engine.continual.strategies import build_strategy
from cffd_engine.continual.trainer import Trainer, TrainerCallback
from cffd_engine.model import RSIANet, preset
from cffd_engine.model.device import cpu_computes_bfloat16, select_device

MAX_POOL_BATCHES = 160  # distinct batches of random crops at most; epochs repeat them


class _StepClock(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = [time.perf_counter()]  # the start, then the end of every step

    def on_step(self, progress) -> None:
        self.times.append(time.perf_counter())


def _random_crops(count: int, size: int) -> SampleSet:
    """``count`` random ``size`` x ``size`` crops, alternately genuine and fake; the same ones every run."""
    generator = torch.Generator().manual_seed(0)
    return SampleSet(
        torch.randint(0, 256, (count, 3, size, size), generator=generator, dtype=torch.uint8),
        torch.arange(count) % 2,
        ["throughput"] * count,
        [f"crop-{i:06d}" for i in range(count)],
    )


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"


def measure(
    preset_name: str,
    steps: int,
    batch_size: int,
    warm_up: int = 20,
    strategy: str = "cffd",
    device: str = "auto",
    threads: int | None = None,
    mixed_precision: bool = True,
    cpu_bfloat16: bool = False,
) -> dict:
    """Train ``warm_up + steps`` steps on random crops; the figures of the last ``steps``."""
    world = distributed.world()
    config = preset(preset_name)
    global_batch = batch_size * world.size
    epochs = math.ceil((warm_up + steps) / MAX_POOL_BATCHES)
    count = math.ceil((warm_up + steps) / epochs) * global_batch  # the epochs end after the last timed step
    samples = _random_crops(count, config.input_size)
    settings = TrainSettings(
        epochs=epochs,
        batch_size=global_batch,
        device=device,
        threads=threads,
        mixed_precision=mixed_precision,
        cpu_bfloat16=cpu_bfloat16,
        lr_step_epochs=max(1, epochs),
    )
    torch.manual_seed(0)
    model = RSIANet(config)
    clock = _StepClock()
    resolved = select_device(device)
    if resolved.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    Trainer(settings, [clock]).fit(
        model, build_strategy(StrategyConfig(name=strategy)), samples, 0, task_name="throughput"
    )
    times = clock.times[warm_up : warm_up + steps + 1]
    seconds = times[-1] - times[0]
    timed_steps = len(times) - 1
    figures = {
        "preset": preset_name,
        "strategy": strategy,
        "input_size": config.input_size,
        "processes": world.size,
        "ddp": world.active,
        "batch_per_process": batch_size,
        "global_batch": global_batch,
        "timed_steps": timed_steps,
        "warm_up_steps": warm_up,
        "seconds": round(seconds, 3),
        "images_per_second": round(timed_steps * global_batch / seconds, 1),
        "ms_per_step": round(1000 * seconds / timed_steps, 2),
        "device": _device_name(resolved),
        "mixed_precision": bool(mixed_precision and resolved.type == "cuda"),
        "cpu_bfloat16": bool(cpu_bfloat16 and resolved.type == "cpu" and cpu_computes_bfloat16()),
        "torch": torch.__version__,
    }
    if resolved.type == "cuda":
        figures["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(resolved) / 2**30, 2)
    return figures
