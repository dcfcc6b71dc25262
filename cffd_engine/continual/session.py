"""Learning a new forgery type from the active model: the API the wizard and the CLI call.

``learn_task`` starts from a stored version (its weights, replay buffer and per-task
validation faces), trains a student with the chosen strategy, measures every task
before and after, and writes a complete candidate bundle into the store's staging
area. Nothing outside staging is written: the caller accepts the ``Candidate``
(commit and activate) or discards it, and a failure or a cancel leaves the store as
it was. ``train_first_task`` makes the first version the same way.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from cffd_engine import distributed
from cffd_engine.calibration import fit_decision, raw_threshold
from cffd_engine.continual.buffer import ReplayBuffer
from cffd_engine.continual.candidate import BaseModel, Candidate, TaskData
from cffd_engine.continual.config import ContinualSettings
from cffd_engine.continual.evaluate import Evaluation, evaluate, evaluation_of, predict
from cffd_engine.continual.report import UpdateReport
from cffd_engine.continual.samples import FAKE, REAL, SampleSet
from cffd_engine.continual.selection import HybridSelection
from cffd_engine.continual.strategies import Strategy, build_strategy
from cffd_engine.continual.trainer import Trainer, TrainerCallback, TrainSummary
from cffd_engine.continual.validation import FEW_SOURCES, ValidationSets, distinct_sources, hold_out
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.model import ModelConfig, RSIANet, inference_copy
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import BundleManifest, ModelStore, verify_bundle, write_bundle
from cffd_engine.store.bundle import REPLAY_DIR, VALIDATION_DIR, decision_threshold

MIN_EXAMPLES = 4  # of the new forgery: fewer cannot be split into training and validation
FEW_EXAMPLES = 50


def _evaluate_all(
    model: nn.Module, sets: ValidationSets, threshold: float, batch_size: int, job: JobControl
) -> list[Evaluation]:
    answering = inference_copy(model)
    return [evaluate(answering, sets.get(task), threshold, batch_size, job) for task in sets.tasks]


def _calibrate(
    model: nn.Module, sets: ValidationSets, previous: dict, batch_size: int, job: JobControl
) -> tuple[dict, list[Evaluation], list[Evaluation]]:
    """The trained model's decision (``cffd_engine.calibration``), fitted on the validation faces of every
    task, and its evaluations there at that decision's threshold and at ``previous``'s. ``previous`` is
    kept when those faces lack a class (nothing to fit on)."""
    answering = inference_copy(model)
    predictions = [predict(answering, sets.get(task), batch_size, job) for task in sets.tasks]
    labels = np.concatenate([sets.get(task).labels.numpy() for task in sets.tasks])
    if (labels == FAKE).all() or (labels != FAKE).all():
        decision = dict(previous)
    else:
        margins = np.concatenate([p.fake_margin.numpy() for p in predictions])
        decision = fit_decision(
            margins, labels, f"the held-out validation faces of {', '.join(sets.tasks)}; never trained on"
        )

    def evaluations(threshold: float) -> list[Evaluation]:
        return [
            evaluation_of(p.fake_probability.numpy(), sets.get(task), threshold)
            for task, p in zip(sets.tasks, predictions, strict=True)
        ]

    return decision, evaluations(raw_threshold(decision)), evaluations(raw_threshold(previous))


def _prepare(
    task: TaskData, size: int, settings: ContinualSettings, existing: Sequence[str]
) -> tuple[SampleSet, SampleSet, list[str]]:
    """(train, validation, warnings) for a new task, resized to the model's input size."""
    if not task.name.strip():
        raise CFFDError("the new forgery type needs a name")
    if task.name in existing:
        raise CFFDError(
            f"the model already knows a task named '{task.name}'; give the new forgery type another name"
        )
    samples = task.samples.resized(size)
    samples.tasks = [task.name] * len(samples)
    counts = samples.counts()
    if counts["fake"] < MIN_EXAMPLES:
        raise CFFDError(
            f"only {counts['fake']} face(s) of the new forgery '{task.name}' were given; at least "
            f"{MIN_EXAMPLES} are needed (ideally a few hundred): add more examples"
        )
    warnings = []
    if counts["fake"] < FEW_EXAMPLES:
        warnings.append(f"Only {counts['fake']} examples of the new forgery: the figures above are rough.")
    if counts["real"] == 0:
        warnings.append("No genuine examples were given: genuine faces came from the replay buffer.")
    if task.validation is not None:
        train, validation = samples, task.validation.resized(size)
        validation.tasks = [task.name] * len(validation)
    else:
        train, validation = hold_out(samples, settings.validation_size, settings.train.seed)
        warnings += _few_sources(task.name, train, validation)
    return train, validation, warnings


