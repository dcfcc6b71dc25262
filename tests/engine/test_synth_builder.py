"""The continual task sequence: balanced, disjoint, split by photo, reproducible byte for byte."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from cffd_engine.data.manifest import Manifest
from cffd_engine.data.synth.builder import (
    BuildSettings,
    TaskSequence,
    build_task_sequence,
    crop_path,
    photos_never_built,
    split_of,
)
from cffd_engine.data.synth.pool import Attributes, LandmarkCache, list_faces, utk_attributes
from cffd_engine.jobs import Cancelled, JobControl
from tests.synthetic_media import write_face_folder

PER_TASK = 10  # 4 tasks x 10 photos + 20 swap donors = 60 photos


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    return write_face_folder(tmp_path_factory.mktemp("faces"), 64)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("landmark-cache")


def _build(faces: Path, out: Path, cache_dir: Path, **overrides) -> TaskSequence:
    settings = BuildSettings(faces=faces, out=out, per_task=PER_TASK, size=64, workers=1, cache_dir=cache_dir)
    settings = BuildSettings(**{**settings.__dict__, **overrides})
    return build_task_sequence(settings)


@pytest.fixture(scope="module")
def sequence(faces, cache_dir, tmp_path_factory) -> TaskSequence:
    return _build(faces, tmp_path_factory.mktemp("sequence"), cache_dir)


def _records(sequence: TaskSequence, task: str) -> list[dict]:
    return json.loads((sequence.out / task / "samples.json").read_text(encoding="utf-8"))


def test_every_task_is_balanced_in_every_split(sequence):
    assert sequence.tasks == ["blend", "swap", "reenact", "texture"]
    for task in sequence.tasks:
        manifest = Manifest.load(sequence.manifests[task])
        assert len(manifest) == 2 * PER_TASK
        for split in ("train", "val", "test"):
            labels = Counter(entry.label for entry in manifest.split(split))
            assert labels[0] == labels[1] > 0, (task, split, labels)
        assert {e.method for e in manifest} == {"real", task}
        assert {e.dataset for e in manifest} == {f"synth-{task}"}
        assert all(Path(e.path).is_file() for e in manifest)


def test_photos_are_disjoint_across_tasks_and_splits(sequence):
    used: dict[str, str] = {}
    donors: set[str] = set()
    for task in sequence.tasks:
        by_photo = {}
        for record in _records(sequence, task):
            assert record["source"] not in used, (
                f"{record['source']} serves {used.get(record['source'])} and {task}"
            )
            by_photo[record["source"]] = record["split"]
            if record["donor"]:
                donors.add(record["donor"])
        used.update(dict.fromkeys(by_photo, task))
        manifest = Manifest.load(sequence.manifests[task])
        # Real and fake of one photo always share a split.
        for entry in manifest:
            assert by_photo[entry.video_id + ".jpg"] == entry.split
    assert donors and not donors & set(used), "a donor face is also a real sample"


def test_records_hold_parameters_mask_and_crops(sequence):
    record = _records(sequence, "swap")[0]
    assert record["donor"] and record["params"]["donor"] == record["donor"]
    assert 60 <= record["compression"]["quality"] <= 95
    mask = cv2.imread(str(sequence.out / record["mask"]), cv2.IMREAD_GRAYSCALE)
    assert mask.max() > 200 and (mask == 0).mean() > 0.3
    for kind in ("real", "fake"):
        crop = cv2.imread(str(crop_path(sequence.out / record[kind])))
        assert crop.shape == (64, 64, 3)
    real = cv2.imread(str(sequence.out / record["real"]))
    fake = cv2.imread(str(sequence.out / record["fake"]))
    assert real.shape == fake.shape and np.abs(real.astype(int) - fake).mean() > 1


def test_two_runs_with_one_seed_are_byte_identical(sequence, faces, cache_dir, tmp_path):
    again = _build(faces, tmp_path / "again", cache_dir)
    for name in ["sequence.json"] + [f"{task}/samples.json" for task in sequence.tasks]:
        assert (sequence.out / name).read_bytes() == (again.out / name).read_bytes(), name
    for task in sequence.tasks:
        # Manifests list absolute paths (as the dataset adapters do): equal up to the output folder.
        first = sequence.manifests[task].read_text(encoding="utf-8").replace(str(sequence.out), "<out>")
        second = again.manifests[task].read_text(encoding="utf-8").replace(str(again.out), "<out>")
        assert first == second
        for record in _records(sequence, task):
            for kind in ("real", "fake", "mask"):
                assert (sequence.out / record[kind]).read_bytes() == (again.out / record[kind]).read_bytes()
            for kind in ("real", "fake"):
                first_crop, second_crop = (
                    crop_path(sequence.out / record[kind]),
                    crop_path(again.out / record[kind]),
                )
                assert first_crop.read_bytes() == second_crop.read_bytes()


def test_the_trainer_reads_a_task_as_it_reads_a_real_dataset(sequence):
    from cffd_engine.data.crop_dataset import FaceCropDataset
    from cffd_engine.data.manifest import Task

    manifest = Manifest.load(sequence.manifests["reenact"])
    train = FaceCropDataset(sequence.out / "cache", split="train", manifest=manifest)
    assert len(train) == len(manifest.split("train")) and Counter(train.labels) == {0: 8, 1: 8}
    image, label = train[0]
    assert tuple(image.shape) == (3, 64, 64) and 0.0 <= float(image.min()) <= float(image.max()) <= 1.0
    task = Task(dataset="synth-swap")
    assert Counter(FaceCropDataset(sequence.out / "cache", task=task).labels) == {0: PER_TASK, 1: PER_TASK}


def test_another_seed_gives_another_sequence(sequence, faces, cache_dir, tmp_path):
    other = _build(faces, tmp_path / "other", cache_dir, seed=1, methods=("blend",))
    assert other.tasks == ["blend"]
    assert _records(other, "blend") != _records(sequence, "blend")


def test_too_few_photos_is_a_clear_error(faces, cache_dir, tmp_path):
    with pytest.raises(ValueError, match="not enough face photos"):
        _build(faces, tmp_path / "big", cache_dir, per_task=40)


def test_a_build_using_half_the_folder_never_takes_the_photos_said_never_built(faces, cache_dir, tmp_path):
    # Held-out checks (the wizard's, the heat maps') draw "faces the model never trained on" this way.
    # A swap task takes 10 photos and a pool of 20 donors after them: 30 of the 64.
    sequence = _build(faces, tmp_path / "swap", cache_dir, methods=["swap"], seed=3)
    records = [record for task in sequence.tasks for record in _records(sequence, task)]
    used = {record["source"] for record in records} | {
        record["donor"] for record in records if record["donor"]
    }
    never = {path.name for path in photos_never_built(faces, seed=3)}
    assert len(used) > PER_TASK and len(never) == 32  # the photos and some of the donors
    assert not used & never


def test_cancel_stops_the_build(faces, cache_dir, tmp_path):
    job = JobControl()
    job.cancel()
    with pytest.raises(Cancelled):
        build_task_sequence(
            BuildSettings(faces=faces, out=tmp_path, per_task=PER_TASK, workers=1, cache_dir=cache_dir), job
        )


def test_splits_by_position():
    splits = [split_of(i, 100, 0.1, 0.2) for i in range(100)]
    assert Counter(splits) == {"train": 70, "val": 10, "test": 20}


def test_landmark_cache_is_reused_and_remembers_photos_without_a_face(faces, tmp_path):
    blank = tmp_path / "photos"
    blank.mkdir()
    cv2.imwrite(str(blank / "grey.jpg"), np.full((120, 120, 3), 128, np.uint8))
    for path in list_faces(faces)[:3]:
        (blank / path.name).write_bytes(path.read_bytes())
    cache = LandmarkCache(blank, tmp_path / "cache")
    found = cache.get(list_faces(blank))
    assert [points is None for points in found].count(True) == 1
    assert cache.path.is_file() and tmp_path / "cache" in cache.path.parents
    reloaded = LandmarkCache(blank, tmp_path / "cache")
    again = reloaded.get(list_faces(blank))
    assert all((a is None and b is None) or np.array_equal(a, b) for a, b in zip(found, again, strict=True))


def test_a_folder_of_links_to_photos_elsewhere_is_read_through_the_links(faces, tmp_path):
    linked = tmp_path / "links"
    linked.mkdir()
    photos = list_faces(faces)[:3]
    for path in photos:
        (linked / f"mine-{path.name}").symlink_to(path)
    through_links = LandmarkCache(linked, tmp_path / "cache").get(list_faces(linked))
    direct = LandmarkCache(faces, tmp_path / "cache").get(photos)
    assert len(through_links) == 3 and all(points is not None for points in through_links)
    assert all(np.array_equal(a, b) for a, b in zip(through_links, direct, strict=True))


def test_utkface_names():
    assert utk_attributes("26_1_2_20170116184735190.jpg.chip.jpg") == Attributes(26, 1, 2)
    assert utk_attributes("/x/y/39_1_20170116174525125.jpg.chip.jpg").race is None


@pytest.mark.slow
def test_parallel_build_equals_serial_build(sequence, faces, cache_dir, tmp_path):
    parallel = _build(faces, tmp_path / "parallel", cache_dir, workers=2)
    for task in sequence.tasks:
        assert (sequence.out / task / "samples.json").read_bytes() == (
            parallel.out / task / "samples.json"
        ).read_bytes()


def test_the_forgery_code_digest_follows_only_code_that_shapes_a_build(tmp_path):
    from cffd_engine.data.synth import builder

    package = tmp_path / "synth"
    shutil.copytree(Path(builder.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = builder.forgery_code_digest(package)
    assert before == builder.forgery_code_digest()
    with (package / "separability.py").open("a") as source:
        source.write("# the check, not the forgeries\n")
    assert builder.forgery_code_digest(package) == before
    with (package / "blend.py").open("a") as source:
        source.write("# a changed family\n")
    assert builder.forgery_code_digest(package) != before


@pytest.mark.slow
def test_separability_runs_on_a_tiny_sequence(sequence):
    from cffd_engine.data.synth.separability import SeparabilitySettings, separability

    result = separability(SeparabilitySettings(sequence=sequence.out, epochs=1, batch_size=8, threads=1))
    assert result.tasks == sequence.tasks
    assert np.asarray(result.accuracy).shape == (4, 4) and np.asarray(result.auc).shape == (4, 4)
    assert all(0.0 <= cell <= 1.0 for row in result.accuracy for cell in row)
    assert np.asarray(result.paired).shape == (4, 4)
    assert all(0.0 <= cell <= 1.0 for row in result.paired for cell in row)
    assert result.table().count("\n") == 5 and result.verdict
    json.dumps(result.to_dict())


def test_a_video_like_build_records_the_codec_of_each_pair(faces, cache_dir, tmp_path):
    sequence = _build(faces, tmp_path, cache_dir, methods=("blend",), video_like=True)
    records = _records(sequence, "blend")
    assert {record["compression"]["codec"] for record in records} <= {"h264", "mpeg4"}
    assert all(record["compression"]["codec_quality"] > 0 for record in records)
    assert json.loads((sequence.out / "sequence.json").read_text())["settings"]["video_like"] is True
