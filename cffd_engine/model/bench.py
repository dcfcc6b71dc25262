"""CPU benchmark of the RSIA-Net presets against the single-stream detectors (EfficientNet-B4, Xception).

Each model is measured in its own subprocess (one for inference, one for training) so
that peak memory and allocator state of one model never colour another's figures.
Usage: ``cffd bench model --out model_benchmark.json``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cffd_engine.jobs import JobControl, ensure_job

BASELINES: tuple[tuple[str, int], ...] = (("efficientnet_b4", 256), ("legacy_xception", 299))
REFERENCE = "efficientnet_b4"
LITE_TARGET_MS = 10.0
LITE_TARGET_SPEEDUP = 10.0


@dataclass(frozen=True)
class ModelSpec:
    """What to measure: an RSIA-Net preset (kind "rsianet") or a plain timm classifier (kind "timm")."""

    kind: str
    name: str
    input_size: int = 0  # 0 = the preset's own size


@dataclass
class ModelFigures:
    """The measured figures of one model; times are medians, memory is peak RSS of its worker."""

    model: str
    kind: str
    input_size: int
    params_m: float
    gflops_per_face: float
    infer_ms_per_face_b1: float
    infer_ms_per_face_b32: float
    train_ms_per_face: float
    train_batch: int
    peak_rss_infer_mb: float
    peak_rss_train_mb: float
    rss_delta_infer_mb: float
    rss_delta_train_mb: float


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _build(spec: ModelSpec) -> tuple[Any, int, Callable]:
    """The model, its input size and a function images -> (logits, training loss)."""
    import timm
    import torch.nn.functional as F

    if spec.kind == "rsianet":
        from cffd_engine.losses import HSCLoss
        from cffd_engine.model.rsianet import create_model

        overrides = {"input_size": spec.input_size} if spec.input_size else {}
        model = create_model(spec.name, **overrides)
        hscl = HSCLoss.for_model(model)

        def step(images, labels):
            out = model(images)
            terms = hscl(out.spatial_features, out.frequency_features, labels)
            return out.logits, F.cross_entropy(out.logits, labels) + 0.1 * terms.total

        step.extra_parameters = list(hscl.parameters())  # type: ignore[attr-defined]
        return model, model.config.input_size, step
    model = timm.create_model(spec.name, pretrained=False, num_classes=2)

    def plain_step(images, labels):
        logits = model(images)
        return logits, F.cross_entropy(logits, labels)

    plain_step.extra_parameters = []  # type: ignore[attr-defined]
    return model, spec.input_size, plain_step


def _time(fn: Callable[[], Any], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _worker(
    spec: ModelSpec, phase: str, threads: int, repeats: int, train_batch: int, channels_last: bool
) -> dict:
    """Measure one phase of one model in this (fresh) process; returns a JSON-ready dict."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rss_start = _peak_rss_mb()
    model, size, step = _build(spec)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    out: dict[str, Any] = {"input_size": size}

    def images(n: int) -> torch.Tensor:
        return torch.rand(n, 3, size, size).contiguous(memory_format=fmt)

    if phase == "infer":
        model.eval()
        out["params_m"] = sum(p.numel() for p in model.parameters()) / 1e6
        with torch.inference_mode():
            counter = FlopCounterMode(display=False)
            with counter:
                model(images(1))
            out["gflops_per_face"] = counter.get_total_flops() / 1e9
            one, many = images(1), images(32)
            out["infer_ms_per_face_b1"] = _time(lambda: model(one), 3, max(5, 3 * repeats)) * 1000
            out["infer_ms_per_face_b32"] = _time(lambda: model(many), 1, repeats) * 1000 / 32
    else:
        model.train()
        parameters = [*model.parameters(), *step.extra_parameters]
        optimizer = torch.optim.Adam(parameters, lr=1e-4)
        batch = images(train_batch)
        labels = torch.arange(train_batch) % 2

        def train_step() -> None:
            optimizer.zero_grad(set_to_none=True)
            _, loss = step(batch, labels)
            loss.backward()
            optimizer.step()

        out["train_ms_per_face"] = _time(train_step, 1, repeats) * 1000 / train_batch
    out["peak_rss_mb"] = _peak_rss_mb()
    out["rss_delta_mb"] = out["peak_rss_mb"] - rss_start
    return out