def _few_sources(name: str, train: SampleSet, held_out: SampleSet) -> list[str]:
    """A warning when the new task's faces come from few videos or photos (known only when every face
    names its file): held out by source, the figures then rest on one or two of them."""
    if "" in train.groups or "" in held_out.groups:
        return []
    learned, measured = distinct_sources(train.groups), distinct_sources(held_out.groups)
    if learned + measured >= FEW_SOURCES:
        return []
    return [
        f"The examples of '{name}' come from only {learned + measured} source(s) (a forgery and its genuine "
        f"twin count as one): the model learned from {learned} and was measured on {measured}, so the figures "
        "say little either way. Examples from ten or more videos make them worth reading."
    ]


def _fit(
    model: RSIANet,
    settings: ContinualSettings,
    task_index: int,
    train: SampleSet,
    memory: SampleSet | None,
    task_name: str,
    work_dir: Path | str | None,
    callbacks: Sequence[TrainerCallback],
    job: JobControl,
):
    """Train in place with checkpoints under ``work_dir`` (resumable) or a temporary folder."""
    strategy = build_strategy(settings.strategy)
    if train.counts()["real"] == 0 and not strategy.uses_replay and memory is not None:
        train = SampleSet.concat([train, memory.of_label(REAL)])  # the genuine side of the task
    trainer = Trainer(settings.train, callbacks, job)
    if work_dir is not None:
        folder = Path(work_dir) / "checkpoint"
        if distributed.world().is_main:
            folder.mkdir(parents=True, exist_ok=True)
        summary = trainer.fit(model, strategy, train, task_index, memory, task_name, folder)
        if distributed.world().is_main:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        with tempfile.TemporaryDirectory(prefix="cffd-train-") as folder:
            summary = trainer.fit(model, strategy, train, task_index, memory, task_name, folder)
    return strategy, summary


def _write_candidate(
    store: ModelStore,
    model: RSIANet,
    manifest: BundleManifest,
    buffer: ReplayBuffer,
    validation: ValidationSets,
    report: UpdateReport,
) -> Candidate:
    """The candidate bundle, written by rank 0 only under torchrun; every process gets the Candidate."""
    model = model.cpu().eval()
    staged = None
    if distributed.world().is_main:
        staged = store.new_staging_folder()
        try:
            buffer.save(staged / REPLAY_DIR)
            validation.save(staged / VALIDATION_DIR)
            manifest = write_bundle(staged, model, manifest)
            verify_bundle(staged)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    staged, manifest = distributed.broadcast((staged, manifest))
    trained = BaseModel(model, manifest, buffer, validation, staged)
    return Candidate(staged, manifest, report, store, trained)


