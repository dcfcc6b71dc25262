"""Leave one family out: train on three synthetic families, test on the fourth (and on the three).

    .venv/bin/python scripts/leave_one_family_out.py --sequence WORK/data --recipe resources/default-model.toml \
        --photos 300 --epochs 2 --out lofo.json

SEQUENCE is a built task sequence (the `data` folder `cffd train` leaves under its --out). Each
run trains the recipe's preset and settings (epochs and photos per family as given) jointly on
three families, calibrated as every candidate is, and reports per family the test AUC and the
share caught at the fitted threshold, with the false-alarm rate on all genuine test faces. The
held-out family's AUC is how well what the model learned carries over to a manipulation it never saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from cffd_engine.continual import ContinualSettings, TaskData, train_first_task
from cffd_engine.continual.protocols import load_synthetic_sequence
from cffd_engine.model import preset
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import ModelStore
from cffd_engine.training import Recipe, test_figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequence", type=Path, required=True)
    parser.add_argument("--recipe", type=Path, default=Path("resources/default-model.toml"))
    parser.add_argument("--photos", type=int, default=300, help="training photos per family (each a pair)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("lofo.json"))
    args = parser.parse_args(argv)

    recipe = Recipe.load(args.recipe)
    config = preset(recipe.preset, **recipe.model_overrides)
    settings = ContinualSettings.from_dict(recipe.continual)
    settings = replace(settings, train=replace(settings.train, epochs=args.epochs))
    tasks = load_synthetic_sequence(args.sequence, config.input_size)
    rows = []
    for left_out in tasks:
        trained_on = [task for task in tasks if task is not left_out]
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as folder, cpu_threads(settings.train.threads):
            candidate = train_first_task(
                ModelStore(folder),
                [
                    TaskData(
                        task.name, task.train.subset(range(min(2 * args.photos, len(task.train)))), task.val
                    )
                    for task in trained_on
                ],
                config,
                settings,
            )
            test, decision = test_figures(candidate.trained.model, candidate.manifest.decision, tasks)
        rows.append({
            "left_out": left_out.name, "trained_on": [task.name for task in trained_on],
            "threshold": decision["threshold"], "false_alarm_rate": decision["false_alarm_rate"],
            "auc": {name: figures["auc"] for name, figures in test.items()},
            "caught": decision["detection_rate"], "minutes": round((time.monotonic() - started) / 60, 1),
        })  # fmt: skip
        row = rows[-1]
        print(
            f"left out {row['left_out']}: its AUC {row['auc'][row['left_out']]:.3f}, caught "
            f"{row['caught'][row['left_out']]:.2f}; trained families' AUC "
            + ", ".join(f"{n} {row['auc'][n]:.3f}" for n in row["trained_on"])
            + f"; false alarms {row['false_alarm_rate']:.3f} at {row['threshold']:.2f} ({row['minutes']} min)",
            flush=True,
        )
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
