"""Per-task held-out validation sets: faces never trained on, kept so forgetting can be measured later.

Each learned task keeps a small balanced set (default 100 faces) taken out of its
examples before training. They travel with every later model version, so each
update reports accuracy before and after on every task seen so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from cffd_engine.continual.samples import FAKE, REAL, SampleError, SampleSet

DEFAULT_VALIDATION_SIZE = 100
FEW_SOURCES = (
    5  # videos or photos of a new forgery (a forgery and its twin are one) below which its figures are rough
)
VALIDATION_KIND = "validation_sets"


# A forgery and its untouched twin come from one source: `cffd synth video` names them X and X_pristine,
# the demo X_manipulated and X_pristine.
TWIN_SUFFIXES = ("_pristine", "_manipulated")


def source_of(group: str) -> str:
    """The source a group (a file's path) was made from: its file name without a twin's suffix; a forgery
    and its twin are often in different folders (the examples and the genuine examples)."""
    stem = Path(group).stem
    for suffix in TWIN_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem


def distinct_sources(groups: Iterable[str]) -> int:
    """How many sources these groups come from: a forgery and its twin are one; "" (no file) is none."""
    return len({source_of(group) for group in groups if group})


def hold_out(
    samples: SampleSet, size: int = DEFAULT_VALIDATION_SIZE, seed: int = 0
) -> tuple[SampleSet, SampleSet]:
    """Split ``samples`` into (rest, held_out) with about ``size`` held out, balanced real/fake.

    Crops of one video (same non-empty group) stay on one side, so no face is both
    trained on and validated on; a forgery and its genuine twin (``source_of``) go to the
    same side, so that who is in a video cannot stand in for whether it was manipulated.
    A class with few samples gives at most half of them.
    """
    units: dict[int, dict[str, list[int]]] = {REAL: {}, FAKE: {}}
    for i, label in enumerate(samples.labels.tolist()):
        if label in units:
            units[label].setdefault(samples.groups[i] or f"#{i}", []).append(i)
    sources = sorted({source_of(group) for by_group in units.values() for group in by_group})
    order = torch.randperm(len(sources), generator=torch.Generator().manual_seed(seed)).tolist()
    held: list[int] = []
    for label in (REAL, FAKE):
        by_source: dict[str, list[int]] = {}
        for group, members in units[label].items():
            by_source.setdefault(source_of(group), []).extend(members)
        want = min(size // 2, sum(len(members) for members in by_source.values()) // 2)
        taken: list[int] = []
        for position in order:
            if len(taken) >= want:
                break
            taken += by_source.get(sources[position], [])
        held += taken
    held_set = set(held)
    rest = [i for i in range(len(samples)) if i not in held_set]
    return samples.subset(rest), samples.subset(sorted(held))


class ValidationSets:
    """Held-out faces per task, in the order the tasks were learned."""

    def __init__(self, image_size: int = 0):
        self.samples = SampleSet.empty(image_size)
        self.task_order: list[str] = []

    @property
    def tasks(self) -> list[str]:
        return list(self.task_order)

    def __contains__(self, task: str) -> bool:
        return task in self.task_order

    def get(self, task: str) -> SampleSet:
        if task not in self.task_order:
            raise KeyError(f"no validation set for task {task!r} (have {self.task_order})")
        return self.samples.of_task(task)

    def add(self, task: str, samples: SampleSet) -> None:
        """Add (or replace) the validation set of ``task``."""
        if task in self.task_order:
            keep = [i for i, name in enumerate(self.samples.tasks) if name != task]
            self.samples = self.samples.subset(keep)
            self.task_order.remove(task)
        samples = samples.subset(range(len(samples)))
        samples.tasks = [task] * len(samples)
        self.samples = SampleSet.concat([self.samples, samples]) if len(self.samples) else samples
        self.task_order.append(task)

    def copy(self) -> ValidationSets:
        other = ValidationSets(self.samples.size)
        other.samples = self.samples.subset(range(len(self.samples))) if len(self.samples) else self.samples
        other.task_order = list(self.task_order)
        return other

    def save(self, folder: Path | str) -> Path:
        return self.samples.save(folder, {"kind": VALIDATION_KIND, "task_order": self.task_order})

    @classmethod
    def load(cls, folder: Path | str) -> ValidationSets:
        samples, index = SampleSet.load(folder)
        if index.get("kind") != VALIDATION_KIND:
            raise SampleError(f"{folder}: not a set of validation faces (index kind {index.get('kind')!r})")
        sets = cls(samples.size)
        sets.samples = samples
        sets.task_order = list(index["task_order"])
        return sets
