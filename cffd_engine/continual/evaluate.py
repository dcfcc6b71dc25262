"""Running a model over a SampleSet: probabilities and fused embeddings, accuracy and AUC."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata
from torch import Tensor, nn

from cffd_engine import distributed
from cffd_engine.continual.config import EVAL_BATCH_SIZE
from cffd_engine.continual.samples import FAKE, SampleSet
from cffd_engine.jobs import JobControl
from cffd_engine.model import inference_copy
from cffd_engine.model.device import autocast_for


@dataclass
class Predictions:
    """Per-sample class logits (N, C) and fused embeddings g (N, D), float32 on the CPU."""

    logits: Tensor
    embeddings: Tensor

    @property
    def probabilities(self) -> Tensor:
        return torch.softmax(self.logits, dim=1)

    @property
    def fake_probability(self) -> Tensor:
        return self.probabilities[:, FAKE]

    @property
    def fake_margin(self) -> Tensor:
        """Fake logit minus real logit: the log-odds of P(fake), not saturated as float32 probabilities are."""
        return self.logits[:, FAKE] - self.logits[:, 1 - FAKE]


def predict(
    model: nn.Module, samples: SampleSet, batch_size: int = EVAL_BATCH_SIZE, job: JobControl | None = None
) -> Predictions:
    """Eval-mode forward over ``samples`` in batches (autocast on CUDA), by ``inference_copy(model)``.

    Under torchrun it is collective: each process scores its slice and all get every score.
    """
    answering = inference_copy(model)
    device = next(model.parameters()).device
    mine = distributed.my_slice(len(samples))
    logits, embeddings = [], []
    with torch.inference_mode(), autocast_for(device):
        for start in range(mine.start, mine.stop, batch_size):
            if job is not None:
                job.check()
            index = torch.arange(start, min(start + batch_size, mine.stop))
            out = answering(samples.float_images(index, device))
            logits.append(out.logits.float().cpu())
            embeddings.append(out.embedding.float().cpu())
    if distributed.world().active:
        parts = distributed.gather_slices((logits, embeddings))
        logits = [p for ours, _ in parts for p in ours]
        embeddings = [e for _, theirs in parts for e in theirs]
    if not logits:
        classes = getattr(getattr(model, "config", None), "num_classes", 2)
        return Predictions(torch.zeros(0, classes), torch.zeros(0, 0))
    return Predictions(torch.cat(logits), torch.cat(embeddings))


def binary_auc(scores: Tensor | np.ndarray, labels: Tensor | np.ndarray) -> float | None:
    """ROC AUC of fake scores (Mann-Whitney, ties counted half); None when a class is missing."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    positive, negative = scores[labels == FAKE], scores[labels != FAKE]
    if len(positive) == 0 or len(negative) == 0:
        return None
    ranks = rankdata(np.concatenate([positive, negative]))  # average ranks for ties
    rank_sum = ranks[: len(positive)].sum()
    return float((rank_sum - len(positive) * (len(positive) + 1) / 2) / (len(positive) * len(negative)))


def accuracy(
    scores: Tensor | np.ndarray, labels: Tensor | np.ndarray, threshold: float = 0.5
) -> float | None:
    """Share of samples whose fake score is on the right side of ``threshold``; None when empty."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) == 0:
        return None
    return float(((scores >= threshold).astype(int) == labels).mean())


def video_level(
    scores: Tensor | np.ndarray, labels: Tensor | np.ndarray, groups: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean fake score per video (group) and its label; samples without a group count on their own."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    keys = [g if g else f"#{i}" for i, g in enumerate(groups)]
    order = list(dict.fromkeys(keys))
    position = {key: i for i, key in enumerate(order)}
    index = np.array([position[k] for k in keys])
    sums = np.bincount(index, weights=scores, minlength=len(order))
    counts = np.bincount(index, minlength=len(order))
    video_labels = np.zeros(len(order), dtype=labels.dtype)
    video_labels[index] = labels
    return sums / counts, video_labels


@dataclass
class Evaluation:
    """Accuracy and AUC of one model on one sample set, at frame level and (where videos exist) video level."""

    accuracy: float | None
    auc: float | None
    count: int
    video_accuracy: float | None = None
    video_auc: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def evaluate(
    model: nn.Module,
    samples: SampleSet,
    threshold: float = 0.5,
    batch_size: int = EVAL_BATCH_SIZE,
    job: JobControl | None = None,
) -> Evaluation:
    """Accuracy and AUC of ``model`` on ``samples``; video-level figures when samples carry groups."""
    scores = predict(model, samples, batch_size, job).fake_probability.numpy()
    return evaluation_of(scores, samples, threshold)


def evaluation_of(scores: np.ndarray, samples: SampleSet, threshold: float = 0.5) -> Evaluation:
    """``evaluate``'s figures from P(fake) scores already computed for ``samples``."""
    labels = samples.labels.numpy()
    result = Evaluation(accuracy(scores, labels, threshold), binary_auc(scores, labels), len(samples))
    if any(samples.groups):
        video_scores, video_labels = video_level(scores, labels, samples.groups)
        result.video_accuracy = accuracy(video_scores, video_labels, threshold)
        result.video_auc = binary_auc(video_scores, video_labels)
    return result
