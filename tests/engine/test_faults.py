"""Faults: a disk that fills while reports, replay buffers and model versions are written; a process
killed during a continual update; a model store on a read-only disk.

Afterwards what was there before must be whole and byte-identical, the store must verify with
the same active version, no half-written file may sit where a reader would take it for a real
one, and the error must say what happened and name the file or folder.

The full disk is simulated twice. RLIMIT_FSIZE in a child process (a write past the limit fails
with EFBIG, "File too large", once SIGXFSZ is ignored) runs everywhere; a small tmpfs (ENOSPC,
"No space left on device") needs mount rights and is skipped, with the reason, where they are
refused. A read-only store is a read-only bind mount (root ignores file permissions), likewise.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cffd_engine.analysis import AnalysisSettings, Analyzer, load_analysis_model
from cffd_engine.cli.analyze import main as analyze_main
from cffd_engine.continual import ReplayBuffer, TaskData, learn_task, train_first_task
from cffd_engine.errors import CFFDError
from cffd_engine.model import RSIANet
from cffd_engine.model.device import cpu_threads
from cffd_engine.report import CaseInfo, write_report
from cffd_engine.store import BundleManifest, ModelStore, write_bundle
from cffd_engine.store.bundle import REPLAY_DIR
from tests import synthetic_media as sm
from tests.engine.continual_fixtures import make_task, tiny_config
from tests.engine.full_disk_child import update_settings
from tests.mounts import leave_free, read_only, small_disk

REPO = Path(__file__).resolve().parents[2]
FILE_TOO_LARGE = "File too large"
NO_SPACE = "No space left on device"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative name) with its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def half_written(folder: Path) -> list[Path]:
    """Temporary files of an atomic write, and bundles left in the store's staging area."""
    parts = list(folder.rglob("*.part"))
    return parts + list(folder.rglob("staging/*"))


def assert_store_as_before(root: Path, before: dict[str, str], active: str = "v1") -> None:
    store = ModelStore(root)
    assert snapshot(root) == before
    assert store.active_version() == active
    for version in store.versions():
        store.verify(version)
    assert all(row.problem is None for row in store.list())
    assert half_written(root) == []


@pytest.fixture(scope="module")
def store_template(tmp_path_factory) -> Path:
    """A store whose active v1 is a tiny RSIA-Net that learned one task, and a v2 made from it."""
    root = tmp_path_factory.mktemp("store-template")
    store = ModelStore(root)
    torch.manual_seed(0)
    with cpu_threads(1):
        train_first_task(
            store, TaskData("checker", make_task("checker", 48)), tiny_config(), update_settings()
        ).accept()
    model, manifest = store.load("v1")
    store.add(
        lambda staging: write_bundle(
            staging, model, BundleManifest(model_config=manifest.model_config, parent_version="v1")
        )
    )
    return root


def learn_stripes(store: ModelStore, name: str = "stripes"):
    """A continual update of ``store``'s active version with a new forgery (stripe patches)."""
    return learn_task(store, TaskData(name, make_task("stripes", 48, "stripes")), update_settings())


def copy_store(template: Path, root: Path) -> ModelStore:
    shutil.copytree(template, root)
    return ModelStore(root)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> SimpleNamespace:
    """A short real-face clip analysed by an untrained tiny model: results to write reports of."""
    folder = tmp_path_factory.mktemp("evidence")
    clip = sm.write_video(folder / "clip.mp4", sm.drifting_portrait_frames(8))
    torch.manual_seed(0)
    network = RSIANet(tiny_config())
    bundle = folder / "bundle"
    write_bundle(bundle, network, BundleManifest(model_config=network.config.to_dict()))
    model, info = load_analysis_model(str(bundle))
    with Analyzer(AnalysisSettings(cpu_threads=1), model, info) as analyzer:
        results = [analyzer.analyze(clip)]
    assert results[0].analysed
    return SimpleNamespace(clip=clip, bundle=bundle, results=results)