def omp_wait_policy(passive_wait: bool) -> str:
    """The workers' OMP_WAIT_POLICY: PASSIVE when asked, else the user's own, else the library default.

    The ``cffd`` command makes PASSIVE its own default (safe on a busy machine); the benchmark
    does not inherit that, so both models are timed as the library runs them unless told otherwise.
    """
    if passive_wait:
        return "PASSIVE"
    from cffd_engine import omp

    return omp.USER_OMP_WAIT_POLICY or "default"


def _run_worker(
    spec: ModelSpec,
    phase: str,
    threads: int,
    repeats: int,
    train_batch: int,
    channels_last: bool,
    passive_wait: bool,
) -> dict:
    args = {
        "spec": asdict(spec),
        "phase": phase,
        "threads": threads,
        "repeats": repeats,
        "train_batch": train_batch,
        "channels_last": channels_last,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env.pop("OMP_WAIT_POLICY", None)
    policy = omp_wait_policy(passive_wait)
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy
    # The worker imports this package; make that work from a source checkout too.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "cffd_engine.model.bench", "--worker", json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark of {spec.name} ({phase}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_model_benchmark(
    presets: Sequence[str] = ("lite", "base", "full"),
    out_json: Path | None = None,
    *,
    baselines: Sequence[tuple[str, int]] = BASELINES,
    threads: int = 2,
    repeats: int = 3,
    train_batch: int = 8,
    channels_last: bool = True,
    passive_wait: bool = False,
    job: JobControl | None = None,
) -> dict:
    """Measure every preset and baseline on the CPU; returns (and optionally writes) the report dict.

    The report has ``environment`` (versions, CPU, threads, load averages before and
    after: the machine may be shared), ``results`` (one ``ModelFigures`` dict per model)
    and ``lite_check`` (the lite targets: ms/face at batch 32 and speed-up over B4).
    ``passive_wait`` sets OMP_WAIT_POLICY=PASSIVE in the workers: on a machine shared
    with other jobs, spinning OpenMP threads otherwise inflate times many-fold. Without it
    the workers run with the user's own policy or the library's default (``omp_wait_policy``).
    """
    import torch

    job = ensure_job(job)
    specs = [ModelSpec("rsianet", name) for name in presets]
    specs += [ModelSpec("timm", name, size) for name, size in baselines]
    load_before = os.getloadavg()
    results = []
    for index, spec in enumerate(specs):
        job.check()
        job.report(index / len(specs), f"benchmarking {spec.name}")
        infer = _run_worker(spec, "infer", threads, repeats, train_batch, channels_last, passive_wait)
        job.check()
        train = _run_worker(spec, "train", threads, repeats, train_batch, channels_last, passive_wait)
        results.append(asdict(_figures(spec, infer, train, train_batch)))
    job.report(1.0, "benchmark done")
    report = {
        "environment": _environment(
            torch.__version__, threads, channels_last, passive_wait, repeats, load_before
        ),
        "results": results,
        "lite_check": _lite_check(results),
    }
    if out_json is not None:
        Path(out_json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _figures(spec: ModelSpec, infer: dict, train: dict, train_batch: int) -> ModelFigures:
    """One model's figures from its two workers' measurements, rounded for the report."""
    return ModelFigures(
        model=f"rsianet-{spec.name}" if spec.kind == "rsianet" else spec.name,
        kind=spec.kind,
        input_size=infer["input_size"],
        params_m=round(infer["params_m"], 3),
        gflops_per_face=round(infer["gflops_per_face"], 3),
        infer_ms_per_face_b1=round(infer["infer_ms_per_face_b1"], 2),
        infer_ms_per_face_b32=round(infer["infer_ms_per_face_b32"], 2),
        train_ms_per_face=round(train["train_ms_per_face"], 1),
        train_batch=train_batch,
        peak_rss_infer_mb=round(infer["peak_rss_mb"], 1),
        peak_rss_train_mb=round(train["peak_rss_mb"], 1),
        rss_delta_infer_mb=round(infer["rss_delta_mb"], 1),
        rss_delta_train_mb=round(train["rss_delta_mb"], 1),
    )


def _environment(
    torch_version: str,
    threads: int,
    channels_last: bool,
    passive_wait: bool,
    repeats: int,
    load_before: tuple[float, ...],
) -> dict:
    """Where and how the figures were measured; the load average is read again now, after the runs."""
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "torch": torch_version,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "channels_last": channels_last,
        "omp_wait_policy": omp_wait_policy(passive_wait),
        "repeats": repeats,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "flops_note": "torch.utils.flop_counter: one multiply-add counts as 2 FLOPs",
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _lite_check(results: list[dict]) -> dict | None:
    by_name = {r["model"]: r for r in results}
    lite, reference = by_name.get("rsianet-lite"), by_name.get(REFERENCE)
    if lite is None:
        return None
    check: dict[str, Any] = {
        "lite_ms_per_face_b32": lite["infer_ms_per_face_b32"],
        "target_ms": LITE_TARGET_MS,
        "meets_ms_target": lite["infer_ms_per_face_b32"] <= LITE_TARGET_MS,
    }
    if reference is not None:
        speedup = reference["infer_ms_per_face_b32"] / lite["infer_ms_per_face_b32"]
        check.update(
            speedup_vs_efficientnet_b4=round(speedup, 1),
            target_speedup=LITE_TARGET_SPEEDUP,
            meets_speedup_target=speedup >= LITE_TARGET_SPEEDUP,
        )
    return check


def format_table(report: dict) -> str:
    """The report as a Markdown table (one row per model), plus the lite check line."""
    header = (
        "| model | input px | params (M) | GFLOPs/face | CPU ms/face b1 | CPU ms/face b32 "
        "| train ms/face | peak RSS +MB infer | peak RSS +MB train |"
    )
    lines = [header, "|" + "---|" * 9]
    for r in report["results"]:
        lines.append(
            f"| {r['model']} | {r['input_size']} | {r['params_m']:.2f} | {r['gflops_per_face']:.2f} "
            f"| {r['infer_ms_per_face_b1']:.1f} | {r['infer_ms_per_face_b32']:.1f} "
            f"| {r['train_ms_per_face']:.1f} (b{r['train_batch']}) "
            f"| {r['rss_delta_infer_mb']:.0f} | {r['rss_delta_train_mb']:.0f} |"
        )
    env = report["environment"]
    lines.append("")
    lines.append(
        f"CPU: {env['cpu']}, {env['threads']} threads, torch {env['torch']}, "
        f"channels_last={env['channels_last']}, OMP wait policy {env.get('omp_wait_policy', 'default')}; "
        f"load average before/after: {env['load_average_before'][0]} / {env['load_average_after'][0]}. "
        "GFLOPs count a multiply-add as 2. Peak RSS +MB: the worker's peak resident memory "
        "above its level after importing torch (inference: batch 32; training: the train batch)."
    )
    check = report.get("lite_check")
    if check:
        line = f"lite: {check['lite_ms_per_face_b32']:.1f} ms/face at batch 32 (target <= {check['target_ms']:.0f})"
        if "speedup_vs_efficientnet_b4" in check:
            line += f", {check['speedup_vs_efficientnet_b4']:.1f}x faster than EfficientNet-B4@256 (target >= 10x)"
        lines.append(line)
    return "\n".join(lines)


def worker_main(task: str) -> int:
    """One measurement in this process (``task``: the JSON ``_run_worker`` sends), printed as JSON."""
    task = json.loads(task)
    figures = _worker(
        ModelSpec(**task["spec"]),
        task["phase"],
        task["threads"],
        task["repeats"],
        task["train_batch"],
        task["channels_last"],
    )
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":  # a worker: ``python -m cffd_engine.model.bench --worker TASK``
    if len(sys.argv) != 3 or sys.argv[1] != "--worker":
        sys.exit(
            "usage: python -m cffd_engine.model.bench --worker TASK (the benchmark is `cffd bench model`)"
        )
    sys.exit(worker_main(sys.argv[2]))
