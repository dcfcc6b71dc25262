"""Metrics off the accuracy matrix, AUC, and a tiny benchmark run through the command-line entry point."""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import pytest

from cffd_engine.cli import bench as bench_cli
from cffd_engine.config import read_benchmark_config
from cffd_engine.continual import ContinualMetrics, binary_auc
from cffd_engine.continual import benchmark as bench
from cffd_engine.continual.benchmark_config import BenchmarkConfig, preset_config
from cffd_engine.continual.benchmark_report import markdown_table
from cffd_engine.continual.evaluate import video_level
from cffd_engine.continual.metrics import (
    average_forgetting,
    backward_transfer,
    final_average,
    old_task_average,
)
from cffd_engine.model.device import cpu_threads
from tests.engine.continual_fixtures import make_task, tiny_config

R = [
    [0.90],
    [0.70, 0.95],
    [0.60, 0.85, 0.99],
]


def test_matrix_summaries_follow_their_definitions():
    assert final_average(R) == pytest.approx((0.60 + 0.85 + 0.99) / 3)
    assert old_task_average(R) == pytest.approx((0.60 + 0.85) / 2)
    # Forgetting: best value once learned minus the final one; BWT: final minus just-learned.
    assert average_forgetting(R) == pytest.approx(((0.90 - 0.60) + (0.95 - 0.85)) / 2)
    assert backward_transfer(R) == pytest.approx(((0.60 - 0.90) + (0.85 - 0.95)) / 2)
    full = [[0.90, 0.50, 0.40], [0.70, 0.95, 0.45], [0.60, 0.85, 0.99]]  # zero-shot cells do not count
    assert average_forgetting(full) == average_forgetting(R)
    assert old_task_average([[0.9]]) is None and average_forgetting([[0.9]]) is None
    metrics = ContinualMetrics(["a", "b", "c"], R, R)
    assert ContinualMetrics.from_dict(json.loads(json.dumps(metrics.to_dict()))) == metrics


def test_auc_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(size=40), 1)  # ties on purpose
    labels = rng.integers(0, 2, 40)
    positive, negative = scores[labels == 1], scores[labels == 0]
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    assert binary_auc(scores, labels) == pytest.approx(sum(pairs) / len(pairs))
    assert binary_auc([0.1, 0.2], [1, 1]) is None


def test_video_level_averages_each_videos_frames():
    scores, labels = video_level([0.2, 0.4, 0.9, 0.7, 0.1], [0, 0, 1, 1, 0], ["v1", "v1", "v2", "v2", ""])
    assert scores.tolist() == pytest.approx([0.3, 0.8, 0.1]) and labels.tolist() == [0, 1, 0]


def write_sequence(folder, tasks: dict[str, str]) -> None:
    """A tiny folder in the layout of cffd_engine.data.synth (sequence.json + crops per split)."""
    for t, (name, patch) in enumerate(tasks.items()):
        for s, (split, count) in enumerate((("train", 24), ("val", 8), ("test", 8))):
            samples = make_task(name, count, patch, seed=10 * t + s)
            for image, label, sample_id in zip(samples.images, samples.labels, samples.ids, strict=True):
                path = folder / name / "crops" / split / ("fake" if label else "real") / f"{sample_id}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), cv2.cvtColor(image.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2BGR))
    (folder / "sequence.json").write_text(json.dumps({"tasks": list(tasks), "counts": {}}))


