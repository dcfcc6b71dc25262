"""The continual benchmark with the `pretrained` preset on a lent GPU, as parallel runs, then merged here.

On the GPU machine (the repository, plus what `scripts/gpu_pack.py` wrote into PACK):

    python scripts/gpu_continual.py launch --pack PACK --runs RUNS --deadline 470

starts one process per (seed, group of methods) and per tuning run, all on the one GPU
(the models are small: one process alone leaves the GPU mostly idle), and stops
whatever is still running at the deadline; each process writes its results after every
method, so a stopped run keeps what it finished. Back here:

    python scripts/gpu_continual.py merge --runs RUNS --sequence PACK/seq --out EXPERIMENT

lays the main runs out as one experiment (EXPERIMENT/seed-<k>/) and lets `run_experiment`
resume it, which trains nothing and writes summary.json and summary.md; the tuning runs
(CFFD's loss weights and replay budget, chosen on the validation split) go to tuning.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SEEDS = (0, 1, 2)
# Methods that share a first task run in one process (their first model is trained once).
GROUPS = {
    "baselines": ["ft", "lwf", "ewc"],
    "replay": ["er", "icarl", "cffd-no-hscl"],
    "cffd": ["cffd", "cffd-no-slkd", "cffd-no-mfkd", "cffd-no-hybrid"],
}
# CFFD tuned on validation only: loss weights (every seed) and replay budget (seed 0).
TUNING = {
    "cffd-distil-x3": ({"lambda_slkd": 1.0, "lambda_mfkd": 3.0}, None, SEEDS[:2]),
    "cffd-distil-x0.3": ({"lambda_slkd": 0.1, "lambda_mfkd": 0.3}, None, SEEDS[:2]),
    "cffd-budget-1000": ({}, 1000, SEEDS[:1]),
    # Random replay beat hybrid on test (docs/continual-2026-12-04.md), level on validation: fewer hard faces.
    "cffd-hard-0.25": ({"hard_fraction": 0.25}, None, SEEDS[:2]),
}


# A check of the whole path on a CPU in a minute: tiny tasks, one epoch.
SMOKE = {"max_train_per_task": 24, "first_task_epochs": 1}


def use_packed_weights(pack: Path) -> None:
    """Serve the backbones' ImageNet weights from PACK (float16, verified here before packing)."""
    import safetensors.torch

    from cffd_engine import backbone_weights

    def packed(model_name: str, explicit_dir=None):
        state = safetensors.torch.load_file(pack / f"imagenet-{model_name}.safetensors")
        return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

    backbone_weights.imagenet_state_dict = packed


