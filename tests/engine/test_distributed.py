"""`cffd learn` as one process, under torchrun with two processes (gloo on the CPU), and resumed after a kill."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cffd_engine import cli
from cffd_engine.continual import ContinualSettings, StrategyConfig, TaskData, TrainSettings, train_first_task
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import ModelStore, load_model
from tests.engine.continual_fixtures import make_task, tiny_config

ROOT = Path(__file__).resolve().parents[2]

UPDATE = """
name = "stripes"
description = "stripes pasted on textures"

[examples]
folder = "crops"

[continual]
replay_budget = 16
validation_size = 16

[continual.strategy]
name = "cffd"
hscl_projection_dim = 8

[continual.train]
epochs = {epochs}
batch_size = 16
learning_rate = 0.003
threads = 1
device = "cpu"
"""


def _write_crops(folder: Path, count: int) -> None:
    samples = make_task("stripes", count, "stripes", seed=5)
    for index, (image, label) in enumerate(zip(samples.images, samples.labels.tolist(), strict=True)):
        target = folder / ("fake" if label else "real") / f"{index:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(target)


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A store whose active v1 learned 'checker' patches, with its replay buffer."""
    root = tmp_path_factory.mktemp("base") / "store"
    settings = ContinualSettings(
        StrategyConfig(name="cffd", hscl_projection_dim=8),
        TrainSettings(device="cpu", epochs=4, batch_size=16, learning_rate=3e-3, threads=1),
        replay_budget=16,
        validation_size=16,
    )
    torch.manual_seed(0)
    with cpu_threads(1):
        train_first_task(
            ModelStore(root), TaskData("checker", make_task("checker", 128)), tiny_config(), settings
        ).accept()
    return root


def _update(tmp_path: Path, base_store: Path, name: str, epochs: int, count: int) -> tuple[Path, Path]:
    """(update file, a copy of the base store) under ``tmp_path/name``."""
    folder = tmp_path / name
    _write_crops(folder / "crops", count)
    config = folder / "update.toml"
    config.write_text(UPDATE.format(epochs=epochs), encoding="utf-8")
    store = folder / "store"
    shutil.copytree(base_store, store)
    return config, store


