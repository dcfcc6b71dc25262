"""The window's tests: a tiny learnable model in a store of the test's own, settings and review queue apart."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings

from app.workers import wait_for_all
from cffd_engine.analysis import AnalysisSettings
from cffd_engine.analysis.review_queue import ReviewQueue
from cffd_engine.continual import ContinualSettings, StrategyConfig, TaskData, TrainSettings, train_first_task
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import ModelStore
from tests import synthetic_media as sm
from tests.engine.continual_fixtures import make_task, tiny_config


def tiny_settings(epochs: int = 1) -> ContinualSettings:
    """One pass, small batches and buffer: an update of a few dozen faces takes seconds on one core."""
    return ContinualSettings(
        StrategyConfig(name="cffd", hscl_projection_dim=8, fisher_samples=4),
        TrainSettings(device="cpu", epochs=epochs, batch_size=16),
        replay_budget=24,
        validation_size=12,
    )


@pytest.fixture(autouse=True)
def workers_finish_before_the_next_test():
    """Work a closed window cancelled must end here, not run into the next test."""
    yield
    assert wait_for_all(60_000), "a worker did not stop within a minute of its window closing"


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """A store whose active v1 is a tiny RSIA-Net that learned one task (so it can learn another)."""
    root = tmp_path_factory.mktemp("store-template")
    torch.manual_seed(0)
    with cpu_threads(1):
        candidate = train_first_task(
            ModelStore(root),
            TaskData("checker", make_task("checker", 48), description="checker patches on textures"),
            tiny_config(),
            tiny_settings(),
            description="A tiny test detector.",
            limits=["Trained on checker patches only, never on faces."],
        )
    candidate.accept()
    return root


@pytest.fixture
def store(store_template, tmp_path) -> ModelStore:
    root = tmp_path / "models"
    shutil.copytree(store_template, root)
    return ModelStore(root)


@pytest.fixture
def empty_store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "empty-models")


@pytest.fixture
def settings_file(tmp_path) -> Path:
    return tmp_path / "settings.ini"


def window_settings(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path, settings_file):
    """Builds the real window over a given store, with this test's settings file, review queue and case."""
    from app.main_window import MainWindow

    def make(store: ModelStore, **overrides) -> MainWindow:
        options = dict(
            store=store,
            settings=window_settings(settings_file),
            review_queue=ReviewQueue(tmp_path / "review"),
            analysis_settings=AnalysisSettings(cpu_threads=1),
            continual_settings=tiny_settings(),
            demo_dir=tmp_path / "demo",
            case=tmp_path / "case",
        )
        window = MainWindow(**{**options, **overrides})
        qtbot.addWidget(window)
        window.show()
        return window

    return make


@pytest.fixture
def window(make_window, store):
    return make_window(store)


@pytest.fixture(scope="session")
def faceless_video(tmp_path_factory) -> Path:
    """Eight frames of a grey wall with a gradient: nothing to judge."""
    frames = [np.full((240, 320, 3), 60 + 10 * i, np.uint8) for i in range(8)]
    return sm.write_video(tmp_path_factory.mktemp("faceless") / "wall.mp4", frames)


def give_review(window, decision: str, finding: str | None = None, note: str = "", keep_faces: bool = True):
    """Review the shown result as an analyst does: open the dialog, choose, name, note, save."""
    dialog = window.open_review_dialog()
    dialog.choose(decision, finding)
    dialog.reviewer.setText("A. Examiner")
    dialog.note.setPlainText(note)
    dialog.keep_faces.setChecked(keep_faces)
    dialog.save_button.click()
    return dialog
