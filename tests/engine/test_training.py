"""`cffd train`: recipes, joint first training over several tasks, and rebuilding left-out training faces."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import pytest
import torch

from cffd_engine import cli
from cffd_engine.analysis.spectrum import load_reference_spectrum
from cffd_engine.config import ConfigError
from cffd_engine.continual import (
    BaseModel,
    ContinualSettings,
    StrategyConfig,
    TaskData,
    TrainSettings,
    learn_task,
    train_first_task,
)
from cffd_engine.errors import CFFDError
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import ModelStore
from cffd_engine.training import Recipe, restore_training_faces, train
from tests import synthetic_media as sm
from tests.engine.continual_fixtures import make_task, tiny_config, tiny_model_toml

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "resources" / "default-model.toml"

TINY_RECIPE = (
    """
name = "tiny"
mode = "joint"
description = "a tiny test model"
limits = ["made by a test"]

[data]
faces = "{faces}"
per_task = 10
seed = 3
workers = 1

"""
    + tiny_model_toml().replace("{", "{{").replace("}", "}}")
    + """
[continual]
replay_budget = 16

[continual.strategy]
name = "ft"

[continual.train]
epochs = 1
batch_size = 8
threads = 1
device = "cpu"
"""
)


def test_the_default_recipe_reads_and_names_the_four_families():
    recipe = Recipe.load(DEFAULT_RECIPE)
    assert recipe.mode == "joint" and recipe.preset == "lite0" and recipe.build["video_like"] is True
    assert recipe.build["methods"] == ["blend", "swap", "reenact", "texture"]
    assert any("not validated on real deepfake" in limit for limit in recipe.limits)
    assert ContinualSettings.from_dict(recipe.continual).train.threads == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A wrong key, a wrong type, an unknown value: the key and what is allowed instead.
        (
            'name = "x"\ncolour = "red"\n',
            "colour: unknown key (allowed: continual, data, description, limits, ",
        ),
        ("[data]\nper_tusk = 3\n", "[data] per_tusk: unknown key (allowed: cache_dir, crop_scale, methods, "),
        ("[model]\nwidht = 3\n", "[model] widht: unknown key (allowed: band_edges, block_size, "),
        ("mode = 1\n", "mode: 1 is not of the right type (allowed: str)"),
        ('[model]\ninput_size = "96"\n', "[model] input_size: '96' is not of the right type (allowed: int)"),
        ('limits = "one"\n', "limits: 'one' is not of the right type (allowed: a list)"),
        ('mode = "both"\n', "mode: 'both' is not one of these (allowed: joint, sequence)"),
        ('[model]\npreset = "huge"\n', "[model] preset: 'huge' is not one of these (allowed: lite, lite0, "),
        (
            '[model]\nsfia_mode = "x"\n',
            "[model] sfia_mode: 'x' is not one of these (allowed: cross, channel)",
        ),
        ('[continual.train]\noptimizer = "sgd"\n', "[continual.train] optimizer: 'sgd' is not one of these"),
        ("[continual.train]\nepochs = 0\n", "[continual.train] epochs: epochs and batch_size must be >= 1"),
        (
            '[data]\nmethods = ["nosuch"]\n',
            "[data] methods: unknown forgery family 'nosuch'; choose from blend",
        ),
        ("name = \n", "not a training recipe in TOML"),
    ],
)
def test_a_bad_recipe_is_refused_naming_the_file_the_key_and_what_is_allowed(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Recipe.load(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_a_recorded_recipe_is_named_where_it_was_recorded():
    with pytest.raises(ConfigError, match=r"^the recipe recorded in v3: mode: 'both' is not one of these"):
        Recipe.from_text('mode = "both"\n', "the recipe recorded in v3")


def test_training_without_the_photos_says_so_and_writes_nothing(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(TINY_RECIPE.format(faces=tmp_path / "no-photos"), encoding="utf-8")
    out = tmp_path / "work"
    code = cli.main(["train", "--config", str(recipe), "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err
    assert "not on this machine" in error and "CFFD_SHARED_DATA" in error and "no-photos" in error
    assert not out.exists()


def test_an_unwritable_work_folder_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    try:
        code = cli.main(["train", "--config", str(DEFAULT_RECIPE), "--out", str(blocker / "work")])
    except SystemExit as exit:  # refused as the options are read, with the usage (argtypes.folder_to_write)
        code = exit.code
    error = capsys.readouterr().err
    assert code == 2 and "error: " in error and str(blocker / "work") in error and "Traceback" not in error
    assert f"{blocker} is a file, not a folder" in error


def test_joint_first_training_keeps_each_task_apart(tmp_path):
    tasks = [
        TaskData(name, make_task(name, 40, patch, seed=i), description=f"{name} patches")
        for i, (name, patch) in enumerate([("checker", "checker"), ("stripes", "stripes"), ("dark", "dark")])
    ]
    settings = ContinualSettings(
        StrategyConfig(name="cffd", hscl_projection_dim=8),
        TrainSettings(device="cpu", epochs=1, batch_size=16),
        replay_budget=30,
        validation_size=10,
    )
    store = ModelStore(tmp_path / "store")
    torch.manual_seed(0)
    with cpu_threads(1):
        candidate = train_first_task(store, tasks, tiny_config(), settings)
    manifest = candidate.manifest
    assert [t["name"] for t in manifest.tasks] == ["checker", "stripes", "dark"]
    assert manifest.tasks[1]["trained_jointly_with"] == ["checker", "dark"]
    assert manifest.metrics["task_names"] == ["checker", "stripes", "dark"]
    assert len(manifest.metrics["accuracy"]) == 1 and len(manifest.metrics["accuracy"][0]) == 3
    assert candidate.report.train_samples == 3 * (40 - 10)  # one training pass over all of them
    candidate.accept()
    base = BaseModel.from_store(store)
    # 30 faces shared by 3 tasks and 2 classes: 5 each.
    assert base.buffer.counts() == {name: {"real": 5, "fake": 5} for name in ("checker", "stripes", "dark")}
    for task in tasks:
        held_out = base.validation.get(task.name)
        assert len(held_out) == 10
        assert not set(held_out.ids) & set(base.buffer.samples.ids)


@pytest.mark.data
def test_train_export_and_restore_the_training_faces(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CFFD_SYNTH_CACHE", str(tmp_path / "cache" / "synth"))
    recipe_path = tmp_path / "tiny.toml"
    recipe_path.write_text(TINY_RECIPE.format(faces=shared_data / "faces" / "utkface"), encoding="utf-8")
    store = ModelStore(tmp_path / "trained")
    with cpu_threads(1):
        result = train(Recipe.load(recipe_path), tmp_path / "work", store, activate=True)
    report = json.loads(result.report_path.read_text())
    assert sorted(report["test"]) == ["blend", "reenact", "swap", "texture"]
    assert all(
        figures["count"] == 2 for figures in report["test"].values()
    )  # 10 photos: 1 test photo, 2 crops
    manifest = store.verify(result.version)
    assert manifest.metrics["test"] == report["test"] and manifest.contents["training_mode"] == "joint"
    # Calibrated on the validation faces of every family, its false-alarm rate measured on the test split.
    assert (
        report["decision"] == manifest.decision
        and manifest.decision["calibration"]["method"] == "temperature"
    )
    assert manifest.decision["calibration"]["fitted"]["genuine"] == 4  # 1 val photo per family
    assert manifest.metrics["test_decision"]["genuine_faces"] == 4 and manifest.threshold >= 0.5
    assert Recipe.from_text(manifest.contents["recipe"], "manifest").name == "tiny"
    reference = load_reference_spectrum(result.bundle)
    assert (
        reference.count == 4 * 1 and "genuine validation faces of 'tiny'" in reference.source
    )  # 1 val photo each

    # Shared without its faces (as the shipped default is), then rebuilt from the photos.
    shared = store.export(result.version, tmp_path / "tiny.cffd", include_private_data=False)
    user = ModelStore(tmp_path / "user")
    user.activate(user.import_bundle(shared).version)
    with pytest.raises(CFFDError, match="restore-data"):
        learn_task(user, TaskData("stripes", make_task("stripes", 24, size=32)))
    with cpu_threads(1):
        restored = restore_training_faces(user)
    assert user.active_version() == restored == "v2" and user.verify("v2").parent_version == "v1"
    original, rebuilt = BaseModel.from_store(store), BaseModel.from_store(user)
    # Ids name the crops' files, which live elsewhere now; the faces themselves are the same.
    assert rebuilt.buffer.counts() == original.buffer.counts()
    assert torch.equal(rebuilt.buffer.samples.labels, original.buffer.samples.labels)
    assert torch.equal(rebuilt.buffer.samples.images, original.buffer.samples.images)
    for name in original.validation.tasks:
        assert torch.equal(rebuilt.validation.get(name).images, original.validation.get(name).images)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            rebuilt.model.state_dict().values(), original.model.state_dict().values(), strict=True
        )
    )
    assert load_reference_spectrum(user.path("v2")) == reference  # kept from v1
    with pytest.raises(CFFDError, match="already carries"):
        restore_training_faces(user)

    # An analyst has none of the training photos: a folder of their own genuine faces serves instead.
    photos = sorted((shared_data / "faces" / "utkface").glob("*.jpg"))[-170:]  # not the tiny build's photos
    own = tmp_path / "own faces"
    own.mkdir()
    for photo in photos[:20]:
        shutil.copyfile(photo, own / photo.name)
    analyst = ModelStore(tmp_path / "analyst")
    analyst.activate(analyst.import_bundle(shared).version)
    # 25 photos per task for 4 tasks, and twice as many donors for the swap: 150.
    with pytest.raises(CFFDError, match=r"20 face image\(s\); .* at least 150 .*: add 130 more genuine"):
        restore_training_faces(analyst, faces=own)
    assert analyst.versions() == ["v1"]  # nothing written
    for photo in photos[20:]:
        shutil.copyfile(photo, own / photo.name)
    with cpu_threads(1):
        mine = restore_training_faces(analyst, faces=own)
    manifest = analyst.verify(mine)
    assert analyst.active_version() == mine and manifest.learnable
    assert "the analyst's own genuine faces, 10 per task" in manifest.contents["restored_from"]
    assert sorted(manifest.metrics["rebuilt_validation_accuracy"]) == ["blend", "reenact", "swap", "texture"]
    own_faces = BaseModel.from_store(analyst)
    # The tiny recipe's own size (10 photos a task) caps the build; every task is there to replay.
    assert sorted(own_faces.buffer.counts()) == sorted(original.buffer.counts())
    assert not torch.equal(own_faces.validation.get("blend").images, original.validation.get("blend").images)
    # Validation faces judge every later update: 3 of the 10 photos a task (the recipe's 10% would give 1).
    assert {name: len(own_faces.validation.get(name)) for name in own_faces.validation.tasks} == {
        name: 2 * 3 for name in ("blend", "swap", "reenact", "texture")
    }

    # Other forgery code makes other faces: its build is not taken from the cache of this one.
    builds = tmp_path / "cache" / "cffd-studio" / "training"
    assert len(list(builds.iterdir())) == 2  # the photos' build and the analyst's faces' build
    monkeypatch.setattr("cffd_engine.data.synth.builder.forgery_code_digest", lambda: "other code")
    later = ModelStore(tmp_path / "later")
    later.activate(later.import_bundle(shared).version)
    with cpu_threads(1):
        restore_training_faces(later)
    assert len(list(builds.iterdir())) == 3


@pytest.mark.parametrize(("images", "per_task", "validation_photos"), [(640, 101, 25), (160, 25, 8)])
def test_own_faces_keep_enough_validation_photos_to_measure_an_update(
    tmp_path, images, per_task, validation_photos
):
    from cffd_engine.config.recipe import read_recipe
    from cffd_engine.data.synth.builder import split_of
    from cffd_engine.training import own_faces_recipe

    folder = tmp_path / "own"
    folder.mkdir()
    for i in range(images):
        (folder / f"face-{i:04d}.jpg").touch()  # only counted here; the build reads them later
    recipe = read_recipe(Path(__file__).resolve().parents[2] / "resources" / "default-model.toml")
    build = own_faces_recipe(recipe, folder).build
    # Four families, the swap drawing two donors a photo: six images a photo, a twentieth kept in hand.
    assert build["per_task"] == per_task == int(0.95 * images) // 6
    splits = [split_of(i, per_task, build["val_fraction"], build["test_fraction"]) for i in range(per_task)]
    # Many photos: 25 kept for validation (50 faces a family); few: at most 30% of them, the rest to learn.
    assert splits.count("val") == validation_photos and splits.count("test") == 1


def test_own_genuine_footage_gives_face_images_two_a_second_and_is_read_once(tmp_path, monkeypatch):
    from cffd_engine.config.recipe import read_recipe
    from cffd_engine.data.synth.pool import list_faces
    from cffd_engine.media.crops import DEFAULT_SIZE
    from cffd_engine.training import own_face_images, own_faces_recipe

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pictures = sm.write_face_folder(tmp_path / "footage", 2)
    assert own_face_images(pictures) == pictures  # pictures alone are used where they are
    sm.write_video(tmp_path / "footage" / "interview.mp4", sm.drifting_portrait_frames(50), fps=25)

    faces = own_face_images(tmp_path / "footage")
    assert faces != pictures and (faces / "complete").is_file()
    # Too few: the message names the folder the analyst chose, not the cache the faces went to.
    recipe = read_recipe(Path(__file__).resolve().parents[2] / "resources" / "default-model.toml")
    footage = re.escape(str(tmp_path / "footage"))
    with pytest.raises(
        CFFDError, match=rf"^{footage}: \d face\(s\) in its pictures and videos; .* add \d+ more"
    ):
        own_faces_recipe(recipe, faces, tmp_path / "footage")
    names = sorted(path.name for path in list_faces(faces))
    from_video = [name for name in names if name.startswith("video-")]
    # 50 frames at 25 fps, two a second: every 12th or 13th frame, frames 0, 12/13, 24/26, 36/39 (48).
    assert sum(name.startswith("picture-") for name in names) == 2 and 4 <= len(from_video) <= 5
    side = 2 * DEFAULT_SIZE  # cut wide: the forgery code finds the face and crops again
    assert all(cv2.imread(str(faces / name)).shape == (side, side, 3) for name in from_video)
    # The same footage is read once: a second call finds the faces made by the first.
    (faces / from_video[0]).unlink()
    assert own_face_images(tmp_path / "footage") == faces and not (faces / from_video[0]).exists()
