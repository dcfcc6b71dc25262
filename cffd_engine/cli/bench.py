"""``cffd bench ...``: the benchmarks that print figures and write JSON.

Each benchmark parses its own options after ``cffd bench NAME``; its engine module is
imported only when it runs (torch and timm take seconds), so ``cffd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine.argtypes import (
    DEVICE_HELP,
    device,
    existing_file,
    existing_folder,
    file_to_write,
    folder_to_write,
    non_negative_int,
    positive_int,
    whole_number,
)
from cffd_engine.config import read_benchmark_config

if TYPE_CHECKING:
    from cffd_engine.continual.benchmark_config import BenchmarkConfig

BENCHMARKS = {
    "model": "RSIA-Net presets vs single-stream detectors: speed, FLOPs, memory",
    "analysis": "cffd analyze end to end: frames/s, peak memory, time to PDF",
    "continual": "FT/LwF/EWC/ER/iCaRL/CFFD on a task sequence",
    "train": "training throughput in images/s, one process or under torchrun",
}


def add_parser(commands) -> None:
    """The ``bench`` command, listing the benchmarks; ``run`` parses each one's own options."""
    bench_parser = commands.add_parser("bench", help="benchmarks that print figures and write JSON")
    bench_commands = bench_parser.add_subparsers(dest="bench_command", required=True)
    for name, help_text in BENCHMARKS.items():
        bench_commands.add_parser(name, help=f"{help_text} (options: cffd bench {name} --help)")


def run(name: str, argv: list[str]) -> int:
    """Run the benchmark ``name`` (a key of BENCHMARKS) with its options ``argv``."""
    if name == "model":
        return model(argv)
    if name == "analysis":
        return analysis(argv)
    if name == "train":
        return train(argv)
    parser = argparse.ArgumentParser(prog="cffd bench continual")
    add_continual_arguments(parser)
    return run_continual(parser.parse_args(argv))


