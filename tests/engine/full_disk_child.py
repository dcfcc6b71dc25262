"""Writes that run out of room, in a process of their own: ``python -m tests.engine.full_disk_child STEPS OUT``.

STEPS is a JSON list of steps ``{"name", "op", "limit", ...}``; each runs with RLIMIT_FSIZE
lowered to ``limit`` bytes (and SIGXFSZ ignored, so a write past it fails with EFBIG, "File
too large", as on a full disk), then the limit goes back up. OUT receives, per step name,
how it ended: ``{"ok"}`` or the exception's type, classes and message. The test process
itself never lowers its own limit: its capture files and logs would fail with the writes.
"""

from __future__ import annotations

import json
import pickle
import resource
import signal
import sys
from pathlib import Path

import torch

from cffd_engine.continual import (
    ContinualSettings,
    ReplayBuffer,
    StrategyConfig,
    TaskData,
    TrainSettings,
    learn_task,
)
from cffd_engine.model.device import cpu_threads
from cffd_engine.report import CaseInfo, write_report
from cffd_engine.store import BundleManifest, ModelStore, write_bundle
from tests.engine.continual_fixtures import make_task


def update_settings() -> ContinualSettings:
    return ContinualSettings(
        StrategyConfig(name="cffd", hscl_projection_dim=8, fisher_samples=4),
        TrainSettings(device="cpu", epochs=1, batch_size=16),
        replay_budget=24,
        validation_size=12,
    )


def new_task() -> TaskData:
    return TaskData("stripes", make_task("stripes", 48, "stripes"), description="stripe patches")


def report(step: dict) -> object:
    results = pickle.loads(Path(step["results"]).read_bytes())
    case = CaseInfo(case_id=step["case_id"])  # a report whose bytes differ from the one already there
    return lambda: write_report(results, step["pdf"], step["json"], case)


def buffer(step: dict) -> object:
    kept = ReplayBuffer.load(step["source"])
    kept.shrink(step["keep"])  # different bytes from the buffer already there
    return lambda: kept.save(step["target"])


def learn(step: dict) -> object:
    return lambda: learn_task(ModelStore(step["store"]), new_task(), update_settings())


def accept(step: dict) -> object:
    candidate = learn_task(ModelStore(step["store"]), new_task(), update_settings())  # room enough here
    return candidate.accept


def add(step: dict) -> object:
    store = ModelStore(step["store"])
    model, manifest = store.load()
    fresh = BundleManifest(model_config=manifest.model_config, parent_version=manifest.version)
    return lambda: store.add(lambda staging: write_bundle(staging, model, fresh))


def import_bundle(step: dict) -> object:
    return lambda: ModelStore(step["store"]).import_bundle(step["source"])


def activate(step: dict) -> object:
    return lambda: ModelStore(step["store"]).activate(step["version"])


OPERATIONS = {
    "report": report,
    "buffer": buffer,
    "learn": learn,
    "accept": accept,
    "add": add,
    "import": import_bundle,
    "activate": activate,
}


def run(step: dict) -> dict:
    operation = OPERATIONS[step["op"]](step)  # set up with room to spare
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (step["limit"], hard))
    try:
        operation()
    except Exception as exc:
        return {
            "ok": False,
            "type": type(exc).__name__,
            "classes": [cls.__name__ for cls in type(exc).__mro__],
            "message": str(exc),
        }
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    return {"ok": True}


def main(steps_path: str, out_path: str) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    torch.manual_seed(0)
    outcomes = {}
    with cpu_threads(1):
        for step in json.loads(Path(steps_path).read_text()):
            outcomes[step["name"]] = run(step)
    Path(out_path).write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