def _report(
    task: TaskData,
    names: list[str],
    before: Sequence[Evaluation | None],
    after: Sequence[Evaluation],
    at_earlier_threshold: Sequence[Evaluation | None],
    thresholds: tuple[float | None, float],
    validation: ValidationSets,
    settings: ContinualSettings,
    summary: TrainSummary,
    parent: str | None,
    warnings: list[str],
) -> UpdateReport:
    return UpdateReport(
        new_task=task.name,
        task_names=list(names),
        accuracy_before=[e.accuracy if e else None for e in before],
        accuracy_after=[e.accuracy for e in after],
        auc_before=[e.auc if e else None for e in before],
        auc_after=[e.auc for e in after],
        validation_counts=[len(validation.get(name)) for name in names],
        strategy=settings.strategy.name,
        settings=settings.to_dict(),
        train_samples=summary.samples,
        replay_samples=summary.replay_samples,
        epochs=summary.epochs,
        steps=summary.steps,
        seconds=round(summary.seconds, 2),
        final_losses=summary.final_losses,
        loss_history=summary.history,
        parent_version=parent,
        resumed_from_epoch=summary.resumed_from_epoch,
        warnings=warnings,
        accuracy_at_earlier_threshold=[e.accuracy if e else None for e in at_earlier_threshold],
        threshold_before=thresholds[0],
        threshold_after=thresholds[1],
    )


def _task_record(task: TaskData, train: SampleSet, validation: SampleSet) -> dict:
    counts = task.samples.counts()
    return {
        "name": task.name,
        "date": task.date,
        "num_samples": len(train) + len(validation),
        "data_description": task.description
        or f"{counts['fake']} manipulated and {counts['real']} genuine faces",
    }


def _updated_description(base: BundleManifest, task: TaskData) -> str:
    """The parent's description, which speaks of the tasks it knew, and what this update taught it."""
    added = f"Then taught '{task.name}' ({task.date}) as an update of {base.version or 'its parent'}."
    return f"{base.description} {added}" if base.description else added


