"""Training on several processes (GPUs, or machines) under PyTorch's own launcher, ``torchrun``.

``cffd train`` and ``cffd learn`` run the same code as one plain process or as
``torchrun --nproc_per_node N [--nnodes M ...] -m cffd_engine.cli train ...``. torchrun
sets RANK, WORLD_SIZE and LOCAL_RANK; ``launched`` then opens the process group (nccl
on GPUs, gloo on the CPU) and each process takes the GPU of its local rank.

The rules the engine follows under it:

- every process builds the same model, data and strategy from the same seed, and
  DistributedDataParallel keeps the weights identical (``continual.trainer``);
- each global batch is split into one contiguous slice per process, so a run with
  N processes sees the same global batches, in the same order, as one process;
- ``predict`` is collective: each process scores a slice and all get every score,
  so evaluation and the replay selection see identical figures everywhere;
- only rank 0 writes: checkpoints, bundles, the store, reports and logs; what the
  others need from it (a resumed checkpoint, the replay ranking, the version made)
  is broadcast. Files the others read (the built data, a resumed store) must be on
  a file system every machine shares.

Without torchrun every function here is the identity of one process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among those training together: rank, count, rank on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    active: bool = False  # a process group is open (under torchrun, even of one process)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The current world: one process unless a process group is open."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), True)
    return World()


def backend_for(device_preference: str = "auto") -> str:
    """nccl for GPU tensors when the processes train on GPUs (gloo still carries the CPU ones), else gloo."""
    wants_cuda = device_preference != "cpu" and torch.cuda.is_available()
    return "cpu:gloo,cuda:nccl" if wants_cuda and dist.is_nccl_available() else "gloo"


@contextlib.contextmanager
def launched(device_preference: str = "auto") -> Iterator[World]:
    """Open the process group when started by torchrun (which sets RANK); close it afterwards."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or dist.is_initialized():
        yield world()
        return
    backend = backend_for(device_preference)
    if "nccl" in backend:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    # Rank 0 may build the training data alone while the others wait at a barrier: be patient.
    dist.init_process_group(backend, timeout=dt.timedelta(hours=2))
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def broadcast(value: T) -> T:
    """Rank 0's ``value`` (any picklable object), on every process."""
    if not world().active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    if world().active:
        dist.barrier()


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each named figure averaged over the processes that have it (a loss term can be absent on one)."""
    if not world().active:
        return values
    everyone: list[dict[str, float]] = [{} for _ in range(world().size)]
    dist.all_gather_object(everyone, values)
    names = list(dict.fromkeys(name for figures in everyone for name in figures))
    return {
        name: sum(f[name] for f in everyone if name in f) / sum(name in f for f in everyone) for name in names
    }


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Average gradients over the processes, for modules outside DistributedDataParallel.

    A parameter without a gradient on some process (its loss term was absent there)
    counts as zero there; one without a gradient anywhere keeps none.
    """
    if not world().active or not parameters:
        return
    has_grad = torch.tensor([p.grad is not None for p in parameters], dtype=torch.int32)
    dist.all_reduce(has_grad)
    for parameter, anywhere in zip(parameters, has_grad.tolist(), strict=True):
        if not anywhere:
            continue
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        dist.all_reduce(parameter.grad)
        parameter.grad /= world().size


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers into ``module`` on every process."""
    if not world().active:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def my_slice(count: int) -> range:
    """This process's contiguous share of ``count`` items (sizes differ by at most one)."""
    w = world()
    base, extra = divmod(count, w.size)
    start = w.rank * base + min(w.rank, extra)
    return range(start, start + base + (1 if w.rank < extra else 0))


def gather_slices(part: Any) -> list[Any]:
    """Every process's ``part`` (the result of its ``my_slice``), in rank order, on every process."""
    if not world().active:
        return [part]
    parts: list[Any] = [None] * world().size
    dist.all_gather_object(parts, part)
    return parts


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 over every parameter and buffer, by name: equal digests, equal models."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
