"""Continual strategies: FT, LwF, EWC, ER, iCaRL and CFFD, as objects the one trainer drives.

A strategy says whether it replays (and how it selects), whether it needs a teacher
(a frozen copy of the model before the task), which samples the teacher must see,
and what its loss terms are. Hooks: ``before_task`` (make the teacher, prepare state),
``losses`` (per batch), ``after_task`` (e.g. EWC's Fisher). Everything else lives in
``Trainer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cffd_engine.continual.config import StrategyConfig
from cffd_engine.continual.samples import SampleSet
from cffd_engine.continual.selection import HybridSelection, SelectionStrategy, selection_from_dict
from cffd_engine.jobs import JobControl
from cffd_engine.losses import HSCLoss, domain_mfkd_loss, mfkd_loss, relational_loss, slkd_loss
from cffd_engine.model import RSIAOutput, inference_copy


@dataclass
class Batch:
    """One training batch: float images in [0, 1] and labels on the device, which samples are replayed.

    ``replay`` and every mask made from it stay on the host: rows are then cut with an index
    the host already knows, where a boolean mask on a GPU makes the host wait for the device.
    """

    images: Tensor
    labels: Tensor
    replay: Tensor  # bool (N,), on the CPU


def _row_index(rows: Tensor, device: torch.device) -> Tensor | None:
    """The positions where the host-side bool ``rows`` is true, on ``device``; None when all are."""
    if bool(rows.all()):
        return None
    return rows.nonzero().squeeze(1).to(device, non_blocking=True)


def take_rows(tensor: Tensor, rows: Tensor) -> Tensor:
    """The rows of ``tensor`` where the host-side bool ``rows`` is true (all of it when all are)."""
    index = _row_index(rows, tensor.device)
    return tensor if index is None else tensor.index_select(0, index)


def _subset(out: RSIAOutput, rows: Tensor) -> RSIAOutput:
    index = _row_index(rows, out.logits.device)
    if index is None:
        return out
    cut = lambda tensor: tensor.index_select(0, index)  # noqa: E731
    return RSIAOutput(
        cut(out.logits),
        tuple(map(cut, out.spatial_features)),
        tuple(map(cut, out.frequency_features)),
        tuple(map(cut, out.rsia_features)),
        cut(out.embedding),
        cut(out.level_weights),
    )


class Strategy:
    """Base: plain fine-tuning with cross-entropy; subclasses add replay, a teacher or penalties."""

    name: ClassVar[str] = ""
    uses_replay: ClassVar[bool] = False
    uses_teacher: ClassVar[bool] = False

    def __init__(self, config: StrategyConfig):
        self.config = config
        self.teacher: nn.Module | None = None
        self.task_index = 0

    # What the trainer asks -------------------------------------------------------------------

    def selection(self) -> SelectionStrategy | None:
        """How this strategy fills the replay buffer (None: it keeps none)."""
        name = self.config.selection_name
        if not self.uses_replay or name is None:
            return None
        if name == "hybrid":
            return HybridSelection(self.config.hard_fraction, self.config.representative)
        return selection_from_dict(name)

    def trainable_modules(self) -> dict[str, nn.Module]:
        """Modules trained along with the model (checkpointed with it), e.g. HSCL projection heads."""
        return {}

    def teacher_mask(self, batch: Batch) -> Tensor | None:
        """Which samples of ``batch`` the teacher must see, a bool on the host (None: no teacher this task)."""
        return None

    def teacher_fields(self) -> tuple[str, ...]:
        """Which fields of the teacher's output (``RSIAOutput``) the losses read."""
        return ("logits",)

    def first_task_signature(self) -> dict[str, Any]:
        """What decides training on the first task (no teacher, no buffer yet): equal = same first model."""
        return {"loss": "ce"}

    # Hooks -------------------------------------------------------------------------------------

    def before_task(
        self, model: nn.Module, task_index: int, train: SampleSet, memory: SampleSet | None
    ) -> None:
        """Called before training task ``task_index`` (0-based) with the model as it is now.

        ``memory`` is the replay buffer of the earlier tasks when there is one (the trainer
        trains on it only if ``uses_replay``).
        """
        self.task_index = task_index
        self.teacher = None
        if self.uses_teacher and task_index > 0:
            self.teacher = inference_copy(model)

    def losses(
        self,
        out: RSIAOutput,
        batch: Batch,
        teacher_out: RSIAOutput | None,
        mask: Tensor | None,
        model: nn.Module,
    ) -> dict[str, Tensor]:
        """The weighted loss terms of one batch; the trainer minimises their sum."""
        return {"ce": F.cross_entropy(out.logits.float(), batch.labels)}

    def after_task(self, model: nn.Module, train: SampleSet, job: JobControl | None = None) -> None:
        """Called after training a task, with the trained model and the task's training data."""
        self.teacher = None