def test_a_tiny_benchmark_writes_its_table_results_and_config(tmp_path):
    write_sequence(tmp_path / "seq", {"checker": "checker", "stripes": "stripes"})
    overrides = {k: v for k, v in tiny_config().to_dict().items() if k not in ("name", "notes", "overrides")}
    config = BenchmarkConfig(
        name="test",
        sequence=str(tmp_path / "seq"),
        methods=["ft", "er", "cffd"],
        model_overrides=overrides,
        train={"epochs": 1, "batch_size": 16, "device": "cpu"},
        first_task_epochs=1,
        replay_budget=8,
        strategy_overrides={"hscl_projection_dim": 8},
    )
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    parser = argparse.ArgumentParser()
    bench_cli.add_continual_arguments(parser)
    args = parser.parse_args(
        ["--config", str(tmp_path / "config.json"), "--out", str(tmp_path / "out"), "--seed", "3"]
    )
    with cpu_threads(1):
        assert bench_cli.run_continual(args) == 0
    out = tmp_path / "out"
    saved = read_benchmark_config(out / "config.json")
    assert saved.seed == 3 and saved.train.seed == 3 and saved.methods == ["ft", "er", "cffd"]
    results = json.loads((out / "results.json").read_text())
    assert results["task_names"] == ["checker", "stripes"]
    assert results["task_sizes"]["checker"] == {"train": 24, "val": 8, "test": 8}
    rows = {m["method"]: m for m in results["methods"]}
    assert rows["er"]["shared_first_task"] and not rows["ft"]["shared_first_task"]
    assert not rows["cffd"]["shared_first_task"]  # its first task adds HSCL
    for row in rows.values():
        assert [len(r) for r in row["test"]["accuracy"]] == [1, 2]
        assert [len(r) for r in row["val"]["accuracy"]] == [1, 2]
        assert set(row["test"]["summary"]) >= {"final_accuracy", "average_forgetting", "backward_transfer"}
    table = (out / "table.md").read_text()
    assert table.splitlines()[0].startswith("| Method | checker | stripes | Avg ACC")
    assert [line.split(" | ")[0] for line in table.splitlines()[2:5]] == ["| FT", "| ER", "| CFFD"]
    pytest.importorskip("matplotlib")
    assert (out / "accuracy_matrices.png").read_bytes()[:4] == b"\x89PNG"


def test_presets_and_command_line_overrides():
    quick = preset_config("quick")
    assert quick.methods == ["ft", "lwf", "ewc", "er", "icarl", "cffd"] and quick.build["size"] == 64
    parser = argparse.ArgumentParser()
    bench_cli.add_continual_arguments(parser)
    args = parser.parse_args(
        ["--preset", "standard", "--out", "x", "--ablations", "--epochs", "3", "--budget", "50"]
    )
    config = bench_cli.continual_config(args)
    assert config.name == "standard" and config.train.epochs == 3 and config.replay_budget == 50
    assert config.methods[-4:] == ["cffd-no-hscl", "cffd-no-slkd", "cffd-no-mfkd", "cffd-no-hybrid"]
    assert config.strategy_config("cffd-no-mfkd").lambda_mfkd == 0.0
    slkd_off = config.strategy_config("cffd-no-slkd")
    assert slkd_off.lambda_slkd == 0.0 and slkd_off.lambda_mfkd == config.strategy_config("cffd").lambda_mfkd
    with pytest.raises(ValueError, match="unknown benchmark method"):
        BenchmarkConfig(methods=["magic"])


def test_markdown_table_marks_the_best_values():
    result = bench.BenchmarkResult(
        BenchmarkConfig(),
        ["a", "b"],
        {"a": {"train": 1, "val": 1, "test": 1}},
        [
            bench.MethodResult(
                "ft",
                "FT",
                {},
                ContinualMetrics(["a", "b"], [[0.9], [0.5, 0.9]], [[0.9], [0.6, 0.9]]),
                ContinualMetrics(),
                1.0,
                False,
                [],
            ),
            bench.MethodResult(
                "cffd",
                "CFFD",
                {},
                ContinualMetrics(["a", "b"], [[0.9], [0.8, 0.9]], [[0.9], [0.8, 0.9]]),
                ContinualMetrics(),
                1.0,
                False,
                [],
            ),
        ],
        60.0,
        {},
    )
    lines = markdown_table(result).splitlines()
    assert lines[2] == "| FT | 0.5000 | 0.9000 | 0.7000 | 0.7500 | 0.5000 | 0.4000 | -0.4000 |"
    assert (
        lines[3] == "| CFFD | 0.8000 | 0.9000 | **0.8500** | **0.8500** | **0.8000** | **0.1000** | -0.1000 |"
    )
