"""``cffd train``: a model from a recipe file (``cffd_engine.training``), one process or under torchrun."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cffd_engine.argtypes import file_to_write, folder_to_write
from cffd_engine.cli.progress import progress_bar
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import JobControl
from cffd_engine.training import check_resume


@contextlib.contextmanager
def launched_run(
    device: str, work: Path, resume: bool, label: str
) -> Iterator[tuple[Any, JobControl | None]]:
    """What ``cffd train`` and ``cffd learn`` share: the process group under torchrun, the resume check
    (rank 0 looks, every process gets its verdict), and a progress bar on rank 0 only: (world, job)."""
    from cffd_engine import distributed

    with distributed.launched(device) as world:
        problem = None
        if world.is_main:
            try:
                check_resume(work, resume)
            except CFFDError as exc:
                problem = str(exc)
        problem = distributed.broadcast(problem)
        if problem:
            raise CFFDError(problem)
        yield world, progress_bar(label) if world.is_main else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cffd train``."""
    parser.add_argument("--config", type=Path, required=True, help="training recipe (TOML)")
    parser.add_argument(
        "--out", type=folder_to_write, required=True, help="work folder: data, checkpoints, report"
    )
    parser.add_argument("--store", type=Path, help="commit the model to this store (default: OUT/store)")
    parser.add_argument("--activate", action="store_true", help="make the new version the active one")
    parser.add_argument(
        "--export",
        type=file_to_write,
        help="also write the model as a shareable .cffd file, without training faces",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its last checkpoint in OUT"
    )


def run(args: argparse.Namespace) -> int:
    """Train the recipe, commit the model, print its test figures (rank 0 only under torchrun)."""
    from cffd_engine.continual import ContinualSettings
    from cffd_engine.store import ModelStore
    from cffd_engine.training import WORK_DIR, Recipe, train

    recipe = Recipe.load(args.config)
    device = ContinualSettings.from_dict(recipe.continual).train.device
    with launched_run(device, args.out / WORK_DIR, args.resume, f"train {recipe.name}") as (world, job):
        store = ModelStore(args.store) if args.store else None
        result = train(recipe, args.out, store, args.activate, job)
        if not world.is_main:
            return 0
        print(
            f"\n{result.version}: {result.bundle} ({result.seconds / 60:.1f} min, {world.size} process(es))"
        )
        for name, figures in result.test.items():
            auc = figures["auc"]
            print(
                f"  {name:<10} test accuracy {figures['accuracy']:.3f}  AUC {auc:.3f}"
                if auc is not None
                else name
            )
        if args.export:
            (store or ModelStore(args.out / "store")).export(
                result.version, args.export, include_private_data=False
            )
            print(f"exported without training faces to {args.export}")
        print(f"report: {result.report_path}")
    return 0
