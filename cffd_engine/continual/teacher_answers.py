"""The frozen teacher's answers, computed once per face and orientation instead of once per pass.

The teacher (the model before the task) never changes during a task, and the only
augmentation is the horizontal flip, so over five passes it would answer the same
question two and a half times per face. Computed up front, in a fixed order, its
answers are also the same whether a run was resumed or not: a resumed run still ends
with the weights of an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

from cffd_engine.continual.samples import SampleSet
from cffd_engine.jobs import JobControl
from cffd_engine.model import RSIAOutput

# Memory the answers may take (for CFFD, RSIA-Net at 160 px keeps about 270 KB a face and
# orientation: some 1,900 faces); a task that needs more asks the teacher at every step.
BUDGET_BYTES = 1 << 30


class TeacherAnswers:
    """The fields of the teacher's output a strategy reads, for the samples it asks about, both orientations."""

    def __init__(self, slots: Tensor, layout: list[tuple[str, int | None]], stored: list[Tensor]):
        self.slots = slots  # per sample of the task's data: its row in the store, -1 if never asked about
        self.layout = layout  # (field, how many tensors it is, None for a single one), in order
        self.stored = stored  # the fields' tensors flattened, each (orientations, rows, ...)

    @classmethod
    def compute(
        cls,
        teacher: nn.Module,
        data: SampleSet,
        rows: Tensor,
        fields: tuple[str, ...],
        *,
        flips: bool,
        batch_size: int,
        device: torch.device,
        memory_format: torch.memory_format,
        precision: Callable[[], AbstractContextManager],
        job: JobControl,
        budget_bytes: int | None = None,
    ) -> TeacherAnswers | None:
        """The teacher's answers for the samples where the host-side bool ``rows`` is true, as they are
        and (with ``flips``) mirrored, under ``precision()``; None when there are none or they need more
        than ``budget_bytes`` (``BUDGET_BYTES`` unless given)."""
        budget_bytes = BUDGET_BYTES if budget_bytes is None else budget_bytes
        index = rows.nonzero().squeeze(1)
        if not len(index):
            return None
        orientations = (False, True) if flips else (False,)

        def ask(images: Tensor) -> RSIAOutput:
            with torch.no_grad(), precision():
                return teacher(images.contiguous(memory_format=memory_format))

        probe = ask(data.float_images(index[:1], device))  # one face: what a row of answers holds
        layout = [(name, _count(getattr(probe, name))) for name in fields]
        shapes = _flatten(probe, fields)
        if sum(t.numel() * t.element_size() for t in shapes) * len(index) * len(orientations) > budget_bytes:
            return None
        stored = [t.new_empty((len(orientations), len(index), *t.shape[1:])) for t in shapes]
        for start in range(0, len(index), batch_size):
            job.check()
            chunk = index[start : start + batch_size]
            images = data.float_images(chunk, device)
            for orientation, mirrored in enumerate(orientations):
                answer = _flatten(ask(images.flip(-1) if mirrored else images), fields)
                for store, tensor in zip(stored, answer, strict=True):
                    store[orientation, start : start + len(chunk)] = tensor
        slots = torch.full((len(data),), -1, dtype=torch.long)
        slots[index] = torch.arange(len(index))
        return cls(slots, layout, stored)

    def answers(self, index: Tensor, flipped: Tensor) -> RSIAOutput:
        """The teacher's output for the samples at ``index`` (mirrored where the host-side bool
        ``flipped`` is true), as its forward pass on those images gives it; fields not kept are None."""
        slots = self.slots[index]
        if bool((slots < 0).any()):
            raise KeyError(f"no teacher answers kept for samples {index[slots < 0].tolist()}")
        orientation = flipped.long() if self.stored[0].shape[0] == 2 else torch.zeros_like(slots)
        device = self.stored[0].device
        rows = (orientation.to(device), slots.to(device))
        picked = iter([store[rows] for store in self.stored])
        values = {
            name: next(picked) if count is None else tuple(next(picked) for _ in range(count))
            for name, count in self.layout
        }
        return RSIAOutput(**{name: values.get(name) for name in RSIAOutput._fields})


def _count(value: Tensor | tuple[Tensor, ...]) -> int | None:
    return len(value) if isinstance(value, tuple) else None


def _flatten(out: RSIAOutput, fields: tuple[str, ...]) -> list[Tensor]:
    tensors: list[Tensor] = []
    for name in fields:
        value = getattr(out, name)
        tensors.extend(value if isinstance(value, tuple) else (value,))
    return tensors
