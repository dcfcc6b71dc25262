"""Experiment files (cffd_engine.config): the shipped ones state the paper's protocols, and every mistake
names the file, the key and what is allowed. The manifest a cache keeps; a run folder of another config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cffd_engine.config import ConfigError, load_experiment, read_benchmark_config, shipped_experiments
from cffd_engine.continual.benchmark import BenchmarkConfigError, finished_methods
from cffd_engine.continual.benchmark_config import ABLATIONS, PAPER_METHODS, BenchmarkConfig
from cffd_engine.data.cache import MANIFEST_FILE, cache_manifest, record_manifest
from cffd_engine.data.manifest import PROTOCOLS, Manifest, ManifestEntry

GOOD = """
protocol = "forgery-incremental"
seeds = [0, 1]
[datasets."ff++"]
root = "ffpp"
"""


def top(line: str) -> str:
    """GOOD with ``line`` among its top-level keys (after a table header it would belong to the table)."""
    return line + "\n" + GOOD


def write(folder: Path, text: str, name: str = "experiment.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_experiments_state_the_papers_protocols(tmp_path):
    shipped = shipped_experiments()
    assert set(shipped) == {"ff++-forgery-incremental", "dataset-incremental", "dataset-incremental-full"}
    ff = load_experiment("ff++-forgery-incremental", {"ff++": str(tmp_path / "ffpp")})
    assert (
        PROTOCOLS.get(ff.protocol, ff.protocol) == "ff++/c23/DF -> ff++/c23/F2F -> ff++/c23/FS -> ff++/c23/NT"
    )
    assert ff.methods == PAPER_METHODS + ABLATIONS and ff.seeds == [0, 1, 2] and ff.replay_budget == 500
    assert ff.datasets == {"ff++": {"root": str(tmp_path / "ffpp"), "compression": "c23"}}
    assert ff.train.epochs == 10 and ff.first_task_epochs is None and ff.model_overrides == {}
    roots = {"ff++": "a", "dfdc-p": "b", "celeb-df-v2": "c"}
    datasets = load_experiment(shipped["dataset-incremental"], roots)
    assert datasets.protocol == "ff++/c23 -> dfdc-p -> celeb-df-v2"
    assert {name: Path(o["root"]).name for name, o in datasets.datasets.items()} == roots
    full = load_experiment("dataset-incremental-full", {**roots, "dfdc": "d", "dfd": "a"})
    assert full.protocol == "ff++/c23 -> dfdc -> dfd/c23 -> celeb-df-v2" and set(full.datasets) == {
        "ff++",
        "dfdc",
        "dfd",
        "celeb-df-v2",
    }
    # What a run writes as config.json reads back as the same config.
    assert BenchmarkConfig.from_dict(json.loads(json.dumps(ff.to_dict()))) == ff


def test_relative_roots_are_read_from_the_files_folder(tmp_path):
    config = load_experiment(write(tmp_path, GOOD))
    assert config.datasets["ff++"]["root"] == str(tmp_path / "ffpp")
    assert config.seeds == [0, 1] and config.methods == PAPER_METHODS


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("protocol = 'forgery-incremental'\n[datasets.ff++]\nroot = 'x'\n", '[datasets."ff++"]'),
        (top("epochs = 3"), "epochs: unknown key (allowed: "),
        (GOOD + "compresion = 'c23'\n", "[datasets.ff++] compresion: unknown key (allowed: compression, "),
        (GOOD.replace("seeds = [0, 1]", "seeds = [0, 0]"), "seeds: [0, 0] repeats a seed"),
        (GOOD.replace("seeds = [0, 1]", 'seeds = "0,1"'), "seeds: '0,1' is not a list of integers"),
        (top("methods = ['ft', 'sgd']"), "methods: ['ft', 'sgd'] names an unknown method"),
        (top("replay_budget = -5"), "replay_budget: -5 is not a positive int"),
        (GOOD.replace("forgery-incremental", "ff++/c23/DF/F2F/x"), "protocol: cannot read task"),
        (GOOD.replace("forgery-incremental", "nosuch/DF"), "unknown dataset 'nosuch'"),
        (GOOD.replace("forgery-incremental", "dataset-incremental"), "needs dataset celeb-df-v2"),
        ("protocol = 'forgery-incremental'\n", "datasets: no [datasets.NAME]"),
        (GOOD.replace('root = "ffpp"', 'root = "/path/to/FaceForensics++"'), "--root ff++=/folder/of/ff++"),
        (GOOD + "[train]\nepochs = 0\n", "[train] epochs: epochs and batch_size must be >= 1"),
        (GOOD + "[train]\nlearnig_rate = 0.1\n", "[train] learnig_rate: unknown key"),
        (
            GOOD + "[strategy]\nlambda_mfkd = 'x'\n",
            "[strategy] lambda_mfkd: 'x' is not of the right type (allowed: float)",
        ),
        (
            GOOD + "[train]\noptimizer = 'sgd'\n",
            "[train] optimizer: 'sgd' is not one of these (allowed: adam, adamw)",
        ),
        (GOOD + "[model]\npreset = 'huge'\n", "[model] preset: 'huge' is not one of these (allowed: lite, "),
        (GOOD + "[preprocess]\ndetector = 'yolo'\n", "unknown detector 'yolo'"),
        (GOOD + "[preprocess]\nworkers = 0\n", "workers must be a positive integer"),
        (GOOD + "[preprocess]\nframe = 8\n", "[preprocess] frame: unknown key"),
    ],
)
def test_every_mistake_names_the_file_and_the_key(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)


def test_a_missing_file_or_a_folder_is_named(tmp_path):
    for path, fragment in ((tmp_path / "none.toml", "no such file"), (tmp_path, "is a folder")):
        with pytest.raises(ConfigError, match=fragment):
            load_experiment(path)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"methods": ["ft", "sgd"]}, "methods: 'sgd' is not one of these (allowed: ft, lwf, "),
        ({"replay_budget": "many"}, "replay_budget: 'many' is not of the right type (allowed: int)"),
        ({"replay_bugdet": 5}, "replay_bugdet: unknown key (allowed: build, cache, "),
        ({"model_preset": "huge"}, "model_preset: 'huge' is not one of these (allowed: lite, "),
        ({"model_overrides": {"widht": 3}}, "[model_overrides] widht: unknown key (allowed: band_edges, "),
        ({"strategy_overrides": {"lamda_kd": 1}}, "[strategy_overrides] lamda_kd: unknown key (allowed: "),
        (
            {"train": {"optimizer": "sgd"}},
            "[train] optimizer: 'sgd' is not one of these (allowed: adam, adamw)",
        ),
    ],
)
def test_a_config_json_given_back_is_checked_like_an_experiment_file(tmp_path, change, fragment):
    path = tmp_path / "config.json"
    config = BenchmarkConfig(name="a", sequence="seq", methods=["ft"])
    path.write_text(json.dumps(config.to_dict()))
    assert read_benchmark_config(path) == config
    path.write_text(json.dumps({**config.to_dict(), **change}))
    with pytest.raises(ConfigError) as caught:
        read_benchmark_config(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)


def entry(name: str, label: int = 0, dataset: str = "ff++") -> ManifestEntry:
    return ManifestEntry(f"/data/{name}.mp4", label, "train", "real" if label == 0 else "DF", dataset)


def test_a_cache_keeps_every_video_it_was_asked_for_across_runs(tmp_path):
    record_manifest(tmp_path, Manifest([entry("a"), entry("b", 1)], ["first note"]))
    relabelled = ManifestEntry("/data/b.mp4", 1, "test", "DF", "ff++")
    record_manifest(tmp_path, Manifest([relabelled, entry("c", dataset="celeb-df-v2")], ["second note"]))
    kept = cache_manifest(tmp_path)
    assert [e.path for e in kept] == ["/data/a.mp4", "/data/b.mp4", "/data/c.mp4"]
    assert kept.entries[1].split == "test" and kept.notes == ["first note", "second note"]
    assert json.loads((tmp_path / MANIFEST_FILE).read_text())["version"] == 1


def test_a_run_folder_of_another_config_is_refused_and_the_same_config_resumes(tmp_path):
    config = BenchmarkConfig(name="a", sequence="seq", methods=["ft", "cffd"])
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    assert finished_methods(config, tmp_path) == {}
    other = BenchmarkConfig(name="a", sequence="seq", methods=["ft", "cffd"], replay_budget=7)
    with pytest.raises(BenchmarkConfigError, match="replay_budget differ"):
        finished_methods(other, tmp_path)
    # Where the run happens (threads, device) does not change its figures: it resumes.
    elsewhere = BenchmarkConfig.from_dict(
        {**config.to_dict(), "train": {**config.train.to_dict(), "threads": 2}}
    )
    assert finished_methods(elsewhere, tmp_path) == {}
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(BenchmarkConfigError, match="cannot be read back"):
        finished_methods(config, tmp_path)
