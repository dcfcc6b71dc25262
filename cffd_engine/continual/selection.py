"""Which samples of a learned task the replay buffer keeps: random (ER), herding (iCaRL), hybrid (CFFD).

A selection ranks the candidates of one class, best first, from the model's fused
embeddings g and class probabilities. The buffer keeps a prefix of that ranking, so
when its share for the task shrinks it keeps the best-ranked samples. A selection is
data (``to_dict``/``selection_from_dict``), stored with the buffer it made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

RANDOM, HARD, REPRESENTATIVE = "random", "hard", "representative"


@dataclass
class Ranking:
    """Candidate indices best first, why each was chosen (random/hard/representative), and its score."""

    order: list[int]
    kinds: list[str]
    scores: list[float]

    def __post_init__(self) -> None:
        if not len(self.order) == len(self.kinds) == len(self.scores):
            raise ValueError("Ranking fields must have one value per ranked candidate")


def herding_order(embeddings: Tensor) -> tuple[list[int], list[float]]:
    """iCaRL herding: each step adds the sample that brings the running mean closest to the class mean.

    embeddings (N, D) are L2-normalised first. Returns the order and, per step, the
    distance between the running mean and the class mean after adding that sample.
    """
    n = embeddings.shape[0]
    if n == 0:
        return [], []
    z = F.normalize(embeddings.double(), dim=1)
    target = z.mean(dim=0)
    chosen_sum = torch.zeros_like(target)
    available = torch.ones(n, dtype=torch.bool)
    order: list[int] = []
    distances: list[float] = []
    for k in range(1, n + 1):
        means = (chosen_sum[None, :] + z) / k
        distance = (means - target[None, :]).norm(dim=1).masked_fill(~available, float("inf"))
        best = int(torch.argmin(distance))
        order.append(best)
        distances.append(float(distance[best]))
        chosen_sum += z[best]
        available[best] = False
    return order, distances


def kcenter_order(embeddings: Tensor) -> tuple[list[int], list[float]]:
    """k-centre greedy on normalised embeddings: start nearest the mean, then always the farthest from those chosen."""
    n = embeddings.shape[0]
    if n == 0:
        return [], []
    z = F.normalize(embeddings.double(), dim=1)
    first = int(torch.argmin((z - z.mean(dim=0)).norm(dim=1)))
    order, distances = [first], [0.0]
    nearest = (z - z[first]).norm(dim=1)
    nearest[first] = -1.0
    for _ in range(n - 1):
        best = int(torch.argmax(nearest))
        order.append(best)
        distances.append(float(nearest[best]))
        nearest = torch.minimum(nearest, (z - z[best]).norm(dim=1))
        nearest[order] = -1.0
    return order, distances


def _ranks(values: Tensor) -> Tensor:
    """Rank of each value, 0 = smallest; ties keep the index order (a stable sort)."""
    order = torch.sort(values, stable=True).indices
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(len(values))
    return ranks


def uncertainty(probabilities: Tensor) -> tuple[Tensor, Tensor]:
    """(margin p_top1 - p_top2, entropy -sum p log p) per sample of (N, C) probabilities."""
    p = probabilities.double().clamp_min(0)
    top2 = torch.topk(p, k=min(2, p.shape[1]), dim=1).values
    margin = top2[:, 0] - top2[:, 1] if top2.shape[1] > 1 else top2[:, 0]
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1)
    return margin, entropy


def hardness_order(probabilities: Tensor) -> tuple[list[int], list[float]]:
    """Hard samples first: small top-2 margin and large entropy, combined by the mean of their ranks."""
    if probabilities.shape[0] == 0:
        return [], []
    margin, entropy = uncertainty(probabilities)
    score = (_ranks(margin) + _ranks(-entropy)).double() / 2
    order = torch.sort(score, stable=True).indices
    return order.tolist(), score[order].tolist()


class SelectionStrategy:
    """Ranks the candidates of one class; subclasses are plain dataclasses with a ``name``."""

    name: ClassVar[str] = ""

    def rank(self, embeddings: Tensor, probabilities: Tensor, generator: torch.Generator) -> Ranking:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}  # type: ignore[call-overload]


@dataclass
class RandomSelection(SelectionStrategy):
    """Experience replay: a uniformly random order (seeded)."""

    name: ClassVar[str] = "random"

    def rank(self, embeddings: Tensor, probabilities: Tensor, generator: torch.Generator) -> Ranking:
        order = torch.randperm(embeddings.shape[0], generator=generator).tolist()
        return Ranking(order, [RANDOM] * len(order), [float(i) for i in range(len(order))])


@dataclass
class HerdingSelection(SelectionStrategy):
    """iCaRL exemplars: herding toward the class mean of the fused embedding g."""

    name: ClassVar[str] = "herding"

    def rank(self, embeddings: Tensor, probabilities: Tensor, generator: torch.Generator) -> Ranking:
        order, distances = herding_order(embeddings)
        return Ranking(order, [REPRESENTATIVE] * len(order), distances)


@dataclass
class HybridSelection(SelectionStrategy):
    """CFFD hybrid sampling: hard samples (margin + entropy ranks) interleaved with representative ones.

    ``hard_fraction`` of every prefix of the ranking is hard (so shrinking keeps the ratio);
    the rest is representative by ``representative`` ("herding", or "kcenter" for diversity).
    """

    name: ClassVar[str] = "hybrid"
    hard_fraction: float = 0.5
    representative: Literal["herding", "kcenter"] = "herding"

    def __post_init__(self) -> None:
        if not 0.0 <= self.hard_fraction <= 1.0:
            raise ValueError(f"hard_fraction must be in [0, 1], got {self.hard_fraction}")
        if self.representative not in ("herding", "kcenter"):
            raise ValueError(f"representative must be 'herding' or 'kcenter', got {self.representative!r}")

    def rank(self, embeddings: Tensor, probabilities: Tensor, generator: torch.Generator) -> Ranking:
        hard, hard_scores = hardness_order(probabilities)
        representative_order = herding_order if self.representative == "herding" else kcenter_order
        typical, typical_scores = representative_order(embeddings)
        hard_queue = list(zip(hard, hard_scores, strict=True))
        typical_queue = list(zip(typical, typical_scores, strict=True))
        taken: set[int] = set()
        ranking = Ranking([], [], [])
        hard_count = 0
        while len(ranking.order) < len(hard):
            want_hard = hard_count < int(self.hard_fraction * (len(ranking.order) + 1) + 0.5)
            queue, kind = (hard_queue, HARD) if want_hard and hard_queue else (typical_queue, REPRESENTATIVE)
            if not queue:
                queue, kind = hard_queue, HARD
            index, score = queue.pop(0)
            if index in taken:
                continue
            taken.add(index)
            hard_count += kind == HARD
            ranking.order.append(index)
            ranking.kinds.append(kind)
            ranking.scores.append(score)
        return ranking


SELECTIONS: dict[str, type[SelectionStrategy]] = {
    cls.name: cls for cls in (RandomSelection, HerdingSelection, HybridSelection)
}


def selection_from_dict(data: dict[str, Any] | str) -> SelectionStrategy:
    """A selection from its name or ``to_dict`` form; ValueError lists the known names."""
    if isinstance(data, str):
        data = {"name": data}
    data = dict(data)
    name = data.pop("name", "")
    if name not in SELECTIONS:
        raise ValueError(f"unknown replay selection {name!r}; choose one of {sorted(SELECTIONS)}")
    return SELECTIONS[name](**data)