# A full disk, simulated with RLIMIT_FSIZE in a child process: runs everywhere -------------------


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory, store_template, analysed) -> SimpleNamespace:
    """Every full-disk step run in one child process (one import of torch); what was there before."""
    root = tmp_path_factory.mktemp("full-disk")
    report = root / "report"
    write_report(analysed.results, report / "case.pdf", report / "case.json", CaseInfo(case_id="K-1"))
    (root / "results.pickle").write_bytes(pickle.dumps(analysed.results))
    shutil.copytree(store_template / "versions" / "v1" / REPLAY_DIR, root / "buffer")
    stores = {name: copy_store(store_template, root / name).root for name in STORE_STEPS}
    ModelStore(store_template).export("v1", root / "v1.cffd")
    shutil.copytree(store_template / "versions" / "v1", root / "v1-folder")
    report_files = dict(
        results=str(root / "results.pickle"), pdf=str(report / "case.pdf"), json=str(report / "case.json")
    )
    buffer = dict(source=str(root / "buffer"), target=str(root / "buffer"), keep=10)
    steps = [
        # The JSON (about 50 KB) fits, the PDF (about 1 MB) does not; then not even the JSON.
        step("report-pdf", "report", 200_000, case_id="K-2", **report_files),
        step("report-json", "report", 10_000, case_id="K-3", **report_files),
        step("buffer", "buffer", 8_000, **buffer),
        step("learn", "learn", 100_000, store=str(stores["learn"])),
        step("accept", "accept", 1_000, store=str(stores["accept"])),
        step("add", "add", 100_000, store=str(stores["add"])),
        step(
            "import-cffd", "import", 100_000, store=str(stores["import-cffd"]), source=str(root / "v1.cffd")
        ),
        step(
            "import-folder",
            "import",
            100_000,
            store=str(stores["import-folder"]),
            source=str(root / "v1-folder"),
        ),
        step("activate", "activate", 10, store=str(stores["activate"]), version="v2"),
    ]
    (root / "steps.json").write_text(json.dumps(steps))
    before = {"report": snapshot(report), "buffer": snapshot(root / "buffer")}
    before |= {name: snapshot(path) for name, path in stores.items()}
    command = ["-m", "tests.engine.full_disk_child", str(root / "steps.json"), str(root / "out.json")]
    child = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(root)},  # the checkpoints of the update go here, to be looked at
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    outcomes = json.loads((root / "out.json").read_text())
    return SimpleNamespace(root=root, report=report, stores=stores, before=before, outcomes=outcomes)


STORE_STEPS = ("learn", "accept", "add", "import-cffd", "import-folder", "activate")


def step(name: str, op: str, limit: int, **arguments) -> dict:
    """One step for ``full_disk_child``: ``op`` with writes limited to ``limit`` bytes a file."""
    return {"name": name, "op": op, "limit": limit, **arguments}


def failed(outcome: dict, reason: str, *names: str | Path) -> str:
    """The step failed, saying ``reason`` and naming every one of ``names``; its message."""
    assert not outcome["ok"], "the write did not fail: the limit is too high for this step"
    message = outcome["message"]
    assert reason in message, message
    for name in names:
        assert str(name) in message, f"{name} is not named in: {message}"
    return message


@pytest.mark.parametrize("step, named", [("report-pdf", "case.pdf"), ("report-json", "case.json")])
def test_a_report_that_does_not_fit_leaves_the_earlier_report_whole(full_disk, step, named):
    failed(full_disk.outcomes[step], FILE_TOO_LARGE, full_disk.report / named)
    # Neither a new JSON beside the old PDF (whose printed SHA-256 it would no longer match) nor the reverse.
    assert snapshot(full_disk.report) == full_disk.before["report"]
    assert half_written(full_disk.report) == []


