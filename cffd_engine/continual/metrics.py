"""Continual-learning metrics: the accuracy and AUC matrices and what is read off them (METHOD.md 5).

R[i][j] is the accuracy on task j's test set after learning task i (rows may be
shorter than the number of tasks: only tasks seen so far, or every task when they
are all known in advance). Over I tasks:
final average = mean_j R[I][j]; old-task average = mean_{j<I} R[I][j];
average forgetting = mean_{j<I} (max_{j<=k<I} R[k][j] - R[I][j]) (the best value once task j
was learned, so zero-shot cells of a full matrix do not count);
backward transfer = mean_{j<I} (R[I][j] - R[j][j]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import mean
from typing import Any

Matrix = list[list[float | None]]


def _cell(matrix: Matrix, i: int, j: int) -> float | None:
    if i < len(matrix) and j < len(matrix[i]):
        return matrix[i][j]
    return None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return mean(known) if known else None


def final_average(matrix: Matrix) -> float | None:
    """Mean over tasks of the last row (tasks seen by the end)."""
    if not matrix:
        return None
    last = len(matrix) - 1
    return _mean([_cell(matrix, last, j) for j in range(last + 1)])


def old_task_average(matrix: Matrix) -> float | None:
    """Mean of the last row over the tasks before the last one."""
    last = len(matrix) - 1
    return _mean([_cell(matrix, last, j) for j in range(last)]) if last > 0 else None


def average_forgetting(matrix: Matrix) -> float | None:
    """Mean over old tasks of (best earlier value - final value); positive = forgotten."""
    last = len(matrix) - 1
    drops = []
    for j in range(last):
        earlier = [v for k in range(j, last) if (v := _cell(matrix, k, j)) is not None]
        final = _cell(matrix, last, j)
        if earlier and final is not None:
            drops.append(max(earlier) - final)
    return _mean(drops) if drops else None


def backward_transfer(matrix: Matrix) -> float | None:
    """Mean over old tasks of (final value - value right after learning it); negative = forgotten."""
    last = len(matrix) - 1
    changes = []
    for j in range(last):
        final, learned = _cell(matrix, last, j), _cell(matrix, j, j)
        if final is not None and learned is not None:
            changes.append(final - learned)
    return _mean(changes) if changes else None


@dataclass
class ContinualMetrics:
    """The matrices of one continual run (rows: after task i; columns: task j) with their summaries."""

    task_names: list[str] = field(default_factory=list)
    accuracy: Matrix = field(default_factory=list)
    auc: Matrix = field(default_factory=list)
    video_accuracy: Matrix = field(default_factory=list)  # empty where no sample belongs to a video
    video_auc: Matrix = field(default_factory=list)

    def add_row(
        self, accuracy: list[float | None], auc: list[float | None], video_accuracy=None, video_auc=None
    ) -> None:
        self.accuracy.append(list(accuracy))
        self.auc.append(list(auc))
        if video_accuracy is not None and any(v is not None for v in video_accuracy):
            self.video_accuracy.append(list(video_accuracy))
            self.video_auc.append(list(video_auc or []))

    def summary(self) -> dict[str, float | None]:
        return {
            "final_accuracy": final_average(self.accuracy),
            "final_auc": final_average(self.auc),
            "old_task_accuracy": old_task_average(self.accuracy),
            "average_forgetting": average_forgetting(self.accuracy),
            "backward_transfer": backward_transfer(self.accuracy),
            "auc_forgetting": average_forgetting(self.auc),
            "final_video_accuracy": final_average(self.video_accuracy),
            "final_video_auc": final_average(self.video_auc),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContinualMetrics:
        known = {"task_names", "accuracy", "auc", "video_accuracy", "video_auc"}
        return cls(**{k: v for k, v in data.items() if k in known})
