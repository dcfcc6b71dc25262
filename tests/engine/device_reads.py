"""Which ops of a training step would make the host wait for a GPU, found on the CPU.

On a GPU the host queues work and runs ahead; reading a device tensor back (``item()``,
``bool()``, ``float()``, ``nonzero``, a boolean-mask select whose size the host must know)
makes it wait until the queue has drained. ``DeviceReads`` follows the tensors that would
live on the device (the batch's images and labels, the parameters and everything computed
from them) through the dispatcher and records each such read with the engine line that made it.
"""

from __future__ import annotations

import collections
import traceback

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

READS_BACK = {
    "aten._local_scalar_dense.default",
    "aten.nonzero.default",
    "aten.masked_select.default",
    "aten.is_nonzero.default",
    "aten.equal.default",
}


class DeviceReads(TorchDispatchMode):
    """Counts reads of device tensors back to the host; ``mark`` names the tensors that start on the device."""

    def __init__(self):
        super().__init__()
        self.device_tensors = WeakIdKeyDictionary()
        self.sites: collections.Counter[str] = collections.Counter()

    def mark(self, *tensors: torch.Tensor) -> None:
        for tensor in tensors:
            self.device_tensors[tensor] = True

    @property
    def total(self) -> int:
        return sum(self.sites.values())

    def _on_device(self, tensor) -> bool:
        return isinstance(tensor, torch.Tensor) and (tensor in self.device_tensors or tensor.requires_grad)

    def _reads_back(self, name: str, args, device_input: bool) -> bool:
        if name.startswith(("aten.index.Tensor", "aten.index_put")):
            masks = [i for i in args[1] if i is not None and i.dtype == torch.bool]
            return any(self._on_device(m) for m in masks) or (device_input and bool(masks))
        return device_input and name in READS_BACK

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = tree_flatten((args, kwargs))[0]
        device_input = any(self._on_device(t) for t in inputs)
        if self._reads_back(str(func), args, device_input):
            stack = traceback.extract_stack(limit=16)[:-1]
            if not any(
                "/torch/optim/" in frame.filename for frame in stack
            ):  # optimiser steps live on the host
                engine = [f for f in stack if "cffd_engine" in f.filename]
                self.sites[
                    f"{engine[-1].filename.rsplit('/', 1)[-1]}:{engine[-1].lineno}" if engine else "?"
                ] += 1
        out = func(*args, **kwargs)
        if device_input:
            for tensor in tree_flatten(out)[0]:
                if isinstance(tensor, torch.Tensor):
                    self.device_tensors[tensor] = True
        return out
