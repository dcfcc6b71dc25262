"""``cffd learn``: one continual update from an update file (``cffd_engine.learning``), as the wizard makes."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from cffd_engine.argtypes import folder_to_write
from cffd_engine.cli.train import launched_run
from cffd_engine.config import read_update_plan
from cffd_engine.fileio import atomic_write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cffd learn``."""
    parser.add_argument("--config", type=Path, required=True, help="update file (TOML)")
    parser.add_argument(
        "--out", type=folder_to_write, required=True, help="work folder: checkpoints and the report"
    )
    parser.add_argument("--store", type=Path, help="model store folder (default: the user data folder)")
    parser.add_argument(
        "--base", help="the version to update (default: the file's base, else the active one)"
    )
    parser.add_argument("--activate", action="store_true", help="make the new version the active one")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted update from its last checkpoint in OUT"
    )


def run(args: argparse.Namespace) -> int:
    """Learn the update file's task on its base version, commit the candidate, print before and after."""
    from cffd_engine.continual import BaseModel, learn_task, update_settings
    from cffd_engine.continual.buffer import stored_genuine_faces
    from cffd_engine.learning import REPORT_FILE
    from cffd_engine.store import ModelStore
    from cffd_engine.store.bundle import REPLAY_DIR
    from cffd_engine.training import WORK_DIR

    plan = read_update_plan(args.config)
    settings = update_settings(plan.continual)
    work = args.out / WORK_DIR
    with launched_run(settings.train.device, work, args.resume, f"learn {plan.name}") as (world, job):
        store = ModelStore(args.store)
        base = BaseModel.from_store(store, args.base or plan.base)
        task = plan.task_data(base.model.config.input_size)
        if world.is_main and not task.samples.counts()["real"]:
            kept = stored_genuine_faces(store.path(base.manifest.version) / REPLAY_DIR)
            print(
                f"no genuine examples: the {kept} genuine faces {base.manifest.version} keeps in memory stand in"
            )
        candidate = learn_task(store, task, settings, base, job, work)
        version = candidate.accept(activate=args.activate)
        if not world.is_main:
            return 0
        shutil.rmtree(work, ignore_errors=True)
        report = {"version": version, "store": str(store.root), "processes": world.size}
        report.update(candidate.report.to_dict())
        atomic_write_json(args.out / REPORT_FILE, report)
        r = candidate.report
        print(
            f"\n{version}: learned '{plan.name}' on top of {base.manifest.version} ({r.seconds / 60:.1f} min)"
        )
        for index, name in enumerate(r.task_names):
            before, after = r.accuracy_before[index], r.accuracy_after[index]
            shown = "  new " if before is None else f"{before:6.3f}"
            kept = r.accuracy_at_earlier_threshold[index]
            earlier = (
                "" if kept is None else f" ({kept:.3f} at the earlier threshold {r.threshold_before:.2f})"
            )
            print(f"  {name:<16} validation accuracy {shown} -> {after:.3f}{earlier}")
        print(
            f"report: {args.out / REPORT_FILE}"
            + ("" if args.activate else f"; activate with `cffd models activate {version}`")
        )
    return 0