def _cffd(*args: str, nproc: int = 1, **popen) -> subprocess.Popen:
    launcher = [sys.executable, "-m", "cffd_engine.cli"]
    if nproc > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        launcher += [f"--nproc_per_node={nproc}", "-m", "cffd_engine.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*launcher, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def test_two_processes_under_torchrun_train_like_one(tmp_path, base_store):
    config, single_store = _update(tmp_path, base_store, "single", epochs=3, count=128)
    _, ddp_store = _update(tmp_path, base_store, "ddp", epochs=3, count=128)
    single = _cffd(
        "learn", "--config", str(config), "--out", str(tmp_path / "out1"), "--store", str(single_store)
    )
    code, log = _finish(single)
    assert code == 0, log
    ddp = _cffd(
        "learn", "--config", str(config), "--out", str(tmp_path / "out2"), "--store", str(ddp_store), nproc=2
    )
    code, log = _finish(ddp)
    assert code == 0, log

    ranks = re.findall(
        r"rank (\d) of 2: trained 'stripes' on (\d+) of (\d+) samples per epoch, weights sha256 ([0-9a-f]{64})",
        log,
    )
    assert sorted(rank for rank, *_ in ranks) == ["0", "1"], log  # both ranks ran
    shares = [int(share) for _, share, _, _ in ranks]
    total = int(ranks[0][2])
    assert all(0 < share < total for share in shares) and sum(shares) <= total  # each its own slice
    assert len({digest for *_, digest in ranks}) == 1  # and they ended with identical parameters

    single_manifest = ModelStore(single_store).verify("v2")
    ddp_manifest = ModelStore(ddp_store).verify("v2")  # the bundle rank 0 wrote verifies and loads
    model = load_model(ModelStore(ddp_store).path("v2"))
    assert model.config == load_model(ModelStore(single_store).path("v2")).config
    assert (
        ddp_manifest.metrics["task_names"] == single_manifest.metrics["task_names"] == ["checker", "stripes"]
    )
    assert (
        ddp_manifest.metrics["updates"][-1]["train_samples"]
        == single_manifest.metrics["updates"][-1]["train_samples"]
    )
    # Same global batches and seed; batch norm sees half batches per process, so close, not equal.
    ddp_row, single_row = ddp_manifest.metrics["accuracy"][-1], single_manifest.metrics["accuracy"][-1]
    print("accuracy single", single_manifest.metrics["accuracy"], "ddp", ddp_manifest.metrics["accuracy"])
    assert np.allclose(ddp_row, single_row, atol=0.13), (ddp_row, single_row)
    assert min(ddp_row) >= 0.75  # both tasks learned, not a tie at chance
    ddp_loss = ddp_manifest.metrics["updates"][-1]["final_losses"]["total"]
    single_loss = single_manifest.metrics["updates"][-1]["final_losses"]["total"]
    print("final loss single", single_loss, "ddp", ddp_loss)
    assert abs(ddp_loss - single_loss) < 0.25 * abs(single_loss), (ddp_loss, single_loss)
    # Only rank 0 wrote: one new version, one report, no leftover staging or checkpoints.
    assert [row.version for row in ModelStore(ddp_store).list()] == ["v1", "v2"]
    assert (tmp_path / "out2" / "update_report.json").is_file()
    assert not (tmp_path / "out2" / "work").exists()


def test_a_killed_update_resumes_from_its_checkpoint(tmp_path, base_store):
    config, store = _update(tmp_path, base_store, "killed", epochs=3, count=320)
    out = tmp_path / "out"
    args = ("learn", "--config", str(config), "--out", str(out), "--store", str(store))
    process = _cffd(*args, start_new_session=True)
    checkpoint = out / "work" / "checkpoint" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while not checkpoint.exists():
        assert process.poll() is None, f"the run ended before its first checkpoint: {_finish(process)[1]}"
        assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert [row.version for row in ModelStore(store).list()] == ["v1"]  # nothing committed

    assert cli.main(list(args)) == 2  # a checkpoint is there: restarting silently is refused
    assert cli.main([*args, "--resume"]) == 0
    report = (out / "update_report.json").read_text()
    resumed_from = int(re.search(r'"resumed_from_epoch": (\d+)', report).group(1))
    assert 1 <= resumed_from < 3

    fresh_config, fresh_store = _update(tmp_path, base_store, "fresh", epochs=3, count=320)
    assert (
        cli.main(
            [
                "learn",
                "--config",
                str(fresh_config),
                "--out",
                str(tmp_path / "fresh-out"),
                "--store",
                str(fresh_store),
            ]
        )
        == 0
    )
    # On the CPU with the same seed and threads, resuming ends with exactly the uninterrupted weights.
    resumed = (ModelStore(store).path("v2") / "weights.safetensors").read_bytes()
    uninterrupted = (ModelStore(fresh_store).path("v2") / "weights.safetensors").read_bytes()
    assert resumed == uninterrupted
    assert cli.main([*args, "--resume"]) == 2  # nothing left to resume


@pytest.mark.data
def test_a_sequence_trains_under_torchrun(tmp_path, shared_data):
    from tests.engine.test_training import TINY_RECIPE

    recipe = tmp_path / "tiny.toml"
    text = TINY_RECIPE.format(faces=shared_data / "faces" / "utkface").replace(
        'mode = "joint"', 'mode = "sequence"'
    )
    recipe.write_text(text.replace('name = "ft"', 'name = "cffd"\nhscl_projection_dim = 8'), encoding="utf-8")
    out = tmp_path / "out"
    code, log = _finish(_cffd("train", "--config", str(recipe), "--out", str(out), nproc=2))
    assert code == 0, log
    # Four tasks one after another; each time both ranks trained their slice and agreed.
    for family in ("blend", "swap", "reenact", "texture"):
        agreed = re.findall(
            rf"rank (\d) of 2: trained '{family}' on \d+ of \d+ samples per epoch, weights sha256 ([0-9a-f]{{64}})",
            log,
        )
        assert sorted(rank for rank, _ in agreed) == ["0", "1"] and len({d for _, d in agreed}) == 1, log
    report = json.loads((out / "training_report.json").read_text())
    assert report["processes"] == 2 and sorted(report["test"]) == ["blend", "reenact", "swap", "texture"]
    store = ModelStore(out / "store")
    assert [row.version for row in store.list()] == ["v1"]  # the intermediate candidates were discarded
    assert len(store.verify("v1").metrics["accuracy"]) == 4  # one row per task learned
    assert not (out / "work").exists() and not any((out / "store").glob("staging/*"))
