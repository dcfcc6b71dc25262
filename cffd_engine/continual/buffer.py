"""The replay buffer: a fixed budget of face crops from the tasks learned so far.

The budget is shared equally by the tasks seen, and within a task equally by real
and fake. When a task is added the older shares shrink and each keeps the prefix of
its own ranking (its best-ranked samples), so what a task keeps never depends on
the order in which shrinking happened. The buffer is stored as a ``SampleSet``
folder whose index adds, per crop, its rank, why it was chosen and its score.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from cffd_engine import distributed
from cffd_engine.continual.evaluate import predict
from cffd_engine.continual.samples import FAKE, INDEX_FILE, REAL, SampleError, SampleSet
from cffd_engine.continual.selection import Ranking, SelectionStrategy, selection_from_dict
from cffd_engine.jobs import JobControl

DEFAULT_BUDGET = 500
BUFFER_KIND = "replay_buffer"


class ReplayBuffer:
    """Samples kept from earlier tasks under a total ``budget``, balanced real/fake per task.

    ``samples`` holds the kept crops (task names in ``samples.tasks``); ``ranks[i]`` is the
    position of sample i in its task-and-class ranking (0 = best), ``kinds``/``scores``
    say why it was chosen. Use ``add_task`` (or ``select_and_add``) to insert a task.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET, image_size: int = 0):
        if budget < 0:
            raise ValueError(f"replay budget must be >= 0, got {budget}")
        self.budget = int(budget)
        self.samples = SampleSet.empty(image_size)
        self.ranks: list[int] = []
        self.kinds: list[str] = []
        self.scores: list[float] = []
        self.task_order: list[str] = []
        self.selections: dict[str, dict] = {}  # task -> the selection that ranked it

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def tasks(self) -> list[str]:
        return list(self.task_order)

    def per_class_share(self, task_count: int | None = None) -> int:
        """Samples each class of each task may keep: budget / tasks / 2, rounded down."""
        count = len(self.task_order) if task_count is None else task_count
        return self.budget // max(1, count) // 2

    def counts(self) -> dict[str, dict[str, int]]:
        """Per task: how many real and fake crops are kept."""
        return {task: self.samples.of_task(task).counts() for task in self.task_order}

    def _keep(self, keep: list[int]) -> None:
        self.samples = self.samples.subset(keep) if keep else SampleSet.empty(self.samples.size)
        self.ranks = [self.ranks[i] for i in keep]
        self.kinds = [self.kinds[i] for i in keep]
        self.scores = [self.scores[i] for i in keep]

    def shrink(self, per_class: int) -> None:
        """Keep, in every task and class, only the ``per_class`` best-ranked samples."""
        self._keep([i for i, rank in enumerate(self.ranks) if rank < per_class])

    def add_task(
        self, task: str, candidates: SampleSet, rankings: dict[int, Ranking], selection: SelectionStrategy
    ) -> None:
        """Insert ``task`` from ``candidates`` ranked per class (label -> Ranking), shrinking older tasks first.

        Replaces the task if it is already there (learning it again).
        """
        if task in self.task_order:
            self._keep([i for i, name in enumerate(self.samples.tasks) if name != task])
            self.task_order.remove(task)
        per_class = self.per_class_share(len(self.task_order) + 1)
        self.shrink(per_class)
        picked: list[int] = []
        ranks: list[int] = []
        kinds: list[str] = []
        scores: list[float] = []
        for label in (REAL, FAKE):
            ranking = rankings.get(label)
            if ranking is None:
                continue
            members = torch.nonzero(candidates.labels == label).flatten().tolist()
            for position, (local, kind, score) in enumerate(
                zip(ranking.order, ranking.kinds, ranking.scores, strict=True)
            ):
                if position >= per_class:
                    break
                picked.append(members[local])
                ranks.append(position)
                kinds.append(kind)
                scores.append(float(score))
        chosen = candidates.subset(picked)
        chosen.tasks = [task] * len(chosen)
        if len(self.samples) and len(chosen) and chosen.size != self.samples.size:
            raise ValueError(f"buffer holds {self.samples.size}px crops; task {task!r} gives {chosen.size}px")
        self.samples = SampleSet.concat([self.samples, chosen]) if len(self.samples) else chosen
        self.ranks += ranks
        self.kinds += kinds
        self.scores += scores
        self.task_order.append(task)
        self.selections[task] = selection.to_dict()

    def select_and_add(
        self,
        task: str,
        candidates: SampleSet,
        model: nn.Module,
        selection: SelectionStrategy,
        seed: int = 0,
        job: JobControl | None = None,
    ) -> None:
        """Rank ``candidates`` with ``selection`` from ``model``'s embeddings and probabilities, then ``add_task``.

        Under torchrun rank 0 ranks and every process adds what it chose.
        """
        predictions = predict(model, candidates, job=job)
        rankings = {}
        if distributed.world().is_main:
            generator = torch.Generator().manual_seed(seed)
            for label in (REAL, FAKE):
                mask = candidates.labels == label
                if bool(mask.any()):
                    rankings[label] = selection.rank(
                        predictions.embeddings[mask], predictions.probabilities[mask], generator
                    )
        self.add_task(task, candidates, distributed.broadcast(rankings), selection)

    def copy(self) -> ReplayBuffer:
        other = ReplayBuffer(self.budget, self.samples.size)
        other.samples = self.samples.subset(range(len(self.samples))) if len(self.samples) else self.samples
        other.ranks, other.kinds, other.scores = list(self.ranks), list(self.kinds), list(self.scores)
        other.task_order = list(self.task_order)
        other.selections = {k: dict(v) for k, v in self.selections.items()}
        return other

    def save(self, folder: Path | str) -> Path:
        """Write the buffer into ``folder`` (safetensors pixels + index.json), each file atomically."""
        extra = {
            "kind": BUFFER_KIND,
            "budget": self.budget,
            "task_order": self.task_order,
            "selections": self.selections,
        }
        per_sample = {"rank": self.ranks, "selected_as": self.kinds, "score": self.scores}
        return self.samples.save(folder, extra, per_sample)

    @classmethod
    def load(cls, folder: Path | str) -> ReplayBuffer:
        """Read a buffer written by ``save``; SampleError names the folder if it is not one."""
        samples, index = SampleSet.load(folder)
        if index.get("kind") != BUFFER_KIND:
            raise SampleError(f"{folder}: not a replay buffer (index kind {index.get('kind')!r})")
        buffer = cls(int(index["budget"]), int(index["size"]))
        buffer.samples = samples
        buffer.ranks = [int(r) for r in index["rank"]]
        buffer.kinds = [str(k) for k in index["selected_as"]]
        buffer.scores = [float(s) for s in index["score"]]
        buffer.task_order = list(index["task_order"])
        buffer.selections = dict(index.get("selections", {}))
        for task, selection in buffer.selections.items():
            selection_from_dict(selection)  # refuse a buffer that names an unknown selection
            if task not in buffer.task_order:
                raise SampleError(f"{folder}: selection recorded for unknown task {task!r}")
        return buffer


def stored_counts(folder: Path | str) -> dict[str, dict[str, int]]:
    """Per task, the real and fake faces a saved buffer keeps (as ``ReplayBuffer.counts``), from its index alone.

    The pixels are not read. Empty when there is no buffer or its index cannot be read (a model
    shared without the faces it keeps in memory).
    """
    try:
        index = json.loads((Path(folder) / INDEX_FILE).read_text(encoding="utf-8"))
        pairs = list(zip(index["tasks"], index["labels"], strict=True))
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    counts: dict[str, dict[str, int]] = {}
    for task, label in pairs:
        kept = counts.setdefault(str(task), {"real": 0, "fake": 0})
        kept["real" if label == REAL else "fake"] += 1
    return counts


def stored_genuine_faces(folder: Path | str) -> int:
    """How many genuine faces a saved buffer keeps: the stand-ins when an update is given no genuine examples."""
    return sum(kept["real"] for kept in stored_counts(folder).values())