def test_a_replay_buffer_that_does_not_fit_leaves_the_earlier_buffer_whole(full_disk, store_template):
    failed(full_disk.outcomes["buffer"], FILE_TOO_LARGE, full_disk.root / "buffer" / "samples.safetensors")
    assert snapshot(full_disk.root / "buffer") == full_disk.before["buffer"]
    assert half_written(full_disk.root / "buffer") == []
    kept = ReplayBuffer.load(full_disk.root / "buffer")
    assert kept.counts() == ReplayBuffer.load(store_template / "versions" / "v1" / REPLAY_DIR).counts()


@pytest.mark.parametrize("step", STORE_STEPS)
def test_a_model_version_that_does_not_fit_leaves_the_store_as_it_was(full_disk, step):
    message = failed(full_disk.outcomes[step], FILE_TOO_LARGE)
    assert re.search(r"/\S+\.(safetensors|json)\b", message), f"no file named in: {message}"
    assert_store_as_before(full_disk.stores[step], full_disk.before[step])
    assert list(full_disk.root.glob("cffd-train-*")) == []  # the update's checkpoints went with it


def test_store_errors_on_a_full_disk_are_ones_the_user_is_shown(full_disk):
    """The window and ``cffd`` show a CFFDError as it is; anything else is an "unexpected error"."""
    for step in ("add", "import-cffd", "import-folder", "accept", "activate"):
        assert "CFFDError" in full_disk.outcomes[step]["classes"], (step, full_disk.outcomes[step])
    assert str(full_disk.stores["activate"] / "active.json") in full_disk.outcomes["activate"]["message"]


# A full disk, for real: a small tmpfs (needs mount rights) ----------------------------------


def test_a_small_disk_that_fills_up(tmp_path, store_template, analysed, capsys):
    with small_disk(tmp_path / "disk", "6m") as disk:
        store = copy_store(store_template, disk / "models")
        report = disk / "report"
        write_report(analysed.results, report / "case.pdf", report / "case.json", CaseInfo(case_id="K-1"))
        shutil.copytree(store_template / "versions" / "v1" / REPLAY_DIR, disk / "buffer")
        before = {name: snapshot(disk / name) for name in ("models", "report", "buffer")}

        leave_free(disk, 150_000)  # the JSON twin fits, the PDF does not
        with pytest.raises(OSError, match=NO_SPACE) as caught:
            write_report(analysed.results, report / "case.pdf", report / "case.json", CaseInfo(case_id="K-2"))
        assert str(report / "case.pdf") in str(caught.value)
        argv = [str(analysed.clip), "--model", str(analysed.bundle), "--report", str(report / "case.pdf")]
        assert analyze_main([*argv, "--threads", "1", "--quiet"]) == 2
        error = capsys.readouterr().err
        assert "the report cannot be written" in error and NO_SPACE in error and "case.pdf" in error
        assert snapshot(report) == before["report"]

        leave_free(disk, 8_000)
        kept = ReplayBuffer.load(disk / "buffer")
        kept.shrink(10)
        with pytest.raises(OSError, match=NO_SPACE) as caught:
            kept.save(disk / "buffer")
        assert str(disk / "buffer" / "samples.safetensors") in str(caught.value)
        assert snapshot(disk / "buffer") == before["buffer"]

        with cpu_threads(1), pytest.raises(OSError, match=NO_SPACE) as caught:
            learn_stripes(store)  # its checkpoints fit: they go to the temporary folder, on another disk
        assert str(store.staging_dir) in str(caught.value)
        with pytest.raises(CFFDError, match=NO_SPACE) as caught:
            store.import_bundle(ModelStore(store_template).export("v1", tmp_path / "v1.cffd"))
        assert str(store.root) in str(caught.value)

        leave_free(disk, 0)
        with pytest.raises(CFFDError, match=NO_SPACE) as caught:
            store.activate("v2")
        assert str(store.pointer) in str(caught.value)

        (disk / ".filler").unlink()
        assert_store_as_before(store.root, before["models"])
        assert half_written(disk) == []
        with cpu_threads(1):  # with room again, the same update goes through
            candidate = learn_stripes(store)
        assert candidate.accept(activate=False) == "v3" and store.active_version() == "v1"


