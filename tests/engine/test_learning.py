"""`cffd learn` update files: what they accept, and clear errors naming the file for what they do not."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from cffd_engine import cli
from cffd_engine.config import ConfigError, read_update_plan
from cffd_engine.errors import CFFDError
from tests.engine.continual_fixtures import make_task


def _crops(folder: Path, count: int, seed: int = 0) -> None:
    samples = make_task("dots", count, "dark", seed=seed)
    for index, (image, label) in enumerate(zip(samples.images, samples.labels.tolist(), strict=True)):
        target = folder / ("fake" if label else "real") / f"{index:03d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(target)


def test_a_folder_update_reads_its_examples_and_validation_relative_to_the_file(tmp_path):
    _crops(tmp_path / "case" / "crops", 12)
    _crops(tmp_path / "case" / "held-out", 6, seed=1)
    update = tmp_path / "case" / "update.toml"
    update.write_text(
        'name = "dots"\nbase = "v2"\n[examples]\nfolder = "crops"\nvalidation = "held-out"\n'
        "[continual.train]\nepochs = 2\n",
        encoding="utf-8",
    )
    plan = read_update_plan(update)
    assert plan.name == "dots" and plan.base == "v2" and plan.continual == {"train": {"epochs": 2}}
    task = plan.task_data(48)
    assert task.name == "dots" and task.samples.images.shape == (12, 3, 48, 48)
    assert task.samples.counts() == {"real": 6, "fake": 6} and len(task.validation) == 6
    assert "6 manipulated and 6 genuine faces from" in task.description


@pytest.mark.parametrize(
    "text, message",
    [
        ('description = "no name"\n[examples]\nfolder = "x"\n', "name: missing; name the new forgery type"),
        (
            'name = "a"\n',
            "[examples]: needs exactly one of these (found none) (allowed: folder, sequence, cache, forgery)",
        ),
        ('name = "a"\n[examples]\nfolder = "x"\nsequence = "y"\ntask = "t"\n', "(found folder, sequence)"),
        (
            'name = "a"\n[examples]\ncache = "c"\ntask = "t"\n',
            "[examples] manifest: missing; cache also needs",
        ),
        # A wrong key, a wrong type, an unknown value: the key and what is allowed instead.
        (
            'name = "a"\nepochs = 3\n[examples]\nfolder = "x"\n',
            "epochs: unknown key (allowed: base, continual, ",
        ),
        ('name = "a"\n[examples]\nfoldr = "x"\n', "[examples] foldr: unknown key (allowed: cache, folder, "),
        ("name = 7\n", "name: 7 is not of the right type (allowed: str)"),
        (
            'name = "a"\n[examples]\nfolder = "x"\n[continual.strategy]\nname = "sgd"\n',
            "[continual.strategy] name: 'sgd' is not one of these (allowed: ft, lwf, ewc, er, icarl, cffd)",
        ),
        (
            'name = "a"\n[examples]\nfolder = "x"\n[continual.train]\nepochs = "3"\n',
            "[continual.train] epochs: '3' is not of the right type (allowed: int)",
        ),
        (
            'name = "a"\n[examples]\nfolder = "x"\n[continual]\nreplay_budget = -1\n',
            "[continual] replay_budget: ",
        ),
        ('name = "a"\n[examples\n', "not an update file in TOML"),
    ],
)
def test_a_bad_update_file_is_refused_naming_it(tmp_path, text, message):
    update = tmp_path / "bad.toml"
    update.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_update_plan(update)
    assert str(caught.value).startswith(f"{update}: ") and message in str(caught.value)


def test_missing_examples_and_an_empty_store_are_clear_errors(tmp_path, capsys):
    update = tmp_path / "update.toml"
    update.write_text('name = "dots"\n[examples]\nfolder = "nowhere"\n', encoding="utf-8")
    with pytest.raises(CFFDError, match="nowhere"):
        read_update_plan(update).task_data(32)
    code = cli.main(
        ["learn", "--config", str(update), "--out", str(tmp_path / "w"), "--store", str(tmp_path / "s")]
    )
    assert code == 2 and "no active model version" in capsys.readouterr().err
