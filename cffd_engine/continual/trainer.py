"""The one trainer every continual strategy shares: epochs, Adam/AdamW with step decay, checkpoints.

It trains a model on one task's samples (plus the replay buffer when the strategy
replays), asks the strategy for the loss terms, reports progress and honours
cancellation every step, and writes a checkpoint after every epoch (atomically), so a
cancelled or crashed run resumes from its last finished epoch. On the CPU, with the
same seed and thread count, a resumed run ends with exactly the weights of an
uninterrupted one: every epoch draws its order and flips from its own seeded generator.

Under torchrun (``cffd_engine.distributed``) the model trains inside
DistributedDataParallel: every process draws the same global batches and takes its
contiguous slice of each (the work of a DistributedSampler reseeded every epoch, but
keeping a photo and its forgery together), the strategy's own modules (projection
heads) have their gradients averaged too, the logged losses are averaged over the
processes, and only rank 0 writes checkpoints; a resumed checkpoint is read by rank 0
and broadcast.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from cffd_engine import distributed
from cffd_engine.allocator import freed_memory_kept
from cffd_engine.continual.config import TrainSettings
from cffd_engine.continual.samples import SampleSet
from cffd_engine.continual.strategies import Batch, Strategy, take_rows
from cffd_engine.continual.teacher_answers import TeacherAnswers
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.model.device import autocast_for, cpu_threads, select_device

CHECKPOINT_INDEX = "checkpoint.json"


@dataclass
class Progress:
    """What a callback learns after each step (and at each epoch's end): where, the losses by term, speed."""

    task: str
    epoch: int  # 1-based
    epochs: int
    step: int  # 1-based, within the epoch
    steps: int
    losses: dict[str, float]
    samples_per_second: float
    learning_rate: float

    @property
    def fraction(self) -> float:
        return ((self.epoch - 1) * self.steps + self.step) / max(1, self.epochs * self.steps)


def source_key(sample_id: str) -> str:
    """What a sample was made from: its id without the frame/track suffix and the path hash.

    A synthetic pair (a photo and its forgery: ``blend-00001-9d299f87a1#0/0`` and
    ``blend-00001-f6bb1edf40#0/0``) shares one key, as do the frames of one video.
    """
    return re.sub(r"-[0-9a-f]{10}$", "", sample_id.split("#", 1)[0])


class TrainerCallback:
    """Hooks for live loss curves, logging or tests; every method is optional."""

    def on_step(self, progress: Progress) -> None: ...

    def on_epoch_end(self, progress: Progress) -> None: ...

    def on_checkpoint(self, path: Path, epoch: int) -> None: ...


@dataclass
class TrainSummary:
    """How a task's training went: epochs and steps run, time, where it resumed, mean losses per epoch."""

    task: str
    epochs: int
    steps: int
    samples: int
    replay_samples: int
    seconds: float
    resumed_from_epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def final_losses(self) -> dict[str, float]:
        """The last epoch's mean loss terms (and total), without its step and sample counts."""
        last = self.history[-1] if self.history else {}
        return {name: value for name, value in last.items() if name not in ("steps", "samples")}

    def to_dict(self) -> dict:
        return asdict(self)


def _seed(*parts: int) -> int:
    digest = hashlib.sha256(json.dumps(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


@dataclass
class _TaskRun:
    """What every epoch and step of one task's training shares."""

    network: nn.Module  # what the forward pass calls: the model, or the model inside DDP
    strategy: Strategy
    modules: dict[str, nn.Module]  # the strategy's own trainable heads
    optimizer: torch.optim.Optimizer
    data: SampleSet  # the task's samples, then the replayed ones
    is_replay: Tensor  # on the host, one flag per sample of ``data``
    task_index: int
    task_name: str
    device: torch.device
    frozen: list[nn.Module]  # layers kept as they are, in eval mode while the rest trains
    memory_format: torch.memory_format  # the weights', and so the batches'
    use_amp: bool
    teacher_answers: TeacherAnswers | None  # computed once for the task; None: ask the teacher each step

    @property
    def model(self) -> nn.Module:
        """The model itself, outside DDP."""
        return getattr(self.network, "module", self.network)


def _training_data(
    strategy: Strategy, train: SampleSet, memory: SampleSet | None
) -> tuple[SampleSet, Tensor]:
    """The samples a task trains on (its own, then the buffer's if the strategy replays); which are replays."""
    replayed = memory if (strategy.uses_replay and memory is not None and len(memory)) else None
    data = SampleSet.concat([train, replayed]) if replayed is not None else train
    is_replay = torch.zeros(len(data), dtype=torch.bool)
    is_replay[len(train) :] = True
    return data, is_replay


def _log_rank_weights(model: nn.Module, summary: TrainSummary, total: int) -> None:
    """Under torchrun, each process says what it trained on and the digest of the weights it ended with."""
    world = distributed.world()
    if world.active and summary.history:
        print(
            f"rank {world.rank} of {world.size}: trained '{summary.task}' on "
            f"{int(summary.history[-1]['samples'])} of {total} samples per epoch, "
            f"weights sha256 {distributed.weights_digest(model)}",
            file=sys.stderr,
            flush=True,
        )


@contextmanager
def _early_layers_frozen(model: nn.Module, freeze: bool) -> Iterator[list[nn.Module]]:
    """With ``freeze``, the model's early layers (``RSIANet.early_layers``) take no gradient inside."""
    layers = model.early_layers() if freeze else []
    flags = [(layer, name, p.requires_grad) for layer in layers for name, p in layer.named_parameters()]
    for layer, name, _ in flags:
        layer.get_parameter(name).requires_grad_(False)
    try:
        yield layers
    finally:  # by name: moving the model to a device may replace its parameters
        for layer, name, requires_grad in flags:
            layer.get_parameter(name).requires_grad_(requires_grad)


@contextmanager
def _channels_last(model: nn.Module) -> Iterator[torch.memory_format]:
    """The memory format to train in: channels_last inside when the model's config asks for it.

    On the CPU it made a training step a third faster (docs/continual-2026-12-04.md, "A faster
    update"). The weights are contiguous again afterwards, as whoever saves or exports them expects.
    """
    config = getattr(model, "config", None)
    if not getattr(config, "channels_last", False):
        yield torch.contiguous_format
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield torch.channels_last
    finally:
        model.to(memory_format=torch.contiguous_format)


def _precision(device: torch.device, use_amp: bool) -> AbstractContextManager:
    """Mixed precision (bfloat16 on a CPU) when ``use_amp``, else float32 whatever autocast is around."""
    return autocast_for(device, cpu_bfloat16=True) if use_amp else torch.autocast(device.type, enabled=False)


class Trainer:
    """Trains one task with a strategy; see the module docstring for the guarantees."""

    def __init__(
        self,
        settings: TrainSettings,
        callbacks: Sequence[TrainerCallback] = (),
        job: JobControl | None = None,
    ):
        self.settings = settings
        self.callbacks = list(callbacks)
        self.job = ensure_job(job)

    def fit(
        self,
        model: nn.Module,
        strategy: Strategy,
        train: SampleSet,
        task_index: int,
        memory: SampleSet | None = None,
        task_name: str = "",
        checkpoint_dir: Path | str | None = None,
    ) -> TrainSummary:
        """Train ``model`` in place on ``train`` (+ ``memory`` if the strategy replays); returns the summary.

        ``task_index`` is 0 for the first task. With ``checkpoint_dir``, a checkpoint of the
        same run found there is resumed from, and one is written after every epoch.
        Raises ``Cancelled`` (from the job) between steps; the last checkpoint stays.
        """
        s = self.settings
        with (
            cpu_threads(s.threads),
            freed_memory_kept(),
            _early_layers_frozen(model, s.freeze_early_layers) as frozen,
            _channels_last(model) as memory_format,
        ):
            device = select_device(s.device)
            torch.backends.cudnn.benchmark = device.type == "cuda"  # one input size: time the kernels once
            model.to(device)
            torch.manual_seed(_seed(s.seed, task_index, -1))
            fingerprint = self._fingerprint(model, strategy, train, memory, task_index, task_name)
            strategy.before_task(model, task_index, train, memory)
            data, is_replay = _training_data(strategy, train, memory)
            modules = strategy.trainable_modules()
            for module in modules.values():
                distributed.broadcast_parameters(module)
            optimizer, scheduler = self._optimizer(model, modules)
            summary = TrainSummary(task_name, s.epochs, 0, len(train), len(data) - len(train), 0.0)
            folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
            start = 0
            if folder is not None:
                start = self._resume(folder, fingerprint, model, modules, optimizer, scheduler, summary)
            summary.resumed_from_epoch = start
            begun = time.perf_counter()
            use_amp = s.mixed_precision if device.type == "cuda" else s.cpu_bfloat16
            answers = None
            if start < s.epochs:
                answers = self._teacher_answers(strategy, data, is_replay, device, memory_format, use_amp)
            run = _TaskRun(
                self._network(model, device), strategy, modules, optimizer, data, is_replay,
                task_index, task_name, device, frozen, memory_format, use_amp, answers,
            )  # fmt: skip
            for epoch in range(start, s.epochs):
                summary.history.append(self._epoch(run, epoch))
                scheduler.step()
                if folder is not None and distributed.world().is_main:
                    self._save(folder, fingerprint, epoch + 1, model, modules, optimizer, scheduler, summary)
            # DDP sends rank 0's buffers at each forward; the last forward moved each process's
            # batch-norm statistics on its own slice, so they end as rank 0's everywhere.
            distributed.broadcast_parameters(model)
            summary.steps = sum(int(h.get("steps", 0)) for h in summary.history)
            summary.seconds = time.perf_counter() - begun
            _log_rank_weights(model, summary, len(data))
            model.eval()
            strategy.after_task(model, train, self.job)
        return summary

    def _optimizer(
        self, model: nn.Module, modules: dict[str, nn.Module]
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
        """Adam or AdamW over the model's trainable weights and the strategy's heads, with its step decay."""
        s = self.settings
        parameters = [p for p in model.parameters() if p.requires_grad]
        parameters += [p for m in modules.values() for p in m.parameters()]
        optimizer_class = torch.optim.AdamW if s.optimizer == "adamw" else torch.optim.Adam
        optimizer = optimizer_class(parameters, lr=s.learning_rate, weight_decay=s.weight_decay)
        return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, s.lr_step_epochs, s.lr_gamma)

    def _teacher_answers(
        self,
        strategy: Strategy,
        data: SampleSet,
        is_replay: Tensor,
        device: torch.device,
        memory_format: torch.memory_format,
        use_amp: bool,
    ) -> TeacherAnswers | None:
        """The teacher's answers for the whole task, when computing them once costs less than asking at
        every step (each process would compute them all) and they fit in memory."""
        s = self.settings
        rows = strategy.teacher_mask(Batch(torch.empty(0), data.labels, is_replay))
        orientations = 2 if s.horizontal_flip else 1
        if rows is None or s.epochs <= orientations * distributed.world().size:
            return None
        self.job.report(0.0, f"recording what the earlier model says about {int(rows.sum())} faces")
        # In the training's batches: on a CPU, batches of 128 took half as long again per face (cache).
        return TeacherAnswers.compute(
            strategy.teacher, data, rows, strategy.teacher_fields(),
            flips=s.horizontal_flip, batch_size=s.batch_size, device=device,
            memory_format=memory_format, precision=lambda: _precision(device, use_amp), job=self.job,
        )  # fmt: skip

    @staticmethod
    def _network(model: nn.Module, device: torch.device) -> nn.Module:
        """What the forward pass calls: the model, or under torchrun the model inside DDP."""
        if not distributed.world().active:
            return model
        device_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def _batches(self, data: SampleSet, generator: torch.Generator) -> list[Tensor]:
        if self.settings.pair_by_source:
            members: dict[str, list[int]] = {}
            for index, sample_id in enumerate(data.ids):
                members.setdefault(source_key(sample_id), []).append(index)
            groups = list(members.values())
            order = torch.tensor(
                [i for g in torch.randperm(len(groups), generator=generator).tolist() for i in groups[g]]
            )
        else:
            order = torch.randperm(len(data), generator=generator)
        batches = list(order.split(self.settings.batch_size))
        world = distributed.world()
        if len(batches) > 1 and len(batches[-1]) < 2 * world.size:
            batches.pop()  # a lone sample (per process) breaks batch norm in training mode
        if world.active:
            batches = [batch.tensor_split(world.size)[world.rank] for batch in batches]
        return batches

    def _epoch(self, run: _TaskRun, epoch: int) -> dict[str, float]:
        """One pass over the task's batches; the mean of each loss term, and the steps and samples."""
        s = self.settings
        generator = torch.Generator().manual_seed(_seed(s.seed, run.task_index, epoch))
        torch.manual_seed(_seed(s.seed, run.task_index, epoch, 1))
        batches = self._batches(run.data, generator)
        if not batches:
            raise ValueError(f"task {run.task_name!r} has no training samples")
        flips = torch.rand(len(run.data), generator=generator) < 0.5
        float16 = run.use_amp and run.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        scaler = torch.amp.GradScaler("cuda", enabled=float16)
        run.model.train()
        for layer in run.frozen:
            layer.eval()
        for module in run.modules.values():
            module.train()
        sums: dict[str, float] = {}
        head_parameters = [p for m in run.modules.values() for p in m.parameters()]
        world_size = distributed.world().size
        seen, begun = 0, time.perf_counter()
        for step, index in enumerate(batches, 1):
            self.job.check()
            values = self._step(run, index, flips, scaler, head_parameters)
            seen += len(index) * world_size
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
            progress = Progress(
                run.task_name, epoch + 1, s.epochs, step, len(batches), values,
                seen / max(1e-9, time.perf_counter() - begun), run.optimizer.param_groups[0]["lr"],
            )  # fmt: skip
            self._report_step(progress)
        means = {name: total / max(1, len(batches)) for name, total in sums.items()}
        means["steps"] = float(len(batches))
        means["samples"] = float(sum(len(index) for index in batches))  # this process's share
        for callback in self.callbacks:
            callback.on_epoch_end(progress)
        return means

    def _step(
        self,
        run: _TaskRun,
        index: Tensor,
        flips: Tensor,
        scaler: torch.amp.GradScaler,
        head_parameters: list[nn.Parameter],
    ) -> dict[str, float]:
        """One optimiser step on the samples at ``index``; its loss terms and total, averaged over the processes.

        Nothing here reads a device tensor back but the one transfer of the loss values at the end.
        """
        s, device, strategy, optimizer = self.settings, run.device, run.strategy, run.optimizer
        images = run.data.float_images(index, device)
        flipped = flips[index] & s.horizontal_flip  # on the host, like everything that picks rows here
        if s.horizontal_flip:
            flip = flipped.to(device, non_blocking=True)
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        images = images.contiguous(memory_format=run.memory_format)
        batch = Batch(images, run.data.labels[index].to(device, non_blocking=True), run.is_replay[index])
        mask = strategy.teacher_mask(batch)
        with _precision(device, run.use_amp):
            out = run.network(batch.images)
            teacher_out = None
            if mask is not None and bool(mask.any()):
                if run.teacher_answers is not None:
                    teacher_out = run.teacher_answers.answers(
                        take_rows(index, mask), take_rows(flipped, mask)
                    )
                else:
                    with torch.no_grad():
                        teacher_out = strategy.teacher(take_rows(batch.images, mask))
            terms = strategy.losses(out, batch, teacher_out, mask, run.model)
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        distributed.average_gradients(head_parameters)  # the model's own are averaged by DDP
        if s.grad_clip is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], s.grad_clip
            )
        scaler.step(optimizer)
        scaler.update()
        # One transfer for all the terms: each float() of a device tensor makes the host wait.
        numbers = torch.stack([value.detach().float() for value in (*terms.values(), loss)]).tolist()
        return distributed.mean_over_ranks(dict(zip([*terms, "total"], numbers, strict=True)))

    def _report_step(self, progress: Progress) -> None:
        """Tell the callbacks and the job where the training is, with the step's losses."""
        for callback in self.callbacks:
            callback.on_step(progress)
        losses = ", ".join(f"{k} {v:.3f}" for k, v in progress.losses.items())
        self.job.report(
            progress.fraction,
            f"epoch {progress.epoch}/{progress.epochs}, step {progress.step}/{progress.steps}: {losses}",
            event=progress,
        )

    # Checkpoints ---------------------------------------------------------------------------------

    def _fingerprint(self, model, strategy, train, memory, task_index, task_name) -> str:
        """Identifies a run: settings, strategy, starting weights and data; a checkpoint of another run is ignored."""
        digest = hashlib.sha256()
        head = {
            "settings": self.settings.to_dict(),
            "strategy": strategy.config.to_dict(),
            "task": [task_index, task_name],
            "weights": distributed.weights_digest(model),
        }
        digest.update(json.dumps(head, sort_keys=True).encode())
        for part in (train, memory):
            if part is not None:
                digest.update(json.dumps([part.ids, part.tasks, part.labels.tolist()]).encode())
                digest.update(hashlib.sha256(part.images.numpy().tobytes()).digest())
        return digest.hexdigest()

    def _save(
        self, folder: Path, fingerprint, epochs_done, model, modules, optimizer, scheduler, summary
    ) -> None:
        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        for name, module in modules.items():
            tensors.update(
                {f"module.{name}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
            )
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, float]] = {}
        for pid, values in state["state"].items():
            for key, value in values.items():
                if isinstance(value, Tensor):
                    tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        weights = f"epoch-{epochs_done:03d}.safetensors"
        atomic_write_bytes(folder / weights, save_safetensors(tensors))
        index = {
            "fingerprint": fingerprint,
            "epochs_done": epochs_done,
            "weights": weights,
            "param_groups": state["param_groups"],
            "optimizer_scalars": scalars,
            "scheduler": scheduler.state_dict(),
            "history": summary.history,
        }
        atomic_write_json(folder / CHECKPOINT_INDEX, index)  # the index switches to the new epoch last
        for old in folder.glob("epoch-*.safetensors"):
            if old.name != weights:
                old.unlink(missing_ok=True)
        for callback in self.callbacks:
            callback.on_checkpoint(folder / CHECKPOINT_INDEX, epochs_done)

    def _resume(self, folder, fingerprint, model, modules, optimizer, scheduler, summary) -> int:
        """Load the checkpoint in ``folder`` if it belongs to this run; returns the epochs already done.

        Under torchrun rank 0 reads it and every process loads what rank 0 read.
        """
        found = self._read_checkpoint(folder, fingerprint) if distributed.world().is_main else None
        found = distributed.broadcast(found)
        if found is None:
            return 0
        index, tensors = found[0], load_safetensors(found[1])
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        for name, module in modules.items():
            prefix = f"module.{name}."
            module.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value  # load_state_dict moves them to the parameters
        for pid, values in index["optimizer_scalars"].items():
            state.setdefault(int(pid), {}).update(values)
        optimizer.load_state_dict({"state": state, "param_groups": index["param_groups"]})
        scheduler.load_state_dict(index["scheduler"])
        summary.history = list(index["history"])
        return int(index["epochs_done"])

    @staticmethod
    def _read_checkpoint(folder: Path, fingerprint: str) -> tuple[dict, bytes] | None:
        """(index, weights file bytes) of the checkpoint in ``folder`` if it is this run's."""
        try:
            index = json.loads((folder / CHECKPOINT_INDEX).read_text(encoding="utf-8"))
            if index.get("fingerprint") != fingerprint:
                return None
            return index, (folder / index["weights"]).read_bytes()
        except (OSError, ValueError, KeyError):
            return None
