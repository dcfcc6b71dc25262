"""Are the forgery families distinct? Train on one, test on all: the cross-family accuracy table.

For each family a fresh RSIA-Net (``lite`` by default) learns that family's
train split (the epoch kept is the best on its own val split) and is tested
on every family's test split. The diagonal must be high (a family a detector
cannot learn is broken: < 0.8) and the table must not be uniformly high (if
every cell is > 0.95, a detector of one family detects all, and a continual
benchmark over them measures nothing).

Beside accuracy, the paired score: how often a detector scores a forgery above
its own source photo. Accuracy asks whether one threshold separates all
reals from all fakes; a detector whose scores follow each photo's content
(its colour, its sharpness) more than the forgery fails that test while still
ranking most forgeries above their sources.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cffd_engine.data.synth.builder import TaskSequence, crop_path
from cffd_engine.jobs import JobControl, ensure_job

TRIVIAL, BROKEN = 0.95, 0.8
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeparabilitySettings:
    """How each per-family detector is trained; saved with the result."""

    sequence: Path
    preset: str = "lite"
    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    max_train: int | None = None  # per family, pairs kept from the train split (None: all)
    seed: int = 0
    threads: int | None = None
    # ImageNet weight files for the two backbones (None: from scratch), as the model config takes them.
    spatial_weights: str | None = None
    frequency_weights: str | None = None


@dataclass
class SeparabilityResult:
    """Accuracy and AUC with rows = family trained on, columns = family tested on; and the verdict."""

    tasks: list[str]
    accuracy: list[list[float]]
    auc: list[list[float]]
    val_accuracy: list[float]
    best_epoch: list[int]
    verdict: str
    val_history: list[list[float]] = field(default_factory=list)
    paired: list[list[float]] = field(default_factory=list)  # same layout: fake above its own real
    settings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The accuracy table as Markdown (AUC in brackets), rows trained on, columns tested on."""
        lines = ["| trained on \\ tested on | " + " | ".join(self.tasks) + " |"]
        lines.append("|" + " --- |" * (len(self.tasks) + 1))
        for name, accs, aucs in zip(self.tasks, self.accuracy, self.auc, strict=True):
            cells = [f"{a:.3f} ({u:.3f})" for a, u in zip(accs, aucs, strict=True)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def verdict(tasks: list[str], accuracy: list[list[float]]) -> str:
    """'ok', or what is wrong: families not learned in-family (< 0.8), or every cell > 0.95."""
    broken = [t for i, t in enumerate(tasks) if accuracy[i][i] < BROKEN]
    if broken:
        return f"broken: not learned in-family (diagonal < {BROKEN}): {', '.join(broken)}"
    if all(cell > TRIVIAL for row in accuracy for cell in row):
        return f"too easy: every family detects every other (all cells > {TRIVIAL})"
    return "ok"


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half."""
    from scipy.stats import rankdata

    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def paired_accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """Fraction of (real, fake) pairs, as ``load_split`` lays them out, whose fake scores higher; ties count half."""
    if len(labels) % 2 or (labels[0::2] != 0).any() or (labels[1::2] != 1).any():
        raise ValueError("paired accuracy needs each real sample directly followed by its fake")
    real, fake = scores[0::2], scores[1::2]
    return float(np.mean((fake > real) + 0.5 * (fake == real)))


def load_split(
    sequence: Path, task: str, split: str, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A task's split as cached crops (N, S, S, 3) uint8 and labels (0 real, 1 fake); each real next to its fake.

    ``limit`` keeps the first ``limit`` pairs.
    """
    from cffd_engine.data.cache import read_png
    from cffd_engine.data.manifest import Manifest

    entries = Manifest.load(Path(sequence) / task / "manifest.json").split(split).entries
    entries = entries[: 2 * limit] if limit is not None else entries
    images = [read_png(crop_path(Path(entry.path))) for entry in entries]
    return np.stack(images), np.asarray([entry.label for entry in entries], np.int64)


def _tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def _scores(model, images: np.ndarray, batch_size: int) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            out.append(model(_tensor(images[start : start + batch_size])).fake_probability.numpy())
    return np.concatenate(out)


def fresh_detector(settings: SeparabilitySettings, size: int):
    """An untrained RSIA-Net of the settings' preset for ``size``-pixel crops, on the settings' backbone weights."""
    from cffd_engine.model import create_model

    return create_model(
        settings.preset,
        input_size=size,
        spatial_weights=settings.spatial_weights,
        frequency_weights=settings.frequency_weights,
    )


def train_detector(
    settings: SeparabilitySettings,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    job: JobControl,
):
    """A fresh RSIA-Net trained on ``train`` with the weights of its best epoch on ``val``; that accuracy,
    that epoch, and the val accuracy after every epoch."""
    import torch

    torch.manual_seed(settings.seed)
    images, labels = train
    model = fresh_detector(settings, images.shape[1])
    optimiser = torch.optim.AdamW(
        model.parameters(), settings.learning_rate, weight_decay=settings.weight_decay
    )
    steps = settings.epochs * int(np.ceil(len(images) / settings.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.learning_rate, total_steps=steps)
    rng = np.random.default_rng(settings.seed)
    best = (-1.0, 0, None)
    history: list[float] = []
    for epoch in range(settings.epochs):
        model.train()
        # Pairs stay together in a batch (load_split keeps each real next to its fake): the network sees
        # the forgery against its own source, which is what makes small sets learnable (as SBI trains).
        order = (2 * rng.permutation(len(images) // 2)[:, None] + np.arange(2)).ravel()
        for step, start in enumerate(range(0, len(order), settings.batch_size)):
            job.check()
            batch = order[start : start + settings.batch_size]
            x = _tensor(images[batch])
            flip = torch.from_numpy(rng.random(len(batch)) < 0.5)
            x[flip] = x[flip].flip(-1)
            loss = torch.nn.functional.cross_entropy(model(x).logits, torch.from_numpy(labels[batch]))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            done = (epoch + (step + 1) * settings.batch_size / len(images)) / settings.epochs
            job.report(done, f"epoch {epoch + 1}/{settings.epochs}, loss {loss.item():.3f}")
        accuracy = float(((_scores(model, val[0], settings.batch_size) > 0.5) == val[1]).mean())
        history.append(round(accuracy, 4))
        log.info("epoch %d/%d: val accuracy %.3f", epoch + 1, settings.epochs, accuracy)
        if accuracy > best[0]:
            best = (accuracy, epoch + 1, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    return model, best[0], best[1], history


def separability(settings: SeparabilitySettings, job: JobControl | None = None) -> SeparabilityResult:
    """Train one detector per family of the built sequence and test each on every family: see the module doc."""
    import torch

    from cffd_engine.model.device import cpu_threads

    job = ensure_job(job)
    began = time.perf_counter()
    sequence = TaskSequence.load(settings.sequence)
    tasks = sequence.tasks
    tests = {task: load_split(settings.sequence, task, "test") for task in tasks}
    accuracy, auc, paired, val_accuracy, best_epoch, val_history, counts = [], [], [], [], [], [], {}
    with cpu_threads(settings.threads), torch.random.fork_rng():
        for row, task in enumerate(tasks):
            sub = job.sub(row / len(tasks), (row + 1) / len(tasks))
            train = load_split(settings.sequence, task, "train", settings.max_train)
            val = load_split(settings.sequence, task, "val")
            counts[task] = {"train": len(train[1]), "val": len(val[1]), "test": len(tests[task][1])}
            model, val_acc, epoch, history = train_detector(settings, train, val, sub)
            val_accuracy.append(val_acc)
            val_history.append(history)
            best_epoch.append(epoch)
            accs, aucs, pairs = [], [], []
            for other in tasks:
                images, labels = tests[other]
                scores = _scores(model, images, settings.batch_size)
                accs.append(round(float(((scores > 0.5) == labels).mean()), 4))
                aucs.append(round(roc_auc(labels, scores), 4))
                pairs.append(round(paired_accuracy(labels, scores), 4))
            accuracy.append(accs)
            auc.append(aucs)
            paired.append(pairs)
    described = {**asdict(settings), "sequence": str(Path(settings.sequence).resolve())}
    return SeparabilityResult(
        tasks=tasks, accuracy=accuracy, auc=auc, val_accuracy=val_accuracy, best_epoch=best_epoch,
        verdict=verdict(tasks, accuracy), val_history=val_history, paired=paired, settings=described,
        counts=counts, seconds=round(time.perf_counter() - began, 1),
    )  # fmt: skip