class FineTuning(Strategy):
    """FT: cross-entropy on the new task only (the forgetting baseline)."""

    name = "ft"


class ExperienceReplay(Strategy):
    """ER: cross-entropy on the new task plus a randomly selected buffer of the old ones."""

    name = "er"
    uses_replay = True


class LwF(Strategy):
    """Learning without Forgetting: CE plus KD from the previous model on the new samples, no replay."""

    name = "lwf"
    uses_teacher = True

    def teacher_mask(self, batch: Batch) -> Tensor | None:
        return torch.ones_like(batch.replay) if self.teacher is not None else None

    def losses(self, out, batch, teacher_out, mask, model):
        terms = super().losses(out, batch, teacher_out, mask, model)
        if teacher_out is not None:
            student = take_rows(out.logits, mask)
            terms["kd"] = self.config.lambda_kd * slkd_loss(
                student, teacher_out.logits, self.config.lwf_temperature
            )
        return terms


class ICaRL(LwF):
    """iCaRL: herding exemplars replayed, KD from the previous model on new and exemplar samples.

    The classifier stays the network's head (with two fixed classes, real and fake, the
    nearest-mean-of-exemplars rule of the original is left out).
    """

    name = "icarl"
    uses_replay = True


class EWC(Strategy):
    """Online EWC: CE plus (lambda/2) sum_k F_k (theta_k - theta*_k)^2 with a diagonal Fisher.

    The Fisher is estimated after each task on (up to ``fisher_samples``) training samples
    with the true labels, one sample at a time, and accumulated as F <- gamma F + F_new.
    Updating a model with no Fisher yet (e.g. one loaded from a bundle) estimates it on the
    replay buffer (``memory``) before training, when there is one.
    """

    name = "ewc"

    def __init__(self, config: StrategyConfig):
        super().__init__(config)
        self.fisher: dict[str, Tensor] = {}
        self.anchor: dict[str, Tensor] = {}

    def before_task(self, model, task_index, train, memory):
        super().before_task(model, task_index, train, memory)
        if task_index > 0 and not self.fisher and memory is not None and len(memory):
            self.consolidate(model, memory)

    def losses(self, out, batch, teacher_out, mask, model):
        terms = super().losses(out, batch, teacher_out, mask, model)
        if self.fisher:
            terms["ewc"] = self.penalty(model)
        return terms

    def penalty(self, model: nn.Module) -> Tensor:
        """(lambda/2) sum F (theta - theta*)^2 over the parameters with a Fisher; 0 before any consolidation."""
        total = torch.zeros((), device=next(model.parameters()).device)
        for name, parameter in model.named_parameters():
            if name in self.fisher:
                total = total + (self.fisher[name] * (parameter.float() - self.anchor[name]).pow(2)).sum()
        return 0.5 * self.config.ewc_lambda * total

    def estimate_fisher(
        self, model: nn.Module, samples: SampleSet, job: JobControl | None = None
    ) -> dict[str, Tensor]:
        """Diagonal empirical Fisher: mean over samples of the squared gradient of log p(y|x), eval mode."""
        device = next(model.parameters()).device
        count = min(len(samples), self.config.fisher_samples)
        chosen = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))[:count]
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
        was_training = model.training
        model.eval()
        try:
            for i in chosen.tolist():
                if job is not None:
                    job.check()
                model.zero_grad(set_to_none=True)
                image = samples.float_images(torch.tensor([i])).to(device)
                log_p = F.log_softmax(model(image).logits.float(), dim=1)
                log_p[0, int(samples.labels[i])].backward()
                for n, p in params.items():
                    if p.grad is not None:
                        fisher[n] += p.grad.detach().float().pow(2)
        finally:
            model.zero_grad(set_to_none=True)
            model.train(was_training)
        return {n: f / max(1, count) for n, f in fisher.items()}

    def consolidate(self, model: nn.Module, samples: SampleSet, job: JobControl | None = None) -> None:
        """Fold the Fisher of ``samples`` into the running one and anchor at the current parameters."""
        new = self.estimate_fisher(model, samples, job)
        gamma = self.config.ewc_gamma
        self.fisher = {n: gamma * self.fisher[n] + f if n in self.fisher else f for n, f in new.items()}
        self.anchor = {n: p.detach().float().clone() for n, p in model.named_parameters() if n in self.fisher}

    def after_task(self, model, train, job=None):
        super().after_task(model, train, job)
        if len(train):
            self.consolidate(model, train, job)