def model(argv: Sequence[str] | None = None) -> int:
    """``cffd bench model``: benchmark the presets and baselines, print a Markdown table, write JSON."""
    from cffd_engine.jobs import JobControl
    from cffd_engine.model import bench

    parser = argparse.ArgumentParser(prog="cffd bench model", description=bench.__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["lite", "base", "full"], help="RSIA-Net presets")
    parser.add_argument("--no-baselines", action="store_true", help="skip EfficientNet-B4 and Xception")
    parser.add_argument(
        "--out", type=file_to_write, default=Path("model_benchmark.json"), help="JSON report path"
    )
    parser.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads per model")
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="timed repetitions (median is reported)"
    )
    parser.add_argument(
        "--train-batch", type=whole_number(2), default=8, help="batch size of the training step"
    )
    parser.add_argument("--no-channels-last", action="store_true", help="measure in NCHW memory format")
    parser.add_argument(
        "--passive-wait",
        action="store_true",
        help="OMP_WAIT_POLICY=PASSIVE (for a machine shared with other jobs)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return bench.worker_main(args.worker)
    from cffd_engine.model.config import PRESETS

    unknown = [name for name in args.presets if name not in PRESETS]
    if unknown:  # named now, not after the baselines' minutes in their workers
        parser.error(f"argument --presets: unknown preset(s) {unknown}; choose from {sorted(PRESETS)}")

    def show(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    report = bench.run_model_benchmark(
        args.presets,
        args.out,
        baselines=() if args.no_baselines else bench.BASELINES,
        threads=args.threads,
        repeats=args.repeats,
        train_batch=args.train_batch,
        channels_last=not args.no_channels_last,
        passive_wait=args.passive_wait,
        job=JobControl(show, min_step=0.0),
    )
    print(bench.format_table(report))
    print(f"\nJSON: {args.out}")
    return 0


def analysis(argv: list[str] | None = None) -> int:
    """``cffd bench analysis``: time ``cffd analyze --report`` on one video, print and write the figures."""
    from cffd_engine.analysis import benchmark
    from cffd_engine.cli.analyze import main as analyze

    parser = argparse.ArgumentParser(
        prog="cffd bench analysis", description=benchmark.__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--video", type=existing_file, help="a video to analyse (default: a generated 720p clip)"
    )
    parser.add_argument(
        "--frames", type=positive_int, default=300, help="frames in the generated clip (default 300)"
    )
    parser.add_argument(
        "--model", type=existing_folder, help="a model bundle folder (default: an untrained lite model)"
    )
    parser.add_argument(
        "--json", type=file_to_write, default=Path("benchmark_analysis.json"), help="where to write"
    )
    parser.add_argument("extra", nargs="*", help="more `cffd analyze` options, after --")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cffd-bench-") as folder:
        folder = Path(folder)
        video = args.video
        if video is None:
            from cffd_engine.media.benchmark import default_face, make_benchmark_video

            video = make_benchmark_video(folder / "clip_720p.mp4", default_face(), frames=args.frames)
        bundle = args.model or benchmark.untrained_bundle(folder / "bundle")
        result = benchmark.run_benchmark(video, bundle, folder, analyze, args.extra)
    for line in result.lines():
        print(line)
    args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.json}")
    return 0


def train(argv: list[str] | None = None) -> int:
    """``cffd bench train``: training images per second, as one process or under torchrun."""
    from cffd_engine import distributed
    from cffd_engine.continual import throughput
    from cffd_engine.continual.config import STRATEGY_NAMES
    from cffd_engine.fileio import atomic_write_json
    from cffd_engine.model import PRESETS
    from cffd_engine.model.device import select_device

    parser = argparse.ArgumentParser(prog="cffd bench train", description=throughput.__doc__.split("\n")[0])
    parser.add_argument("--preset", default="base", help="RSIA-Net preset (lite, base, full)")
    parser.add_argument("--steps", type=positive_int, default=300, help="timed training steps")
    parser.add_argument("--warm-up", type=non_negative_int, default=20, help="untimed steps first")
    parser.add_argument("--batch-size", type=whole_number(2), default=32, help="per process")
    parser.add_argument(
        "--strategy", default="cffd", choices=STRATEGY_NAMES, help="whose losses are computed (first task)"
    )
    parser.add_argument("--device", type=device, default="auto", help=DEVICE_HELP)
    parser.add_argument("--threads", type=positive_int, help="CPU threads per process (default: torch's)")
    parser.add_argument("--no-mixed-precision", action="store_true", help="float32 on CUDA too")
    parser.add_argument(
        "--cpu-bfloat16",
        action="store_true",
        help="bfloat16 on a CPU that has the instructions (else float32)",
    )
    parser.add_argument("--out", type=file_to_write, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)
    if args.preset not in PRESETS:
        parser.error(f"argument --preset: unknown preset {args.preset!r}; choose from {sorted(PRESETS)}")
    select_device(args.device)  # a device this machine lacks is named before the model and data are made
    with distributed.launched(args.device) as world:
        figures = throughput.measure(
            args.preset,
            args.steps,
            args.batch_size,
            args.warm_up,
            args.strategy,
            args.device,
            args.threads,
            not args.no_mixed_precision,
            args.cpu_bfloat16,
        )
        if world.is_main:
            print(json.dumps(figures, indent=2))
            if args.out:
                atomic_write_json(args.out, figures)
    return 0


def add_continual_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``cffd bench continual``: a preset or a config file, then overrides."""
    from cffd_engine.continual.benchmark_config import METHODS, PRESETS

    parser.add_argument(
        "--config",
        type=Path,
        help="an experiment file (.toml: datasets, protocol, methods, seeds; see resources/experiments) or "
        "the config.json a run wrote",
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DATASET=FOLDER",
        help="where a dataset of the experiment file is on this machine (repeat for each), e.g. ff++=/data/ffpp",
    )
    parser.add_argument("--seeds", help="comma-separated seeds, one run each, summarised as mean and spread")
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="quick", help="ready-made size (default quick)"
    )
    parser.add_argument(
        "--out",
        type=folder_to_write,
        required=True,
        help="folder for config.json, results.json, table.md, PNG",
    )
    parser.add_argument(
        "--sequence", type=existing_folder, help="a built synthetic sequence (default: build one under --out)"
    )
    parser.add_argument(
        "--faces",
        type=existing_folder,
        help="face photos to build the sequence from (default: shared UTKFace)",
    )
    parser.add_argument(
        "--cache", type=existing_folder, help="a preprocessing cache, for a protocol over real datasets"
    )
    parser.add_argument(
        "--manifest",
        type=existing_file,
        help="another manifest for --cache (default: the one the cache keeps)",
    )
    parser.add_argument(
        "--protocol",
        help="tasks joined by '->' (e.g. 'ff++/c23/DF -> ff++/c23/F2F'), or forgery-incremental / dataset-incremental",
    )
    parser.add_argument("--methods", help=f"comma-separated, from: {', '.join(METHODS)}")
    parser.add_argument(
        "--ablations", action="store_true", help="also run CFFD without HSCL, SLKD, MFKD, hybrid replay"
    )
    parser.add_argument("--epochs", type=positive_int, help="epochs per task")
    parser.add_argument("--first-task-epochs", type=positive_int, help="epochs on the first task")
    parser.add_argument("--budget", type=positive_int, help="replay budget (samples in all)")
    parser.add_argument("--max-train", type=positive_int, help="at most this many training crops per task")
    parser.add_argument("--seed", type=non_negative_int)
    parser.add_argument("--device", type=device, help="auto, cpu or cuda[:i]")
    parser.add_argument("--threads", type=positive_int, help="CPU threads")


def continual_config(args: argparse.Namespace) -> BenchmarkConfig:
    """The config a command line describes: the file or preset, then each given option on top."""
    from cffd_engine.continual.benchmark import BenchmarkConfigError
    from cffd_engine.continual.benchmark_config import ABLATIONS, METHODS, BenchmarkConfig, preset_config

    config = _config_file(args) if args.config else preset_config(args.preset)
    data = config.to_dict()
    train = data["train"]
    for key, value in (
        ("epochs", args.epochs),
        ("seed", args.seed),
        ("device", args.device),
        ("threads", args.threads),
    ):
        if value is not None:
            train[key] = value
    if args.seed is not None:
        data["seed"] = args.seed
    for key, value in (
        ("sequence", args.sequence), ("cache", args.cache), ("manifest", args.manifest), ("protocol", args.protocol),
        ("first_task_epochs", args.first_task_epochs), ("replay_budget", args.budget), ("max_train_per_task", args.max_train),
    ):  # fmt: skip
        if value is not None:
            data[key] = str(value) if isinstance(value, Path) else value
    if args.faces is not None:
        data["build"] = {**(data.get("build") or {}), "faces": str(args.faces)}
    if args.methods:
        data["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(data["methods"]) - set(METHODS))
        if unknown or not data["methods"]:
            raise BenchmarkConfigError(
                f"--methods {args.methods!r}: unknown method(s) {unknown}; choose from {', '.join(METHODS)}"
            )
    if args.protocol is not None and not data.get("cache"):
        raise BenchmarkConfigError(
            f"--protocol {args.protocol!r} runs over a preprocessing cache: add --cache CACHE (made by "
            "`cffd preprocess`), or give an experiment file (--config) that lists the datasets"
        )
    if args.ablations:
        data["methods"] = [*data["methods"], *(m for m in ABLATIONS if m not in data["methods"])]
    if args.seeds:
        try:
            data["seeds"] = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
        except ValueError as exc:
            raise BenchmarkConfigError(
                f"--seeds {args.seeds!r}: write integers joined by commas, e.g. 0,1,2"
            ) from exc
    try:
        return BenchmarkConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise BenchmarkConfigError(f"cffd bench continual: {exc}") from exc


def _config_file(args: argparse.Namespace) -> BenchmarkConfig:
    """An experiment file (.toml) with its dataset roots (--root), or a config.json a run wrote."""
    from cffd_engine.continual.benchmark import BenchmarkConfigError
    from cffd_engine.data.manifest import canonical_dataset

    roots = {}
    for given in args.root:
        name, _, folder = given.partition("=")
        if not name or not folder:
            raise BenchmarkConfigError(f"--root {given!r}: write DATASET=FOLDER, e.g. --root ff++=/data/ffpp")
        try:
            roots[canonical_dataset(name)] = folder
        except ValueError as exc:
            raise BenchmarkConfigError(f"--root {given!r}: {exc}") from exc
    if args.config.suffix.lower() in (".toml", ""):
        from cffd_engine.config import load_experiment

        return load_experiment(args.config, roots)
    if args.root:
        raise BenchmarkConfigError("--root is for an experiment file (.toml); a config.json names its cache")
    return read_benchmark_config(args.config)


def run_continual(args: argparse.Namespace) -> int:
    """``cffd bench continual``: run, print the Markdown table, say where the files are."""
    from cffd_engine.continual.benchmark_report import markdown_table, seeds_table
    from cffd_engine.continual.experiment import run_experiment
    from cffd_engine.jobs import JobControl

    config = continual_config(args)

    def draw(fraction: float, message: str) -> None:
        print(
            f"\r[{'#' * int(fraction * 30):<30}] {fraction:6.1%} {message[:70]:<70}", end="", file=sys.stderr
        )

    experiment = run_experiment(config, args.out, JobControl(draw, min_step=0.002))
    print(file=sys.stderr)
    if config.seeds is None:
        print(markdown_table(experiment.runs[0]))
        print(f"results: {Path(args.out) / 'results.json'}  config: {Path(args.out) / 'config.json'}")
    else:
        print(seeds_table(experiment))
        print(f"summary: {Path(args.out) / 'summary.json'}  each seed: {Path(args.out)}/seed-<k>/")
    return 0
