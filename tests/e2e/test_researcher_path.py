"""The researcher's path, end to end through `cffd`: dataset folders laid out exactly like FF++ c23 (with
its split files), Celeb-DF v2 (with its test list) and the full DFDC (with metadata.json), filled with
videos made by `cffd synth video`; `cffd preprocess` each into one cache; then the FF++ protocol run
from one experiment file, over two seeds; the table read back; an interrupted run resumed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cffd_engine.cli import main as cffd
from cffd_engine.data.cache import cache_manifest
from cffd_engine.data.manifest import PROTOCOLS
from tests import dataset_trees, synthetic_media
from tests.engine.continual_fixtures import tiny_model_toml

ROOT = Path(__file__).resolve().parents[2]
DONOR = ROOT / "resources" / "demo" / "grace_hopper.jpg"
# The synthetic family standing in for each FF++ method (a pipeline test, not a claim about FF++).
FFPP_STAND_INS = {
    "Deepfakes": "swap",
    "Face2Face": "reenact",
    "FaceSwap": "blend",
    "NeuralTextures": "texture",
}
PREPROCESS = ["--frames", "4", "--size", "64", "--min-face-size", "20", "--workers", "1"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, bytes]:
    """A genuine face video and one forgery of it per family, made by `cffd synth video`."""
    folder = tmp_path_factory.mktemp("synth")
    genuine = synthetic_media.write_video(
        folder / "genuine.mp4",
        synthetic_media.moving_face_frames(8, size=(320, 240), face_height=200, step=3),
    )
    made = {"real": genuine.read_bytes()}
    for family in FFPP_STAND_INS.values():
        out = folder / f"{family}.mp4"
        assert cffd(["synth", "video", "--in", str(genuine), "--method", family, "--donor", str(DONOR),
                     "--out", str(out), "--ramp", "0"]) == 0  # fmt: skip
        made[family] = out.read_bytes()
    return made


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, videos) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("datasets")
    return {
        "ff++": dataset_trees.ffpp_tree(
            root / "FaceForensics++", data=lambda method: videos[FFPP_STAND_INS.get(method, "real")]
        ),
        "celeb-df-v2": dataset_trees.celebdf_tree(
            root / "Celeb-DF-v2", data=lambda label: videos["swap" if label == "fake" else "real"]
        ),
        "dfdc": dataset_trees.dfdc_full_tree(
            root / "dfdc", data=lambda label: videos["blend" if label == "fake" else "real"]
        ),
    }


def experiment_file(folder: Path, cache: Path) -> Path:
    """The shipped FF++ experiment's protocol with a test-sized model and training."""
    path = folder / "ff++.toml"
    path.write_text(
        f"""
name = "ff++ test"
protocol = "forgery-incremental"
methods = ["ft", "cffd"]
seeds = [0, 1]
replay_budget = 16
frames_per_video = 4

[datasets."ff++"]
root = "/path/to/FaceForensics++"
compression = "c23"

[preprocess]
cache = "{cache.as_posix()}"
frames = 4
size = 64
min_face_size = 20
workers = 1

{tiny_model_toml()}
[train]
epochs = 1
batch_size = 8
""",
        encoding="utf-8",
    )
    return path


def test_from_dataset_folders_to_the_papers_table(tmp_path, datasets, capsys):
    cache = tmp_path / "cache"
    for name, root in datasets.items():
        assert cffd(["preprocess", str(root), "--dataset", name, "--out", str(cache), *PREPROCESS]) == 0
    recorded = cache_manifest(cache)
    assert {e.dataset for e in recorded} == {"ff++", "celeb-df-v2", "dfdc"}
    assert len(recorded) == 40 + 8 + 7  # FF++: 8 originals + 4 methods x 8; Celeb-DF: 8; DFDC: 7 on disk
    assert sum(e.label for e in recorded if e.dataset == "ff++") == 32

    out = tmp_path / "run"
    config = experiment_file(tmp_path, cache)
    argv = [
        "bench",
        "continual",
        "--config",
        str(config),
        "--root",
        f"ff++={datasets['ff++']}",
        "--out",
        str(out),
    ]
    assert cffd(argv) == 0
    printed = capsys.readouterr().out
    assert "| FT |" in printed and "| CFFD |" in printed and "±" in printed

    # Nothing was cut twice: the experiment found every FF++ video already in the cache.
    cut = json.loads((out / "preprocess.json").read_text())["ff++"]
    assert (cut["already_done"], cut["processed"]) == (40, 0)
    tasks = [task.strip() for task in PROTOCOLS["forgery-incremental"].split("->")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["task_names"] == tasks
    for seed in (0, 1):
        results = json.loads((out / f"seed-{seed}" / "results.json").read_text())
        assert results["config"]["seed"] == seed and results["config"]["train"]["seed"] == seed
        for method in results["methods"]:
            test = method["test"]
            assert [len(row) for row in test["accuracy"]] == [1, 2, 3, 4]
            # Each test video gave 4 crops: the video-level matrix is there, row for row.
            assert [len(row) for row in test["video_auc"]] == [1, 2, 3, 4]
        assert (out / f"seed-{seed}" / "table.md").read_text().count("|") > 10
    # The summary's mean and spread are those of the two seeds' own figures.
    finals = [
        next(m for m in json.loads((out / f"seed-{s}" / "results.json").read_text())["methods"]
             if m["method"] == "cffd")["test"]["summary"]["final_accuracy"]
        for s in (0, 1)
    ]  # fmt: skip
    cffd_summary = summary["summary"]["cffd"]["final_accuracy"]
    assert cffd_summary["values"] == pytest.approx(finals)
    assert cffd_summary["mean"] == pytest.approx(sum(finals) / 2)
    assert cffd_summary["std"] == pytest.approx(abs(finals[0] - finals[1]) / 2**0.5)
    assert (out / "summary.png").stat().st_size > 1000 and "± " in (out / "summary.md").read_text()

    # Interrupted after seed 1's FT: running the same command again keeps FT and runs only CFFD.
    seed_1 = out / "seed-1" / "results.json"
    before = json.loads(seed_1.read_text())
    ft = next(m for m in before["methods"] if m["method"] == "ft")
    seed_1.write_text(json.dumps({**before, "methods": [ft]}))
    shutil.rmtree(out / "seed-0")
    assert cffd(argv) == 0
    after = json.loads(seed_1.read_text())
    assert [m["method"] for m in after["methods"]] == ["ft", "cffd"]
    assert after["methods"][0]["seconds"] == ft["seconds"]  # read back, not trained again
    assert (out / "seed-0" / "results.json").is_file()
    # The same folder with other seeds is refused before anything runs, and says why.
    assert cffd([*argv, "--seeds", "5"]) == 2
    assert "seeds differ" in capsys.readouterr().err and not (out / "seed-5").exists()


def test_an_experiment_without_a_root_or_with_a_wrong_one_says_what_to_do(tmp_path, datasets, capsys):
    config = experiment_file(tmp_path, tmp_path / "cache")
    assert cffd(["bench", "continual", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert str(config) in error and "--root ff++=" in error and "Traceback" not in error
    wrong = ["--root", f"ff++={datasets['celeb-df-v2']}"]
    assert cffd(["bench", "continual", "--config", str(config), *wrong, "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "original_sequences" in error and "celeb-df-v2" in error
    assert not (tmp_path / "run" / "seed-0").exists()
