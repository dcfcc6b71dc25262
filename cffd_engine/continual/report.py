"""``UpdateReport``: what one continual update did, before and after, per task; the wizard shows it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cffd_engine.calibration import FALSE_ALARM_GOAL

NOTICEABLE_DROP = 0.05  # accuracy points (as a fraction) worth a sentence in the summary
RANKING_KEPT = 0.03  # an AUC that fell no more than this has kept its ranking


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


@dataclass
class UpdateReport:
    """Accuracy and AUC on every task's held-out validation faces, before and after an update.

    Lists run over ``task_names`` (the earlier tasks in order, then the new one). "Before"
    is the model the update started from (all None for a first task), "after" the candidate.
    The candidate's threshold is fitted again (``threshold_after``, calibrated P(fake));
    ``accuracy_at_earlier_threshold`` is the candidate at ``threshold_before``, the one it started
    from, so that a change of threshold can be told from a change of what the model knows.
    """

    new_task: str
    task_names: list[str]
    accuracy_before: list[float | None]
    accuracy_after: list[float | None]
    auc_before: list[float | None]
    auc_after: list[float | None]
    validation_counts: list[int]
    strategy: str
    settings: dict[str, Any]
    train_samples: int
    replay_samples: int
    epochs: int
    steps: int
    seconds: float
    final_losses: dict[str, float] = field(default_factory=dict)
    loss_history: list[dict[str, float]] = field(default_factory=list)
    parent_version: str | None = None
    resumed_from_epoch: int = 0
    warnings: list[str] = field(default_factory=list)
    accuracy_at_earlier_threshold: list[float | None] = field(default_factory=list)
    threshold_before: float | None = None
    threshold_after: float | None = None

    @property
    def old_tasks(self) -> list[str]:
        return self.task_names[:-1]

    @property
    def forgetting(self) -> list[float | None]:
        """Per earlier task: accuracy before minus after (positive = forgotten)."""
        return [
            None if b is None or a is None else b - a
            for b, a in zip(self.accuracy_before[:-1], self.accuracy_after[:-1], strict=True)
        ]

    @property
    def old_accuracy_before(self) -> float | None:
        return _mean(self.accuracy_before[:-1])

    @property
    def old_accuracy_after(self) -> float | None:
        return _mean(self.accuracy_after[:-1])

    @property
    def new_accuracy_before(self) -> float | None:
        return self.accuracy_before[-1] if self.accuracy_before else None

    @property
    def new_accuracy_after(self) -> float | None:
        return self.accuracy_after[-1] if self.accuracy_after else None

    def summary_text(self) -> str:
        """The outcome in plain words, for someone who is not a programmer."""
        new = f"'{self.new_task}'"
        lines = []
        if self.new_accuracy_before is None:
            lines.append(
                f"The model recognises {_pct(self.new_accuracy_after)} of the held-out examples of {new}."
            )
        else:
            lines.append(
                f"On held-out examples of {new} the model is right {_pct(self.new_accuracy_after)} of the time "
                f"(before the update: {_pct(self.new_accuracy_before)})."
            )
        if self.old_tasks:
            lines.append(
                f"On the {len(self.old_tasks)} forgery type(s) it knew before, accuracy went from "
                f"{_pct(self.old_accuracy_before)} to {_pct(self.old_accuracy_after)} on average."
            )
            drops = [
                (d, name) for d, name in zip(self.forgetting, self.old_tasks, strict=True) if d is not None
            ]
            worst = max(drops, default=None)
            if worst is not None and worst[0] >= NOTICEABLE_DROP:
                kept = self.ranking_kept(self.task_names.index(worst[1]))
                lines.append(
                    f"{'Its accuracy fell' if kept else 'It forgot'} most on '{worst[1]}': "
                    f"{100 * worst[0]:.0f} points lower than before."
                )
                lines += self._ranking_kept(worst[1])
            if drops and worst[0] < NOTICEABLE_DROP:
                hidden = any(self.forgetting_hidden(row) for row in range(len(self.old_tasks)))
                lines.append(
                    "No earlier forgery type lost more than 5 points of accuracy"
                    + ("." if hidden else ": nothing noticeable was forgotten.")
                )
            lines += self._threshold_sentences()
        lines += self.warnings
        return " ".join(lines)

    def auc_change(self, row: int) -> float | None:
        """Task ``row``'s AUC after the update minus before (None where either is unknown)."""
        return self._changes(row)[1]

    def _changes(self, row: int) -> tuple[float | None, float | None]:
        """Task ``row``'s accuracy and AUC, each after minus before (None where either is unknown)."""

        def change(before: float | None, after: float | None) -> float | None:
            return None if before is None or after is None else after - before

        return (
            change(self.accuracy_before[row], self.accuracy_after[row]),
            change(self.auc_before[row], self.auc_after[row]),
        )

    def ranking_kept(self, row: int) -> bool:
        """Whether task ``row``'s ranking of faces (its AUC) held within ``RANKING_KEPT`` through the update."""
        change = self.auc_change(row)
        return change is not None and change >= -RANKING_KEPT

    def forgetting_hidden(self, row: int) -> bool:
        """Task ``row``'s ranking fell beyond ``RANKING_KEPT`` while its accuracy did not fall noticeably:
        forgetting that the refitted threshold hides."""
        accuracy, auc = self._changes(row)
        return (
            accuracy is not None and auc is not None and auc < -RANKING_KEPT and -accuracy < NOTICEABLE_DROP
        )

    def threshold_rise(self, row: int) -> bool:
        """Task ``row``'s accuracy rose noticeably while its ranking (AUC) held within ``RANKING_KEPT``:
        the refitted threshold's doing, not learning."""
        accuracy, auc = self._changes(row)
        return (
            accuracy is not None
            and auc is not None
            and accuracy >= NOTICEABLE_DROP
            and abs(auc) <= RANKING_KEPT
        )

    def _threshold_sentences(self) -> list[str]:
        """Sentences for the earlier tasks whose accuracy and ranking (AUC) tell different stories."""
        lines = []
        for row, task in enumerate(self.old_tasks):
            if self.forgetting_hidden(row):
                lines.append(
                    f"The model's ranking of '{task}' faces fell (AUC {self.auc_before[row]:.2f} -> "
                    f"{self.auc_after[row]:.2f}) although its accuracy did not: some of '{task}' was forgotten, "
                    "and the refitted threshold hides it."
                )
        rises = [(row, task) for row, task in enumerate(self.old_tasks) if self.threshold_rise(row)]
        if rises:
            names = ", ".join(
                f"'{task}' (+{100 * (self.accuracy_after[row] - self.accuracy_before[row]):.0f} points, AUC "
                f"{self.auc_before[row]:.2f} -> {self.auc_after[row]:.2f})"
                for row, task in rises
            )
            lines.append(
                f"Accuracy rose on {names} while the ranking held: the threshold was fitted again on the "
                "genuine faces kept aside, so the rise is not learning."
            )
        return lines

    def _ranking_kept(self, task: str) -> list[str]:
        """A sentence when ``task``'s accuracy fell but its ranking (AUC) did not: the threshold moved, or
        the scores did (the candidate at the earlier threshold tells which, where it was measured)."""
        row = self.task_names.index(task)
        if not self.ranking_kept(row):
            return []
        before, after = self.auc_before[row], self.auc_after[row]
        ranking = f"Its ranking of '{task}' faces barely changed (AUC {before:.2f} -> {after:.2f})"
        refitted = (
            f"the threshold, fitted again so that at most {FALSE_ALARM_GOAL:.0%} of the genuine faces kept aside, "
            "the new ones included, are called manipulated"
        )
        at_earlier = (
            self.accuracy_at_earlier_threshold[row] if row < len(self.accuracy_at_earlier_threshold) else None
        )
        if at_earlier is None or None in (self.threshold_before, self.threshold_after):
            return [f"{ranking}: the fall comes from {refitted}."]
        measured = (
            f"the earlier threshold ({self.threshold_before:.2f}; now {self.threshold_after:.2f}) the updated "
            f"model is right on {_pct(at_earlier)} of '{task}' faces (before the update: "
            f"{_pct(self.accuracy_before[row])})"
        )
        if self.accuracy_before[row] - at_earlier < NOTICEABLE_DROP:
            return [f"{ranking}: the fall comes from {refitted}.", f"At {measured}."]
        return [
            f"{ranking}, but its scores moved: at {measured}, so the fall is not the new threshold's alone."
        ]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["derived"] = {
            "forgetting": self.forgetting,
            "old_accuracy_before": self.old_accuracy_before,
            "old_accuracy_after": self.old_accuracy_after,
            "new_accuracy_before": self.new_accuracy_before,
            "new_accuracy_after": self.new_accuracy_after,
            "summary": self.summary_text(),
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpdateReport:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