def learn_task(
    store: ModelStore,
    task: TaskData,
    settings: ContinualSettings | None = None,
    base: BaseModel | str | None = None,
    job: JobControl | None = None,
    work_dir: Path | str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> Candidate:
    """Learn ``task`` on top of ``base`` (a BaseModel, a version name, or None for the active version).

    Returns a Candidate whose bundle (weights, updated replay buffer, validation faces with
    the new task's, manifest with the task appended, the accuracy matrix extended and the
    parent version set) sits in ``store``'s staging area. ``work_dir`` keeps a checkpoint
    after each epoch, so calling again with the same arguments after a cancel or a crash
    resumes. Raises ``Cancelled`` if the job is cancelled; the store is then unchanged.
    """
    settings = settings or ContinualSettings()
    with cpu_threads(settings.train.threads):
        return _learn_task(store, task, settings, base, ensure_job(job), work_dir, callbacks)


def _learn_task(
    store: ModelStore,
    task: TaskData,
    settings: ContinualSettings,
    base: BaseModel | str | None,
    job: JobControl,
    work_dir: Path | str | None,
    callbacks: Sequence[TrainerCallback],
) -> Candidate:
    if distributed.world().is_main:
        store.check_writable()  # before the training, not after it
    if not isinstance(base, BaseModel):
        base = BaseModel.from_store(store, base)
    job.report(0.0, "preparing the examples")
    size = base.model.config.input_size
    train, held_out, warnings = _prepare(task, size, settings, base.validation.tasks + base.buffer.tasks)
    validation = base.validation.copy()
    validation.add(task.name, held_out)
    threshold = raw_threshold(base.manifest.decision)  # evaluations compute uncalibrated P(fake)
    batch = settings.train.eval_batch_size
    before = _evaluate_all(base.model, validation, threshold, batch, job.sub(0.0, 0.05))
    student = copy.deepcopy(base.model)
    memory = base.buffer.samples if len(base.buffer) else None
    strategy, summary = _fit(
        student,
        settings,
        len(base.manifest.tasks),
        train,
        memory,
        task.name,
        work_dir,
        callbacks,
        job.sub(0.05, 0.9),
    )
    answering = inference_copy(student)  # calibration and the replay selection both predict with it
    decision, after, at_earlier = _calibrate(
        answering, validation, base.manifest.decision, batch, job.sub(0.9, 0.95)
    )
    buffer = _updated_buffer(base.buffer, task.name, train, answering, strategy, settings, job)
    names = validation.tasks
    report = _report(
        task,
        names,
        before,
        after,
        at_earlier,
        (base.manifest.threshold, decision_threshold(decision)),
        validation,
        settings,
        summary,
        base.manifest.version,
        warnings,
    )
    manifest = BundleManifest(
        model_config=student.config.to_dict(),
        tasks=[*base.manifest.tasks, _task_record(task, train, held_out)],
        metrics=_extended_metrics(base.manifest.metrics, names, report),
        decision=decision,
        parent_version=base.manifest.version,
        description=_updated_description(base.manifest, task),
        evaluation=_evaluation_note(validation),
        limits=list(base.manifest.limits),
    )
    job.report(0.97, "writing the candidate model")
    candidate = _write_candidate(store, student, manifest, buffer, validation, report)
    job.report(1.0, "candidate ready")
    return candidate


def _updated_buffer(
    previous: ReplayBuffer,
    name: str,
    train: SampleSet,
    model: nn.Module,
    strategy: Strategy,
    settings: ContinualSettings,
    job: JobControl,
) -> ReplayBuffer:
    """A copy of the replay buffer, under the settings' budget, with the new task's share chosen from ``train``."""
    buffer = previous.copy()
    buffer.budget = settings.replay_budget
    selection = strategy.selection() or HybridSelection(settings.strategy.hard_fraction)
    buffer.select_and_add(name, train, model, selection, settings.selection_seed, job)
    return buffer


def _update_record(report: UpdateReport) -> dict:
    """What the manifest keeps of an update's report: all of it but the loss history."""
    return {k: v for k, v in report.to_dict().items() if k != "loss_history"}


def _extended_metrics(previous: dict, names: list[str], report: UpdateReport) -> dict:
    """The parent's metrics with the new task's column: accuracies, AUCs, validation counts, the update."""
    metrics = dict(previous)
    metrics["task_names"] = names
    metrics["accuracy"] = [*metrics.get("accuracy", []), report.accuracy_after]
    metrics["auc"] = [*metrics.get("auc", []), report.auc_after]
    metrics["validation_counts"] = report.validation_counts
    metrics["updates"] = [*metrics.get("updates", []), _update_record(report)]
    return metrics


def _first_metrics(names: list[str], report: UpdateReport) -> dict:
    """The metrics of a first training: one row of accuracies and AUCs, one update."""
    return {
        "task_names": names,
        "accuracy": [report.accuracy_after],
        "auc": [report.auc_after],
        "validation_counts": report.validation_counts,
        "updates": [_update_record(report)],
    }


def _evaluation_note(validation: ValidationSets) -> str:
    counts = ", ".join(f"{task}: {len(validation.get(task))}" for task in validation.tasks)
    return (
        f"Accuracy is measured on held-out validation faces of each task, never trained on ({counts} faces)."
    )


def train_first_task(
    store: ModelStore,
    task: TaskData | Sequence[TaskData],
    model: RSIANet | ModelConfig,
    settings: ContinualSettings | None = None,
    job: JobControl | None = None,
    work_dir: Path | str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    description: str = "",
    limits: Sequence[str] = (),
) -> Candidate:
    """Train a model (fresh from a config, or given) on its first task; a Candidate like ``learn_task``'s.

    Several tasks are trained jointly, as one (their training faces mixed), yet each keeps
    its own validation faces, replay share and accuracy column, so a later update shows
    what it does to each. The bundle carries a replay buffer chosen by the strategy's
    selection (hybrid when the strategy keeps none) and the validation faces.
    """
    settings = settings or ContinualSettings()
    tasks = [task] if isinstance(task, TaskData) else list(task)
    if not tasks:
        raise CFFDError("training needs at least one task")
    with cpu_threads(settings.train.threads):
        return _train_first_task(
            store, tasks, model, settings, ensure_job(job), work_dir, callbacks, description, limits
        )


def _train_first_task(
    store: ModelStore,
    tasks: list[TaskData],
    model: RSIANet | ModelConfig,
    settings: ContinualSettings,
    job: JobControl,
    work_dir: Path | str | None,
    callbacks: Sequence[TrainerCallback],
    description: str,
    limits: Sequence[str],
) -> Candidate:
    if distributed.world().is_main:
        store.check_writable()  # before the training, not after it
    model = RSIANet(model) if isinstance(model, ModelConfig) else model
    size = model.config.input_size
    trains, validation, warnings, records = _prepare_first_tasks(tasks, size, settings)
    name = " + ".join(task.name for task in tasks)
    joint = SampleSet.concat(trains)
    _, summary = _fit(model, settings, 0, joint, None, name, work_dir, callbacks, job.sub(0.0, 0.9))
    del joint
    decision, after, _ = _calibrate(
        model,
        validation,
        BundleManifest.decision_default(),
        settings.train.eval_batch_size,
        job.sub(0.9, 0.95),
    )
    buffer = first_buffer([t.name for t in tasks], trains, model, settings, job.sub(0.95, 0.97))
    names = validation.tasks
    report = _report(
        TaskData(name, SampleSet.empty(size)),
        names,
        [None] * len(names),
        after,
        [None] * len(names),  # no earlier model, no earlier threshold
        (None, decision_threshold(decision)),
        validation,
        settings,
        summary,
        None,
        warnings,
    )
    manifest = BundleManifest(
        model_config=model.config.to_dict(),
        tasks=records,
        metrics=_first_metrics(names, report),
        decision=decision,
        description=description,
        evaluation=_evaluation_note(validation),
        limits=list(limits),
    )
    job.report(0.97, "writing the model")
    candidate = _write_candidate(store, model, manifest, buffer, validation, report)
    job.report(1.0, "model ready")
    return candidate


def _prepare_first_tasks(
    tasks: list[TaskData], size: int, settings: ContinualSettings
) -> tuple[list[SampleSet], ValidationSets, list[str], list[dict]]:
    """(training faces per task, validation faces, warnings, manifest records) of a first training.

    Each task must have genuine faces; the records of tasks trained together name each other.
    """
    validation = ValidationSets(size)
    trains, warnings, records = [], [], []
    for task in tasks:
        train, held_out, task_warnings = _prepare(task, size, settings, validation.tasks)
        if train.counts()["real"] == 0:
            raise CFFDError(f"the first task '{task.name}' needs genuine faces as well as manipulated ones")
        validation.add(task.name, held_out)
        trains.append(train)
        warnings += task_warnings
        records.append(_task_record(task, train, held_out))
    if len(tasks) > 1:
        for task, record in zip(tasks, records, strict=True):
            record["trained_jointly_with"] = [t.name for t in tasks if t is not task]
    return trains, validation, warnings, records


def first_buffer(
    names: Sequence[str],
    trains: Sequence[SampleSet],
    model: nn.Module,
    settings: ContinualSettings,
    job: JobControl | None = None,
) -> ReplayBuffer:
    """The replay buffer of a first training: each task's share chosen from its training faces.

    Deterministic for given weights, faces and settings, so a buffer left out of a shared
    bundle can be rebuilt exactly from the same faces (``cffd models restore-data``).
    """
    job = ensure_job(job)
    buffer = ReplayBuffer(settings.replay_budget, trains[0].size if trains else 0)
    selection = build_strategy(settings.strategy).selection() or HybridSelection(
        settings.strategy.hard_fraction
    )
    for index, (name, train) in enumerate(zip(names, trains, strict=True)):
        share = job.sub(index / len(names), (index + 1) / len(names))
        buffer.select_and_add(name, train, model, selection, settings.selection_seed, share)
    return buffer