def stub_missing_media_modules() -> None:
    """The GPU image has no PyAV or mediapipe; the benchmark never decodes video or finds faces, but
    modules on its import path import them. An empty module stands in for each one missing."""
    import importlib.util
    import types

    for name in ("av", "mediapipe"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ValueError:  # already replaced in sys.modules
            found = sys.modules.get(name) is not None
        if not found:
            sys.modules[name] = stub = types.ModuleType(name)
            stub.__version__ = "0"


def worker(args: argparse.Namespace) -> None:
    stub_missing_media_modules()
    from cffd_engine.continual.benchmark import run_benchmark
    from cffd_engine.continual.benchmark_config import preset_config

    use_packed_weights(args.pack)
    base = preset_config("pretrained")
    train = {**base.train.to_dict(), "device": args.device, "threads": args.threads}
    if args.smoke:
        train["epochs"] = 1
    config = preset_config(
        "pretrained",
        sequence=str(args.pack / "seq"),
        methods=args.methods.split(","),
        train=train,
        strategy_overrides=json.loads(args.strategy),
        replay_budget=args.budget or base.replay_budget,
        **(SMOKE if args.smoke else {}),
    ).for_seed(args.seed)
    run_benchmark(config, args.out)


def launch(args: argparse.Namespace) -> None:
    runs: list[tuple[str, list[str]]] = []
    groups = {args.only: args.only.split(",")} if args.only else GROUPS
    for seed in SEEDS:
        for group, methods in groups.items():
            runs.append((f"s{seed}-{group}", ["--seed", str(seed), "--methods", ",".join(methods)]))
    for name, (strategy, budget, seeds) in {} if args.only else TUNING.items():
        for seed in seeds:
            extra = ["--budget", str(budget)] if budget else []
            runs.append(
                (
                    f"s{seed}-{name}",
                    ["--seed", str(seed), "--methods", "cffd", "--strategy", json.dumps(strategy), *extra],
                )
            )
    args.runs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    processes = {}
    begun = time.time()
    for name, extra in runs:
        log = open(args.runs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        command = [
            sys.executable,
            __file__,
            "worker",
            "--pack",
            str(args.pack),
            "--out",
            str(args.runs / name),
        ]
        command += ["--device", args.device, *(["--smoke"] if args.smoke else []), *extra]
        processes[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log)
    print(f"{len(processes)} runs started", flush=True)
    while any(p.poll() is None for p, _ in processes.values()) and time.time() - begun < args.deadline:
        time.sleep(5)
    status = {}
    for name, (process, log) in processes.items():
        if process.poll() is None:
            process.kill()
            process.wait()
            status[name] = "stopped at the deadline"
        else:
            status[name] = f"exit {process.returncode}"
        log.close()
    status["seconds"] = round(time.time() - begun, 1)
    (args.runs / "status.json").write_text(json.dumps(status, indent=2))
    print(json.dumps(status, indent=2), flush=True)


def merge(args: argparse.Namespace) -> None:
    from cffd_engine.continual.benchmark import BenchmarkResult, MethodResult, write_outputs
    from cffd_engine.continual.benchmark_config import ABLATIONS, PAPER_METHODS, preset_config
    from cffd_engine.continual.experiment import run_experiment
    from cffd_engine.fileio import atomic_write_json

    def read(name: str) -> dict | None:
        path = args.runs / name / "results.json"
        return json.loads(path.read_text()) if path.is_file() else None

    methods = [m for m in PAPER_METHODS + ABLATIONS]
    found = {}
    for seed in SEEDS:
        for group in GROUPS:
            data = read(f"s{seed}-{group}")
            for row in (data or {}).get("methods", []):
                found.setdefault(seed, {})[row["method"]] = (row, data)
    seeds = [s for s in SEEDS if s in found]
    methods = [m for m in methods if all(m in found[s] for s in seeds)]
    config = preset_config("pretrained", sequence=str(args.sequence.resolve()), methods=methods, seeds=seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "config.json", config.to_dict())
    for seed in seeds:
        one = config.for_seed(seed)
        any_run = next(iter(found[seed].values()))[1]
        rows = [MethodResult.from_dict(found[seed][m][0]) for m in methods]
        result = BenchmarkResult(
            one, any_run["task_names"], any_run["task_sizes"], rows,
            sum(r.seconds for r in rows), any_run["environment"],
        )  # fmt: skip
        folder = args.out / f"seed-{seed}"
        folder.mkdir(exist_ok=True)
        atomic_write_json(folder / "config.json", one.to_dict())
        write_outputs(result, folder)
    experiment = run_experiment(config, args.out)
    print((args.out / "summary.md").read_text())
    print(f"seeds {seeds}, methods {methods}; {sum(r.seconds for r in experiment.runs):.0f} s of runs")
    tuning_table(args)


def tuning_table(args: argparse.Namespace) -> None:
    """CFFD's variants against CFFD itself, on the validation split (the choice) and the test split."""
    import statistics

    def figures(name: str, seeds) -> dict | None:
        val, test = [], []
        for seed in seeds:
            path = args.runs / f"s{seed}-{name}" / "results.json"
            if not path.is_file():
                return None
            row = next(m for m in json.loads(path.read_text())["methods"] if m["method"] == "cffd")
            val.append(row["val"])
            test.append(row["test"])
        from cffd_engine.continual.metrics import ContinualMetrics

        def mean(key, split):
            return statistics.fmean(ContinualMetrics.from_dict(m).summary()[key] for m in split)

        return {k: mean(k, v) for k, v in (("final_accuracy", val), ("average_forgetting", val))} | {
            "test_accuracy": mean("final_accuracy", test),
            "test_forgetting": mean("average_forgetting", test),
        }

    lines = [
        "| CFFD variant | seeds | val Avg ACC | val forgetting | test Avg ACC | test forgetting |",
        "|---|---|---|---|---|---|",
    ]
    for name, (_, _, seeds) in {"cffd": ({}, None, SEEDS), **TUNING}.items():
        got = figures(name, seeds)
        if got is None:
            continue
        label = name if name != "cffd" else "cffd (default: SLKD 0.3, MFKD 1.0, budget 500)"
        lines.append(
            f"| {label} | {','.join(map(str, seeds))} | {got['final_accuracy']:.3f} | "
            f"{got['average_forgetting']:.3f} | {got['test_accuracy']:.3f} | {got['test_forgetting']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    (args.out / "tuning.md").write_text(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("worker")
    one.add_argument("--pack", type=Path, required=True)
    one.add_argument("--out", type=Path, required=True)
    one.add_argument("--seed", type=int, required=True)
    one.add_argument("--methods", required=True)
    one.add_argument("--strategy", default="{}")
    one.add_argument("--budget", type=int)
    one.add_argument("--device", default="cuda")
    one.add_argument("--smoke", action="store_true")
    one.add_argument("--threads", type=int, default=1, help="CPU threads (1: many runs share the machine)")
    many = commands.add_parser("launch")
    many.add_argument("--pack", type=Path, required=True)
    many.add_argument("--runs", type=Path, required=True)
    many.add_argument("--deadline", type=float, default=470)
    many.add_argument("--device", default="cuda")
    many.add_argument("--smoke", action="store_true")
    many.add_argument(
        "--only", help="these methods (comma-separated) for each seed, in one process a seed; no tuning"
    )
    back = commands.add_parser("merge")
    back.add_argument("--runs", type=Path, required=True)
    back.add_argument("--sequence", type=Path, required=True)
    back.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    {"worker": worker, "launch": launch, "merge": merge}[args.command](args)


if __name__ == "__main__":
    main()
