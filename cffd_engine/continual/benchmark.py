"""The continual benchmark: FT, LwF, EWC, ER, iCaRL and CFFD (and ablations) on one task sequence.

Every method starts from the same seed and budget and is trained by the same
trainer; methods whose first task is trained identically (the same loss: CE for
the baselines, CE + HSCL for CFFD) share that first model, so differences come from
how each learns the later tasks. After each task every method is evaluated on the
test split (the table) and on the val split (the only split one may tune on).
The config is saved next to the results so every figure can be reproduced.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cffd_engine.continual.benchmark_config import METHODS, BenchmarkConfig
from cffd_engine.continual.buffer import ReplayBuffer
from cffd_engine.continual.evaluate import evaluate
from cffd_engine.continual.metrics import ContinualMetrics
from cffd_engine.continual.protocols import TaskSplits, load_cache_protocol, load_synthetic_sequence
from cffd_engine.continual.strategies import build_strategy
from cffd_engine.continual.trainer import Trainer
from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.model import create_model, preset, select_device
from cffd_engine.model.device import cpu_threads


class BenchmarkConfigError(CFFDError):
    """A benchmark cannot run as configured: what is missing or contradictory, and how to fix it."""


@dataclass
class MethodResult:
    """One row of the benchmark: the test and val matrices, time and the training summaries."""

    method: str
    label: str
    strategy: dict[str, Any]
    test: ContinualMetrics
    val: ContinualMetrics
    seconds: float
    shared_first_task: bool
    training: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["test"], data["val"] = self.test.to_dict(), self.val.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodResult:
        fields = {**data, "test": ContinualMetrics.from_dict(data["test"])}
        fields["val"] = ContinualMetrics.from_dict(data["val"])
        return cls(**fields)


@dataclass
class BenchmarkResult:
    """A whole run: its config, the tasks and their sizes, one MethodResult per row, time, environment."""

    config: BenchmarkConfig
    task_names: list[str]
    task_sizes: dict[str, dict[str, int]]
    methods: list[MethodResult]
    seconds: float
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "task_names": self.task_names,
            "task_sizes": self.task_sizes,
            "methods": [m.to_dict() for m in self.methods],
            "seconds": self.seconds,
            "environment": self.environment,
        }


def load_tasks(config: BenchmarkConfig, out: Path | None, job: JobControl | None = None) -> list[TaskSplits]:
    """The configured task sequence at the model's input size (building the synthetic one if asked)."""
    size = preset(config.model_preset, **config.model_overrides).input_size
    if config.cache is not None:
        tasks = load_cache_protocol(
            config.cache, config.manifest, config.protocol, size, config.frames_per_video, job
        )
    else:
        sequence = Path(config.sequence) if config.sequence else (out / "data" if out else None)
        if sequence is None:
            raise ValueError(
                "give the benchmark a synthetic 'sequence' folder (or an output folder to build one in)"
            )
        if not (sequence / "sequence.json").is_file():
            _build_sequence(config, sequence, job)
        tasks = load_synthetic_sequence(sequence, size, config.tasks, job)
    return [task.limited(config.max_train_per_task, config.seed) for task in tasks]


def _build_sequence(config: BenchmarkConfig, folder: Path, job: JobControl | None) -> None:
    from cffd_engine.data.synth import BuildSettings, build_task_sequence
    from cffd_engine.data.synth.pool import default_faces

    build = dict(config.build or {})
    faces = build.pop("faces", None) or default_faces()
    if faces is None or not Path(faces).is_dir():
        raise ValueError(
            f"no synthetic sequence at {folder} and no face photos to build one from ({faces}); set "
            "build.faces (or $CFFD_SHARED_DATA) to the UTKFace folder, or give an existing 'sequence'"
        )
    build_task_sequence(BuildSettings(faces=Path(faces), out=folder, **build), job)


def _evaluate_row(model, tasks: list[TaskSplits], upto: int, split: str, everything: bool) -> list[list]:
    """Frame accuracy, frame AUC, video accuracy and video AUC on each task seen so far (or on all)."""
    columns: list[list] = [[], [], [], []]
    for j, task in enumerate(tasks):
        if j > upto and not everything:
            break
        result = evaluate(model, getattr(task, split))
        for column, value in zip(
            columns, (result.accuracy, result.auc, result.video_accuracy, result.video_auc), strict=True
        ):
            column.append(value)
    return columns


