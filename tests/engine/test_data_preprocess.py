"""Preprocessing into the crop cache: results, bad videos skipped, resume after interruption, the Dataset."""

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cffd_engine.cli import preprocess as preprocess_cli
from cffd_engine.data import preprocess as prep
from cffd_engine.data.adapters import load_manifest
from cffd_engine.data.cache import CacheError, load_index
from cffd_engine.data.crop_dataset import FaceCropDataset
from cffd_engine.data.manifest import Manifest
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.media.detectors import DetectorSettings
from tests import synthetic_media

SETTINGS = prep.PreprocessSettings(frames=4, crop_size=64, detector=DetectorSettings(min_face_size=20))


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """A plain-folder dataset: 2 real and 2 fake face videos, one video without a face, one text file as .mp4."""
    root = tmp_path_factory.mktemp("examples")
    for index, (folder, name) in enumerate(
        [("real", "r1.mp4"), ("real", "r2.mp4"), ("fake/DF", "f1.mp4"), ("fake/DF", "f2 é.mp4")]
    ):
        frames = synthetic_media.moving_face_frames(8, size=(320, 240), face_height=200, step=3 + index)
        (root / folder).mkdir(parents=True, exist_ok=True)
        synthetic_media.write_video(root / folder / name, frames)
    synthetic_media.write_video(root / "real" / "wall.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 4)
    (root / "fake" / "DF" / "broken.mp4").write_text("not a video at all\n" * 10)
    return load_manifest(root, "folder", val_fraction=0.0, test_fraction=0.0)


@pytest.fixture(scope="module")
def full_cache(tmp_path_factory, examples):
    out = tmp_path_factory.mktemp("cache")
    report = prep.preprocess(examples, out, SETTINGS)
    return out, report


def _png_digests(cache):
    return {
        p.relative_to(cache).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in cache.rglob("*.png")
    }


def test_every_video_is_processed_and_a_bad_one_is_skipped_with_its_reason(full_cache):
    out, report = full_cache
    assert (report.videos, report.processed, report.no_face, report.crops) == (6, 6, 1, 16)
    ((path, reason),) = report.failed
    assert path.endswith("broken.mp4") and "not a video" in reason
    index = load_index(out)
    status = {v["entry"]["path"].rsplit("/", 1)[-1]: v["status"] for v in index["videos"]}
    assert status == {"r1.mp4": "done", "r2.mp4": "done", "f1.mp4": "done", "f2 é.mp4": "done"} | {
        "wall.mp4": "no_face",
        "broken.mp4": "failed",
    }
    video = next(v for v in index["videos"] if v["entry"]["path"].endswith("r1.mp4"))
    assert [c["frame_index"] for c in video["crops"]] == [0, 2, 5, 7]
    crop = video["crops"][0]
    assert len(crop["box"]) == 4 and len(crop["keypoints"]) == 6 and crop["geometry"]["size"] == 64
    assert video["detector"] == "mediapipe-short-range" and video["detector_fallback"] is False
    assert (out / crop["file"]).is_file() and len(_png_digests(out)) == 16


def test_interrupted_then_resumed_gives_the_same_index(tmp_path, examples, full_cache):
    out = tmp_path / "cache"
    job = JobControl(lambda fraction, message: job.cancel() if message.startswith("2/") else None)
    with pytest.raises(Cancelled):
        prep.preprocess(examples, out, SETTINGS, job=job)
    partial = load_index(out)
    assert len(partial["videos"]) == 2
    resumed = prep.preprocess(examples, out, SETTINGS)
    assert (resumed.already_done, resumed.processed) == (2, 4)
    assert load_index(out) == load_index(full_cache[0])
    assert _png_digests(out) == _png_digests(full_cache[0])


def test_a_video_cut_off_mid_write_is_redone_on_resume(tmp_path, examples, full_cache):
    out = tmp_path / "cache"
    prep.preprocess(examples, out, SETTINGS)
    # As if the run died after writing a video's crops but before committing its row.
    stray = out / "crops" / "r1-deadbeef00" / "000099_0.png"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a png")
    with sqlite3.connect(out / "index.sqlite") as db:
        key = db.execute("SELECT key FROM videos WHERE path LIKE '%r2.mp4'").fetchone()[0]
        db.execute("DELETE FROM crops WHERE video_key = ?", (key,))
        db.execute("DELETE FROM videos WHERE key = ?", (key,))
    (out / "crops" / key / "000000_0.png").write_bytes(b"torn")
    again = prep.preprocess(examples, out, SETTINGS)
    assert again.processed == 1
    assert load_index(out) == load_index(full_cache[0])


def test_resuming_with_other_settings_is_refused(full_cache, examples):
    with pytest.raises(CacheError, match="frames differ"):
        prep.preprocess(examples, full_cache[0], prep.PreprocessSettings(frames=8, crop_size=64))


def test_process_pool_gives_the_same_index(tmp_path, examples, full_cache):
    out = tmp_path / "pooled"
    report = prep.preprocess(examples, out, SETTINGS, workers=2)
    assert report.processed == 6 and len(report.failed) == 1
    assert load_index(out) == load_index(full_cache[0])


def test_dataset_reads_crops_and_labels(full_cache, examples):
    out, _ = full_cache
    dataset = FaceCropDataset(out)
    assert len(dataset) == 16 and sorted(set(dataset.labels)) == [0, 1]
    image, label = dataset[0]
    assert (
        image.shape == (3, 64, 64) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    )
    assert label == dataset.records[0].label
    fakes = FaceCropDataset(out, task="folder/fake", frames_per_video=2)
    assert len(fakes) == 4 and set(fakes.labels) == {1}
    assert len(FaceCropDataset(out, split="test")) == 0
    relabelled = Manifest([replace(e, split="test") for e in examples if "/real/" in e.path])
    only_real = FaceCropDataset(out, split="test", manifest=relabelled)
    assert len(only_real) == 8 and set(only_real.labels) == {0}
    flipped = FaceCropDataset(out, transform=lambda t: t.flip(-1))
    assert torch.equal(flipped[0][0], image.flip(-1))
    batch, labels = next(iter(torch.utils.data.DataLoader(dataset, batch_size=5)))
    assert batch.shape == (5, 3, 64, 64) and labels.shape == (5,)


def test_cli_runs_and_reports(tmp_path, examples, capsys):
    parser = argparse.ArgumentParser()
    preprocess_cli.add_arguments(parser)
    root = examples.entries[0].path.rsplit("/real/", 1)[0]
    args = parser.parse_args([root, "--dataset", "folder", "--frames", "2", "--out", str(tmp_path / "c")])
    args.workers, args.size = 1, 48
    assert preprocess_cli.run(args) == 0
    err = capsys.readouterr().err
    assert "6 video(s) processed" in err and "1 failed" in err and "broken.mp4" in err
    assert (tmp_path / "c" / "preprocess.log").read_text(encoding="utf-8").count("broken.mp4") == 1
    bad = parser.parse_args([str(tmp_path), "--dataset", "ff++", "--out", str(tmp_path / "d")])
    assert preprocess_cli.run(bad) == 2
    assert "original_sequences/youtube/c23/videos" in capsys.readouterr().err


KILL_AFTER_THREE = """
import json, os, signal, sys
from cffd_engine.data import preprocess as prep
from cffd_engine.data.manifest import Manifest
from cffd_engine.jobs import JobControl

def die(fraction, message):
    if message.startswith("3/"):
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no exception handlers: a power cut

settings = prep.PreprocessSettings.from_dict(json.loads(sys.argv[3]))
prep.preprocess(Manifest.load(sys.argv[1]), sys.argv[2], settings, job=JobControl(die))
"""


def test_killed_process_resumes_to_the_same_index(tmp_path, examples, full_cache):
    manifest, out = examples.save(tmp_path / "manifest.json"), tmp_path / "cache"
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_THREE, str(manifest), str(out), json.dumps(SETTINGS.to_dict())],
        cwd=repo,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -9
    assert len(load_index(out)["videos"]) == 3
    resumed = prep.preprocess(examples, out, SETTINGS)
    assert (resumed.already_done, resumed.processed) == (3, 3)
    assert load_index(out) == load_index(full_cache[0])
    assert _png_digests(out) == _png_digests(full_cache[0])


def test_landmarks_are_kept_in_the_index(tmp_path, examples):
    first = Manifest(examples.entries[:1])
    settings = prep.PreprocessSettings(frames=2, crop_size=64, landmarks=True)
    prep.preprocess(first, tmp_path / "c", settings)
    (video,) = load_index(tmp_path / "c")["videos"]
    assert [len(crop["landmarks"]) for crop in video["crops"]] == [478, 478]
