"""A whole experiment: cut the datasets' faces, run the benchmark once per seed, summarise mean and spread.

``run_experiment(config, out)`` is what ``cffd bench continual`` runs. Every step
resumes: the crop cache keeps the videos already cut, each seed's folder keeps
the methods already finished, and a seed whose run is complete is read back.

```
<out>/config.json                  the config as run (cffd bench continual --config <out>/config.json repeats it)
<out>/cache/                       the crop cache and its manifest.json (unless [preprocess] cache names one)
<out>/preprocess.json              what cutting the faces did, per dataset
<out>/seed-<k>/                    one run: config.json, results.json, table.md, accuracy_matrices.png
<out>/summary.json, summary.md     mean, spread and each seed's value per method (with several seeds)
<out>/summary.png                  final accuracy and forgetting per method, mean and spread
```
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cffd_engine.continual.benchmark import BenchmarkResult, check_same_config, run_benchmark
from cffd_engine.continual.benchmark_config import METHODS, BenchmarkConfig
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.jobs import JobControl, ensure_job

# What the summary reports, read from each run's test matrices (ContinualMetrics.summary keys).
SUMMARY_FIGURES = {
    "final_accuracy": "Avg ACC",
    "final_auc": "Avg AUC",
    "final_video_auc": "Video AUC",
    "old_task_accuracy": "Old-task ACC",
    "average_forgetting": "Forgetting ↓",
    "backward_transfer": "BWT",
}
CACHE_DIR = "cache"


@dataclass
class ExperimentResult:
    """Each seed's run and, per method and figure, the mean, the spread and the values over seeds."""

    config: BenchmarkConfig
    runs: list[BenchmarkResult]
    summary: dict[str, dict[str, dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "seeds": [run.config.seed for run in self.runs],
            "task_names": self.runs[0].task_names if self.runs else [],
            "summary": self.summary,
            "seconds": sum(run.seconds for run in self.runs),
        }


def run_experiment(
    config: BenchmarkConfig, out: Path | str, job: JobControl | None = None
) -> ExperimentResult:
    """Cut the faces of ``config.datasets`` into the cache, then run the benchmark for each seed under ``out``."""
    out, job = Path(out), ensure_job(job)
    out.mkdir(parents=True, exist_ok=True)
    share = 0.0
    if config.datasets:
        config = dataclasses.replace(
            config, cache=str(preprocess_settings(config.preprocess)[0] or out / CACHE_DIR)
        )
    check_same_config(config, out)
    if config.datasets:
        share = 0.3
        cut_faces(config, out, job.sub(0.0, share))
    atomic_write_json(out / "config.json", config.to_dict())
    if config.seeds is None:
        runs = [run_benchmark(config, out, job.sub(share, 1.0))]
    else:
        runs = []
        step = (1.0 - share) / len(config.seeds)
        for k, seed in enumerate(config.seeds):
            sub = job.sub(share + k * step, share + (k + 1) * step)
            runs.append(run_benchmark(config.for_seed(seed), out / f"seed-{seed}", sub))
    result = ExperimentResult(config, runs, seeds_summary(runs))
    if config.seeds is not None:
        from cffd_engine.continual.benchmark_report import plot_seeds_summary, seeds_table

        atomic_write_json(out / "summary.json", result.to_dict())
        atomic_write_bytes(out / "summary.md", seeds_table(result).encode("utf-8"))
        plot_seeds_summary(result, out / "summary.png")
    return result


def cut_faces(config: BenchmarkConfig, out: Path, job: JobControl) -> None:
    """Cut the faces of the protocol's videos of each dataset into ``config.cache``; a report in preprocess.json."""
    from cffd_engine.data.adapters import load_manifest
    from cffd_engine.data.manifest import PROTOCOLS, Manifest, parse_protocol
    from cffd_engine.data.preprocess import preprocess

    _, workers, settings = preprocess_settings(config.preprocess)
    tasks = parse_protocol(PROTOCOLS.get(config.protocol or "", config.protocol or ""))
    reports = {}
    for k, (name, dataset) in enumerate(config.datasets.items()):
        adapter_options = {key: value for key, value in dataset.items() if key != "root"}
        manifest = load_manifest(dataset["root"], name, **adapter_options)
        wanted = Manifest(
            [entry for entry in manifest if any(task.matches(entry) for task in tasks)], manifest.notes
        )
        sub = job.sub(k / len(config.datasets), (k + 1) / len(config.datasets))
        report = preprocess(wanted, config.cache, settings, workers, job=sub)
        reports[name] = {**report.to_dict(), "root": dataset["root"], "notes": manifest.notes}
        atomic_write_json(out / "preprocess.json", reports)


def preprocess_settings(options: dict[str, Any]):
    """(cache folder or None, workers, PreprocessSettings) from an experiment's [preprocess] table."""
    from cffd_engine.data.preprocess import PreprocessSettings, default_workers
    from cffd_engine.media.detectors import DetectorSettings

    default = PreprocessSettings()
    settings = PreprocessSettings(
        frames=options.get("frames", default.frames),
        crop_size=options.get("size", default.crop_size),
        crop_scale=options.get("scale", default.crop_scale),
        align=options.get("align", default.align),
        all_tracks=options.get("all_faces", default.all_tracks),
        detector=DetectorSettings(
            options.get("detector", default.detector.model),
            options.get("min_confidence", default.detector.min_confidence),
            options.get("min_face_size", default.detector.min_face_size),
        ),
    )
    if type(settings.frames) is not int or settings.frames < 1 or type(settings.crop_size) is not int:
        raise ValueError("[preprocess] frames and size must be positive integers")
    workers = options.get("workers", default_workers())
    if type(workers) is not int or workers < 1:
        raise ValueError(f"[preprocess] workers must be a positive integer, got {workers!r}")
    cache = options.get("cache")
    return (Path(cache) if cache else None), workers, settings


def seeds_summary(runs: list[BenchmarkResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per method and figure: mean, sample standard deviation (0 for one seed) and the values, by seed."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for method in dict.fromkeys(m.method for run in runs for m in run.methods):
        figures = {}
        for key in SUMMARY_FIGURES:
            values = [m.test.summary()[key] for run in runs for m in run.methods if m.method == method]
            known = [v for v in values if v is not None]
            figures[key] = {
                "mean": statistics.fmean(known) if known else None,
                "std": statistics.stdev(known) if len(known) > 1 else (0.0 if known else None),
                "values": values,
            }
        summary[method] = {"label": METHODS[method][0], **figures}
    return summary