def run_method(
    config: BenchmarkConfig,
    method: str,
    tasks: list[TaskSplits],
    first_models: dict[str, dict],
    job: JobControl,
) -> MethodResult:
    """Train ``method`` through the sequence; ``first_models`` caches first-task states by signature."""
    strategy_config = config.strategy_config(method)
    strategy = build_strategy(strategy_config)
    torch.manual_seed(config.seed)
    model = create_model(config.model_preset, **config.model_overrides)
    selection = strategy.selection()
    buffer = ReplayBuffer(config.replay_budget, model.config.input_size) if selection is not None else None
    names = [t.name for t in tasks]
    test, val = ContinualMetrics(names), ContinualMetrics(names)
    training: list[dict[str, Any]] = []
    shared = False
    begun = time.perf_counter()
    for i, task in enumerate(tasks):
        sub = job.sub(i / len(tasks), (i + 1) / len(tasks))
        settings = config.train
        if i == 0 and config.first_task_epochs:
            settings = dataclasses.replace(settings, epochs=config.first_task_epochs)
        key = json.dumps(strategy.first_task_signature(), sort_keys=True)
        if i == 0 and key in first_models:
            strategy.before_task(model, 0, task.train, None)
            cached = first_models[key]
            model.load_state_dict(cached["model"])
            for name, module in strategy.trainable_modules().items():
                module.load_state_dict(cached["modules"][name])
            model.to(select_device(settings.device)).eval()
            strategy.after_task(model, task.train, sub)
            training.append({**cached["summary"], "shared": True})
            shared = True
        else:
            memory = buffer.samples if buffer is not None and len(buffer) else None
            summary = Trainer(settings, job=sub).fit(model, strategy, task.train, i, memory, task.name)
            training.append(summary.to_dict())
            if i == 0:
                first_models[key] = {
                    "model": copy.deepcopy(model.state_dict()),
                    "modules": {
                        n: copy.deepcopy(m.state_dict()) for n, m in strategy.trainable_modules().items()
                    },
                    "summary": summary.to_dict(),
                }
        if buffer is not None:
            buffer.select_and_add(task.name, task.train, model, selection, config.seed, sub)
        with torch.inference_mode():
            test.add_row(*_evaluate_row(model, tasks, i, "test", config.evaluate_future_tasks))
            val.add_row(*_evaluate_row(model, tasks, i, "val", config.evaluate_future_tasks))
    return MethodResult(
        method, METHODS[method][0], strategy_config.to_dict(), test, val,
        time.perf_counter() - begun, shared, training,
    )  # fmt: skip


def run_benchmark(
    config: BenchmarkConfig, out: Path | str | None = None, job: JobControl | None = None
) -> BenchmarkResult:
    """Run every configured method; with ``out``, write config.json, results.json, table.md and a PNG."""
    with cpu_threads(config.train.threads):
        return _run_benchmark(config, Path(out) if out is not None else None, ensure_job(job))


def _run_benchmark(config: BenchmarkConfig, out: Path | None, job: JobControl) -> BenchmarkResult:
    done: dict[str, MethodResult] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        done = finished_methods(config, out)
        atomic_write_json(out / "config.json", config.to_dict())
    begun = time.perf_counter()
    tasks = load_tasks(config, out, job.sub(0.0, 0.05))
    first_models: dict[str, dict] = {}
    results = []
    for k, method in enumerate(config.methods):
        share = job.sub(0.05 + 0.95 * k / len(config.methods), 0.05 + 0.95 * (k + 1) / len(config.methods))
        if method in done:
            results.append(done[method])
            continue
        results.append(run_method(config, method, tasks, first_models, share))
        if out is not None:  # partial results survive an interrupted run
            partial = BenchmarkResult(
                config, [t.name for t in tasks], _sizes(tasks), results, 0.0, _environment(config)
            )
            atomic_write_json(out / "results.json", partial.to_dict())
    result = BenchmarkResult(
        config,
        [t.name for t in tasks],
        _sizes(tasks),
        results,
        time.perf_counter() - begun,
        _environment(config),
    )
    if out is not None:
        write_outputs(result, out)
    return result


def finished_methods(config: BenchmarkConfig, out: Path) -> dict[str, MethodResult]:
    """The methods an interrupted run of the same config already finished in ``out`` (resumed, not rerun).

    A folder holding a run of another config is refused: its results would be mixed with these.
    """
    check_same_config(config, out)
    results = out / "results.json"
    if not results.is_file():
        return {}
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
        methods = {m["method"]: MethodResult.from_dict(m) for m in data["methods"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchmarkConfigError(
            f"{results}: an earlier run's results cannot be read back ({exc}); choose another --out folder"
        ) from exc
    return {name: result for name, result in methods.items() if name in config.methods}


def check_same_config(config: BenchmarkConfig, out: Path) -> None:
    """Nothing, if ``out`` holds no run or a run of ``config``; BenchmarkConfigError saying what differs."""
    written = out / "config.json"
    if not written.is_file():
        return
    try:
        earlier = _comparable(
            BenchmarkConfig.from_dict(json.loads(written.read_text(encoding="utf-8"))).to_dict()
        )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise BenchmarkConfigError(
            f"{written}: an earlier run's config cannot be read back ({exc}); choose another --out folder"
        ) from exc
    now = _comparable(config.to_dict())
    if earlier != now:
        changed = sorted(k for k, v in now.items() if earlier.get(k) != v)
        raise BenchmarkConfigError(
            f"{out}: holds a run of another config ({', '.join(changed)} differ); resume with the same "
            "config, or choose another --out folder"
        )


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A config without what changes where a run happens but not its figures (device, threads)."""
    train = {
        k: v for k, v in config.get("train", {}).items() if k not in ("device", "threads", "eval_batch_size")
    }
    return {**config, "train": train}


def _sizes(tasks: list[TaskSplits]) -> dict[str, dict[str, int]]:
    return {t.name: {"train": len(t.train), "val": len(t.val), "test": len(t.test)} for t in tasks}


def _environment(config: BenchmarkConfig) -> dict[str, Any]:
    import platform

    from cffd_engine import __version__

    return {
        "engine_version": __version__,
        "torch": torch.__version__,
        "device": str(select_device(config.train.device)),
        "threads": config.train.threads,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def write_outputs(result: BenchmarkResult, out: Path) -> None:
    """results.json, table.md and accuracy_matrices.png (when matplotlib is installed) under ``out``."""
    from cffd_engine.continual.benchmark_report import markdown_table, plot_matrices

    atomic_write_json(out / "results.json", result.to_dict())
    atomic_write_bytes(out / "table.md", markdown_table(result).encode("utf-8"))
    plot_matrices(result, out / "accuracy_matrices.png")
