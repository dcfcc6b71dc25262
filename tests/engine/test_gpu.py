"""The CUDA paths: mixed-precision inference agrees with the CPU, training learns, DDP runs on nccl.

Skipped where no CUDA GPU is present (CI); run on a GPU machine with ``pytest -m gpu``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cffd_engine.continual import ContinualSettings, StrategyConfig, TaskData, TrainSettings, train_first_task
from cffd_engine.continual.evaluate import evaluate, predict
from cffd_engine.model import RSIANet
from cffd_engine.store import ModelStore
from tests.engine.continual_fixtures import make_task, tiny_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
ROOT = Path(__file__).resolve().parents[2]


def test_mixed_precision_inference_on_cuda_agrees_with_the_cpu():
    torch.manual_seed(0)
    model = RSIANet(tiny_config()).eval()
    samples = make_task("checker", 64)
    on_cpu = predict(model, samples).probabilities
    on_gpu = predict(model.cuda(), samples).probabilities  # autocast (bfloat16 or float16)
    assert on_gpu.device.type == "cpu" and on_gpu.shape == on_cpu.shape == (64, 2)
    assert torch.allclose(on_gpu, on_cpu, atol=0.05), (on_gpu - on_cpu).abs().max()


def test_training_on_cuda_learns_the_toy_task(tmp_path):
    settings = ContinualSettings(
        StrategyConfig(name="cffd", hscl_projection_dim=8),
        TrainSettings(device="cuda", epochs=6, batch_size=16, learning_rate=3e-3),
        replay_budget=16,
        validation_size=32,
    )
    torch.manual_seed(0)
    candidate = train_first_task(
        ModelStore(tmp_path / "store"),
        TaskData("checker", make_task("checker", 192)),
        tiny_config(),
        settings,
    )
    assert candidate.report.accuracy_after[0] >= 0.9, candidate.report.accuracy_after
    model = candidate.trained.model
    held_out = candidate.trained.validation.get("checker")
    assert evaluate(model, held_out).accuracy == candidate.report.accuracy_after[0]  # the bundle's own figure


def test_ddp_on_one_gpu_with_nccl(tmp_path):
    out = tmp_path / "throughput.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    command += ["-m", "cffd_engine.cli", "bench", "train", "--preset", "lite", "--steps", "10"]
    command += ["--warm-up", "3", "--batch-size", "16", "--device", "cuda", "--out", str(out)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert figures["processes"] == 1 and figures["ddp"] and figures["mixed_precision"]
    assert figures["timed_steps"] == 10 and "rank 0 of 1: trained 'throughput'" in done.stderr
    assert figures["images_per_second"] > 0
