"""The ``cffd`` command: the engine's jobs from a terminal.

One module per command group (``analyze``, ``models``, ``train``, ``bench``...), each thin over
the engine functions that do the work: it reads the options, runs the job with a progress bar,
prints the outcome and returns the exit status. The engine never imports this package.
Each command imports its heavy modules only when run, so ``cffd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

# Before torch loads: idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.
from cffd_engine.omp import USER_OMP_WAIT_POLICY, prefer_sleeping_threads

prefer_sleeping_threads()

from cffd_engine import __version__  # noqa: E402
from cffd_engine.cli.progress import LOG_INTERVAL_S, progress_bar, progress_lines  # noqa: E402
from cffd_engine.errors import CFFDError  # noqa: E402

__all__ = ["LOG_INTERVAL_S", "USER_OMP_WAIT_POLICY", "build_parser", "main", "progress_bar", "progress_lines"]


def build_parser() -> argparse.ArgumentParser:
    """The ``cffd`` parser; each subcommand's ``func`` runs it (``bench`` is dispatched by ``main``)."""
    from cffd_engine.cli import (
        analyze,
        assets,
        bench,
        learn,
        merge,
        models,
        preprocess,
        probe,
        synth,
        train,
        version,
    )

    parser = argparse.ArgumentParser(prog="cffd", description="CFFD Studio engine: face-forgery detection.")
    parser.add_argument("--version", action="version", version=f"cffd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    assets.add_parser(commands)
    version.add_parser(commands)
    probe.add_parser(commands)
    models.add_parser(commands)
    # Each module parses its own options (add_arguments) and runs them (run).
    for name, module, help_text in (
        ("analyze", analyze, "analyse videos for manipulated faces; PDF/JSON reports"),
        ("preprocess", preprocess, "extract the faces of a dataset once into a resumable crop cache"),
        ("synth", synth, "forgeries from real faces: task sequence, contact sheet, videos"),
        ("train", train, "train a model from a recipe (data, training, test, store)"),
        ("merge", merge, "join the JSON results (or caches) of sharded runs into one"),
        ("learn", learn, "one continual update: learn a new forgery type from an update file"),
    ):
        sub = commands.add_parser(name, help=help_text)
        module.add_arguments(sub)
        sub.set_defaults(func=module.run)
    bench.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``cffd ARGV``: the exit status (0 done, 1 some input failed, 2 error, 130 interrupted)."""
    from cffd_engine.cli.bench import BENCHMARKS
    from cffd_engine.cli.bench import run as run_benchmark

    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHMARKS:
            return run_benchmark(argv[1], argv[2:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CFFDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: the message names the file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
