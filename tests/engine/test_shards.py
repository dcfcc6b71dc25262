"""Sharded runs: ``--shard K/N`` takes every input exactly once, and ``cffd merge`` gives back what one run gives.

Each comparison is against a single run over the same inputs, made here: ``cffd analyze``
over a folder of small OpenCV videos of a real face (an untrained ``lite`` model: the
scores need to be reproducible, not good), and ``cffd preprocess`` over a plain-folder
dataset, both through the ``cffd`` entry point as a cluster job would run them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from cffd_engine.cli import main as cffd
from cffd_engine.data.cache import load_index
from cffd_engine.errors import CFFDError
from cffd_engine.model import RSIANet, preset
from cffd_engine.shards import Shard, check_shards, parse_shard
from cffd_engine.store import BundleManifest, write_bundle
from tests import synthetic_media as sm

N = 3
ANALYZE = [
    "--frames",
    "4",
    "--threads",
    "1",
    "--top-k",
    "1",
    "--quiet",
    "--case-id",
    "2026-7",
    "--examiner",
    "A. B.",
]
PREPROCESS = [
    "--dataset",
    "folder",
    "--frames",
    "4",
    "--size",
    "64",
    "--min-face-size",
    "20",
    "--workers",
    "1",
]


def run_cffd(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cffd([str(arg) for arg in argv])
    finally:
        torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue()


def face_video(path: Path, seed: int, frames: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return sm.write_video(
        path, sm.drifting_portrait_frames(frames, face_height=200, phase=seed, amplitude=20)
    )


# ---------------------------------------------------------------- shard parsing and selection


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 12])
def test_every_input_is_in_exactly_one_shard_whatever_the_listing_order(count):
    names = [f"clip{i:03d}.mp4" for i in range(10)] + ["sub/a.mp4", "sub/b.mp4", "é.mp4", "clip003.mp4"]
    taken = [Shard(k, count).positions(names) for k in range(1, count + 1)]
    assert sorted(p for positions in taken for p in positions) == list(range(len(names)))
    assert max(map(len, taken)) - min(map(len, taken)) <= 1  # balanced by count
    shuffled = names[:]
    random.Random(count).shuffle(shuffled)
    for k, positions in enumerate(taken, start=1):  # the same files, listed in another order
        again = Shard(k, count).positions(shuffled)
        assert sorted(shuffled[p] for p in again) == sorted(names[p] for p in positions)


def test_shard_values_and_the_slurm_form():
    assert parse_shard("2/3") == Shard(2, 3) and parse_shard(" 1 / 1 ") == Shard(1, 1)
    slurm = {"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"}
    assert parse_shard("slurm", slurm) == Shard(1, 3)
    assert parse_shard("slurm", slurm | {"SLURM_ARRAY_TASK_ID": "2"}) == Shard(3, 3)
    from_one = {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert parse_shard("slurm", from_one) == Shard(4, 4)
    stepped = slurm | {"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_STEP": "2"}
    assert parse_shard("slurm", stepped) == Shard(3, 3)
    with pytest.raises(CFFDError, match="SLURM_ARRAY_TASK_ID.* not set"):
        parse_shard("slurm", {})
    with pytest.raises(CFFDError, match="not one of 3 evenly spaced"):
        parse_shard("slurm", slurm | {"SLURM_ARRAY_TASK_ID": "3"})


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0/3", "K counts from 1"), ("4/3", "between 1 and N=3"), ("a/b", "not two whole numbers"),
     ("1/0", "at least 1"), ("3", "no '/'"), ("", "not two whole numbers"), ("-1/3", "between 1")],
)  # fmt: skip
def test_bad_shard_values_name_the_value_and_the_fix(value, problem):
    with pytest.raises(CFFDError, match=problem) as caught:
        parse_shard(value)
    assert repr(value) in str(caught.value) and "--shard K/N" in str(caught.value)


def test_missing_repeated_or_mismatched_shards_are_refused():
    names = [f"{i}.mp4" for i in range(7)]
    records = [(f"s{k}.json", Shard(k, 3).record(names)) for k in (3, 1, 2)]
    assert check_shards(records) == [1, 2, 0]  # joined in K order
    with pytest.raises(CFFDError, match=r"shard\(s\) 2/3 missing.*got 2 of 3"):
        check_shards(records[:2])
    with pytest.raises(CFFDError, match="s1.json and s1b.json are both shard 1/3"):
        check_shards([*records, ("s1b.json", records[1][1])])
    other = Shard(2, 3).record(names[:-1])
    with pytest.raises(CFFDError, match="other.json: the shard was made of other inputs.*inputs differs"):
        check_shards([records[0], records[1], ("other.json", other)])
    reordered = Shard(2, 3).record(names[::-1])  # the same files, listed in another order
    assert sorted(names[::-1][p] for p in reordered["positions"]) == sorted(
        names[p] for p in records[2][1]["positions"]
    )
    with pytest.raises(CFFDError, match="rev.json: the shard listed the same inputs in another order"):
        check_shards([records[0], records[1], ("rev.json", reordered)])
    with pytest.raises(CFFDError, match="four.json: it is shard 2/4 but s3.json is shard 3/3"):
        check_shards([records[0], records[1], ("four.json", Shard(2, 4).record(names))])
    with pytest.raises(CFFDError, match="plain.json: not a shard's output"):
        check_shards([("plain.json", None)])


# ---------------------------------------------------------------- cffd analyze --shard + cffd merge


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = RSIANet(preset("lite", input_size=64))
    directory = tmp_path_factory.mktemp("bundle") / "untrained"
    manifest = BundleManifest(model_config=model.config.to_dict(), limits=["Untrained: scores mean nothing."])
    write_bundle(directory, model, manifest)
    return directory


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Seven inputs in a folder tree: five face videos, one without a face, one that is not a video."""
    folder = tmp_path_factory.mktemp("clips") / "case"
    for seed, name in enumerate(["b.mp4", "a.mp4", "sub/z.mp4", "sub/c.mp4", "zz/e é.mp4"]):
        face_video(folder / name, seed)
    sm.write_video(folder / "wall.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 4)
    (folder / "sub" / "broken.mp4").write_text("not a video\n" * 20)
    return folder


@pytest.fixture(scope="module")
def analysed(clips, bundle, tmp_path_factory):
    """A single run over the folder, the same as N shards (JSON reports), and the shards merged."""
    out = tmp_path_factory.mktemp("reports")
    common = [clips, "--model", bundle, *ANALYZE]
    single = run_cffd(["analyze", *common, "--json", out / "single.json"])
    shards = [run_cffd(["analyze", *common, "--shard", f"{k}/{N}", "--json", out / f"shard{k}.json"])
              for k in range(1, N + 1)]  # fmt: skip
    merged = run_cffd(
        ["merge", out / "shard3.json", out / "shard1.json", out / "shard2.json", "--json", out / "all.json"]
    )
    return out, single, shards, merged


VOLATILE = {"started_utc", "finished_utc", "timings", "hashed_utc", "hashed_intake_utc", "hashed_now_utc",
            "report_created_utc", "analysis_started_utc", "analysis_finished_utc"}  # fmt: skip


def steady(value):
    """``value`` without the clock times and durations that differ between any two runs."""
    if isinstance(value, dict):
        return {key: steady(item) for key, item in value.items() if key not in VOLATILE}
    if isinstance(value, list):
        return [steady(item) for item in value]
    return value


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_merged_shards_equal_one_run_over_all_inputs(analysed, clips):
    out, single, shards, merged = analysed
    assert single[0] == 1 and merged[0] == 0, (single, merged)  # 1: broken.mp4 was not analysed
    whole, joined = load(out / "single.json"), load(out / "all.json")
    assert len(whole["results"]) == 7
    paths = [r["evidence"]["path"] for r in whole["results"]]
    assert [r["evidence"]["path"] for r in joined["results"]] == paths  # the single run's order
    assert steady(joined["results"]) == steady(
        whole["results"]
    )  # verdicts, scores per frame, key frames, hashes
    for part in ("summary", "evidence", "models", "interpretation", "limitations", "reproduction", "case"):
        assert steady(joined[part]) == steady(whole[part]), part
    assert {r["verdict"] for r in joined["results"]} >= {"NOT_APPLICABLE"}
    assert any(key["image_sha256"] for r in joined["results"] for t in r["tracks"] for key in t["key_frames"])
    assert joined["software"]["analysis"] == whole["software"]["analysis"]
    assert "shard" not in joined and "shard" not in whole
    # Each shard took its own inputs, none twice, and the merge names the shard files it joined.
    parts = [load(out / f"shard{k}.json") for k in range(1, N + 1)]
    taken = [r["evidence"]["path"] for part in parts for r in part["results"]]
    assert sorted(taken) == sorted(paths) and all(part["results"] for part in parts)
    assert [item["shard"] for item in joined["merged_from"]] == ["1/3", "2/3", "3/3"]
    for k, item in enumerate(joined["merged_from"], start=1):
        data = (out / f"shard{k}.json").read_bytes()
        assert (
            item["file"] == str(out / f"shard{k}.json") and item["sha256"] == hashlib.sha256(data).hexdigest()
        )
        assert item["results"] == len(parts[k - 1]["results"])
    assert sum(code == 1 for code, _, _ in shards) == 1  # only the shard with broken.mp4 says so
    assert f"shard 1/{N}: 3 of 7 input(s)" in shards[0][2]


def test_merge_refuses_shards_that_do_not_belong_together(analysed, tmp_path):
    out = analysed[0]
    shard = [out / f"shard{k}.json" for k in range(1, N + 1)]
    code, _, err = run_cffd(["merge", shard[0], shard[2], "--json", tmp_path / "all.json"])
    assert code == 2 and "shard(s) 2/3 missing" in err and not (tmp_path / "all.json").exists()
    edits = {
        "case.examiner": lambda data: data["case"].update(examiner="someone else"),
        "settings.stride": lambda data: data["results"][0]["settings"].update(stride=2),
        "model.weights_sha256": lambda data: data["results"][-1]["model"].update(weights_sha256="0" * 64),
    }
    for field, edit in edits.items():
        data = load(shard[1])
        edit(data)
        changed = tmp_path / f"edited {field}.json"
        changed.write_text(json.dumps(data), encoding="utf-8")
        code, _, err = run_cffd(["merge", shard[0], changed, shard[2], "--json", tmp_path / "all.json"])
        assert code == 2 and f"{changed}: {field} differs from" in err, err
    data = load(shard[1])
    data["evidence"][0] = "not an evidence check"
    damaged = tmp_path / "damaged evidence.json"
    damaged.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = run_cffd(["merge", shard[0], damaged, shard[2], "--json", tmp_path / "all.json"])
    assert code == 2 and f"{damaged}: result 1 cannot be read (an evidence check is a mapping" in err, err
    code, _, err = run_cffd(["merge", *shard, "--json", shard[0]])
    assert code == 2 and "is one of the shards" in err
    code, _, err = run_cffd(["merge", out / "single.json", "--json", tmp_path / "all.json"])
    assert code == 2 and "not a shard's JSON report" in err


def test_bad_shard_option_is_an_error_naming_it(clips, bundle):
    for value in ("0/3", "4/3", "a/b", "1/0"):
        code, _, err = run_cffd(["analyze", clips, "--model", bundle, "--shard", value, "--quiet"])
        assert code == 2 and err.startswith(f"error: bad --shard {value!r}"), err


def test_a_shard_with_nothing_to_do_writes_an_empty_report_that_merges(bundle, tmp_path):
    video = face_video(tmp_path / "only.mp4", 0)
    for k in (1, 2):
        code, _, _ = run_cffd(["analyze", video, "--model", bundle, *ANALYZE, "--no-explain",
                               "--shard", f"{k}/2", "--json", tmp_path / f"{k}.json"])  # fmt: skip
        assert code == 0
    assert [len(load(tmp_path / f"{k}.json")["results"]) for k in (1, 2)] == [1, 0]
    assert (
        run_cffd(["merge", tmp_path / "2.json", tmp_path / "1.json", "--json", tmp_path / "all.json"])[0] == 0
    )
    assert [r["evidence"]["name"] for r in load(tmp_path / "all.json")["results"]] == ["only.mp4"]


# ---------------------------------------------------------------- cffd preprocess --shard + cffd merge


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A plain-folder dataset: five face videos, one without a face, one text file named .mp4."""
    root = tmp_path_factory.mktemp("dataset")
    for seed, name in enumerate(
        ["real/r1.mp4", "real/r2.mp4", "fake/DF/f1.mp4", "fake/DF/f2 é.mp4", "fake/f3.mp4"]
    ):
        face_video(root / name, seed, frames=6)
    sm.write_video(root / "real" / "wall.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 4)
    (root / "fake" / "DF" / "broken.mp4").write_text("not a video\n" * 20)
    return root


def png_digests(cache: Path) -> dict[str, str]:
    return {
        p.relative_to(cache).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in cache.rglob("*.png")
    }


@pytest.fixture(scope="module")
def caches(dataset, tmp_path_factory):
    """One preprocess over the dataset, N shard caches, and their merge."""
    out = tmp_path_factory.mktemp("caches")
    codes = [run_cffd(["preprocess", dataset, *PREPROCESS, "--out", out / "single"])[0]]
    for k in range(1, N + 1):
        codes.append(
            run_cffd(["preprocess", dataset, *PREPROCESS, "--shard", f"{k}/{N}", "--out", out / f"s{k}"])[0]
        )
    codes.append(run_cffd(["merge", out / "s2", out / "s3", out / "s1", "--out", out / "merged"])[0])
    return out, codes


def test_merged_shard_caches_equal_one_preprocess(caches):
    out, codes = caches
    assert codes == [0] * (N + 2)
    single, merged = load_index(out / "single"), load_index(out / "merged")
    assert len(single["videos"]) == 7 and {v["status"] for v in single["videos"]} == {
        "done",
        "no_face",
        "failed",
    }
    assert merged == single  # settings, every video's row, every crop's row
    assert png_digests(out / "merged") == png_digests(out / "single") and png_digests(out / "single")
    keys = [{v["key"] for v in load_index(out / f"s{k}")["videos"]} for k in range(1, N + 1)]
    assert sum(map(len, keys)) == 7 and set().union(*keys) == {v["key"] for v in single["videos"]}
    # Merging again resumes: everything is already there, nothing changes.
    code, text, _ = run_cffd(["merge", *(out / f"s{k}" for k in range(1, N + 1)), "--out", out / "merged"])
    assert code == 0 and "0 copied now" in text and "7 already there" in text
    assert load_index(out / "merged") == single


def test_cache_merge_refuses_an_incomplete_or_foreign_shard(caches, dataset, tmp_path):
    out, _ = caches
    partial = shutil.copytree(out / "s2", tmp_path / "s2")
    with sqlite3.connect(partial / "index.sqlite") as db:
        db.execute("DELETE FROM videos WHERE key = (SELECT MIN(key) FROM videos)")
    db.close()
    code, _, err = run_cffd(["merge", out / "s1", partial, out / "s3", "--out", tmp_path / "merged"])
    assert code == 2 and f"{partial}: shard 2/3 is incomplete" in err, err
    code, _, err = run_cffd(["merge", out / "s1", out / "s3", "--out", tmp_path / "merged"])
    assert code == 2 and "2/3 missing" in err
    (tmp_path / "report.json").write_text("{}", encoding="utf-8")
    code, _, err = run_cffd(["merge", out / "s1", tmp_path / "report.json", "--out", tmp_path / "m"])
    assert code == 2 and "some shards are folders" in err
    # A shard resumed into another shard's folder is refused before any work.
    code, _, err = run_cffd(["preprocess", dataset, *PREPROCESS, "--shard", "1/3", "--out", out / "s2"])
    assert code == 2 and "holds shard 2/3" in err
    code, _, err = run_cffd(["preprocess", dataset, *PREPROCESS, "--shard", "3/2", "--out", tmp_path / "x"])
    assert code == 2 and "bad --shard '3/2'" in err