class CFFD(Strategy):
    """CFFD: CE + lambda_hscl HSCL + lambda_slkd SLKD + lambda_mfkd MFKD, hybrid replay (METHOD.md 3).

    The teacher sees the replayed samples (and the new ones when ``slkd_on_new`` or
    ``mfkd_on_new``); the optional relational and domain-level terms use the same samples.
    """

    name = "cffd"
    uses_replay = True
    uses_teacher = True

    def __init__(self, config: StrategyConfig):
        super().__init__(config)
        self.hscl: HSCLoss | None = None

    def first_task_signature(self):
        c = self.config
        if c.lambda_hscl == 0:
            return super().first_task_signature()
        return {
            "loss": "ce+hscl",
            "lambda": c.lambda_hscl,
            "t": c.hscl_temperature,
            "dim": c.hscl_projection_dim,
        }

    def trainable_modules(self):
        return {"hscl": self.hscl} if self.hscl is not None else {}

    def before_task(self, model, task_index, train, memory):
        super().before_task(model, task_index, train, memory)
        if self.config.lambda_hscl > 0 and self.hscl is None:
            self.hscl = HSCLoss.for_model(
                model,
                projection_dim=self.config.hscl_projection_dim,
                temperature=self.config.hscl_temperature,
            ).to(next(model.parameters()).device)

    def teacher_fields(self):
        c = self.config
        fields = ["logits", "rsia_features"]
        fields += ["embedding"] if c.lambda_relational > 0 else []
        fields += ["spatial_features", "frequency_features"] if c.lambda_domain > 0 else []
        return tuple(fields)

    def teacher_mask(self, batch):
        if self.teacher is None:
            return None
        if self.config.slkd_on_new or self.config.mfkd_on_new:
            return torch.ones_like(batch.replay)
        return batch.replay

    def losses(self, out, batch, teacher_out, mask, model):
        c = self.config
        terms = super().losses(out, batch, teacher_out, mask, model)
        if self.hscl is not None:
            terms["hscl"] = (
                c.lambda_hscl * self.hscl(out.spatial_features, out.frequency_features, batch.labels).total
            )
        if self.teacher is None:
            return terms
        zero = out.logits.float().sum() * 0.0
        if teacher_out is None:
            terms.update(slkd=zero, mfkd=zero)
            return terms
        student = _subset(out, mask)
        replay = batch.replay[mask]
        kd_rows = torch.ones_like(replay) if c.slkd_on_new else replay
        fd_rows = torch.ones_like(replay) if c.mfkd_on_new else replay
        terms["slkd"] = c.lambda_slkd * slkd_loss(
            take_rows(student.logits, kd_rows), take_rows(teacher_out.logits, kd_rows), c.kd_temperature
        )
        terms["mfkd"] = c.lambda_mfkd * mfkd_loss(
            [take_rows(f, fd_rows) for f in student.rsia_features],
            [take_rows(f, fd_rows) for f in teacher_out.rsia_features],
            c.mfkd_normalize,
        )
        if c.lambda_relational > 0:
            terms["relational"] = c.lambda_relational * relational_loss(
                student.embedding, teacher_out.embedding
            )
        if c.lambda_domain > 0:
            terms["domain"] = c.lambda_domain * domain_mfkd_loss(
                [take_rows(f, fd_rows) for f in student.spatial_features],
                [take_rows(f, fd_rows) for f in student.frequency_features],
                [take_rows(f, fd_rows) for f in teacher_out.spatial_features],
                [take_rows(f, fd_rows) for f in teacher_out.frequency_features],
                c.mfkd_normalize,
            )
        return terms


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FineTuning, LwF, EWC, ExperienceReplay, ICaRL, CFFD)
}


def build_strategy(config: StrategyConfig | str) -> Strategy:
    """The strategy object named by ``config.name`` (or a bare name with default settings)."""
    if isinstance(config, str):
        config = StrategyConfig(name=config)
    return STRATEGIES[config.name](config)