# The process killed during a continual update ----------------------------------------------

UPDATER = textwrap.dedent(
    """
    import sys, torch
    from cffd_engine.continual import TaskData
    from cffd_engine.continual.session import learn_task
    from cffd_engine.model.device import cpu_threads
    from cffd_engine.store import ModelStore
    from tests.engine.continual_fixtures import make_task
    from tests.engine.full_disk_child import update_settings

    store = ModelStore(sys.argv[1])
    torch.manual_seed(0)
    print("ready", flush=True)
    with cpu_threads(1):
        for number in range(1000):  # update after update, each kept as a version, never activated
            task = TaskData(f"stripes-{sys.argv[2]}-{number}", make_task("stripes", 48, "stripes"))
            learn_task(store, task, update_settings()).accept(activate=False)
    """
)


@pytest.mark.parametrize(
    "kills", [pytest.param(1, id="1-kill"), pytest.param(8, id="8-kills", marks=pytest.mark.slow)]
)
def test_killing_a_continual_update_at_random_moments_leaves_the_store_usable(
    kills, tmp_path, store_template
):
    """test_store.py kills a plain writer; here the kill lands in training, staging or commit."""
    store = copy_store(store_template, tmp_path / "models")
    rng = random.Random(12)
    seen = []
    for kill in range(kills):
        updater = subprocess.Popen(
            [sys.executable, "-c", UPDATER, str(store.root), str(kill)],
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert updater.stdout.readline().strip() == "ready"
        subprocess.run(["sleep", f"{rng.uniform(0.05, 2.5):.3f}"], check=True)
        updater.send_signal(signal.SIGKILL)
        updater.wait()
        reopened = ModelStore(store.root)
        assert reopened.active_version() == "v1"
        for version in reopened.versions():
            manifest = reopened.verify(version)  # every committed version is complete
            assert manifest.parent_version in (None, "v1")
        assert all(row.problem is None for row in reopened.list())
        leftovers = list(reopened.staging_dir.iterdir())
        assert all(p.name.endswith(".partial") for p in leftovers)  # debris, never listed as a version
        seen.append((len(reopened.versions()), len(leftovers)))
        reopened.clean_staging()
    # A kill in training also leaves the update's checkpoint folder in the temporary folder (not the store).
    checkpoints = sorted(p.name for p in tmp_path.glob("cffd-train-*"))
    print(
        f"versions and staging leftovers after each kill: {seen}; checkpoints left in TMPDIR: {checkpoints}"
    )

    before = len(store.versions())
    with cpu_threads(1):
        candidate = learn_stripes(store, "stripes-again")
    version = candidate.accept()
    assert store.active_version() == version == store.versions()[-1]
    assert len(store.versions()) == before + 1 and store.verify(version).parent_version == "v1"


# The store on a read-only disk -------------------------------------------------------------


def test_a_read_only_store_refuses_changes_naming_its_folder_and_loses_nothing(tmp_path, store_template):
    store = copy_store(store_template, tmp_path / "models")
    archive = ModelStore(store_template).export("v1", tmp_path / "v1.cffd")
    before = snapshot(store.root)
    with read_only(store.root):
        reopened = ModelStore(store.root)
        attempts = {
            "activate": lambda: reopened.activate("v2"),
            "import": lambda: reopened.import_bundle(archive),
            "learn": lambda: learn_stripes(reopened),
        }
        for name, attempt in attempts.items():
            with cpu_threads(1), pytest.raises(CFFDError) as caught:
                attempt()
            message = str(caught.value)
            assert str(store.root) in message and "nothing was changed" in message, name
            assert "read-only" in message and "remount it read-write" in message, name
        assert reopened.load()[1].version == "v1"  # analysing goes on
    assert_store_as_before(store.root, before)
