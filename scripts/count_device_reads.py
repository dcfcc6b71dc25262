"""How often one training step of each continual method makes the host wait for a GPU, counted on the CPU.

    python scripts/count_device_reads.py ft lwf ewc er icarl cffd

Trains a tiny RSIA-Net on two small tasks per method and prints, for the first and the
second task, the reads of device tensors back to the host per step and the engine lines
that made them (see tests/engine/device_reads.py). The loss values are fetched once a
step with ``tolist()``, which the count does not include.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cffd_engine.continual import (  # noqa: E402
    StrategyConfig,
    Trainer,
    TrainSettings,
    build_strategy,
    strategies,
    trainer,
)
from cffd_engine.model import RSIANet  # noqa: E402
from tests.engine.continual_fixtures import make_task, tiny_config  # noqa: E402
from tests.engine.device_reads import DeviceReads  # noqa: E402


def main(methods: list[str]) -> None:
    reads = DeviceReads()

    class MarkedBatch(strategies.Batch):
        def __post_init__(self):
            reads.mark(self.images, self.labels)

    trainer.Batch = MarkedBatch
    for name in methods:
        torch.manual_seed(0)
        model = RSIANet(tiny_config())
        strategy = build_strategy(StrategyConfig(name=name, hscl_projection_dim=8, fisher_samples=4))
        fit = Trainer(TrainSettings(device="cpu", epochs=1, batch_size=8, horizontal_flip=True)).fit
        per_step = []
        for args in ((make_task("a", 16), 0), (make_task("b", 16), 1, make_task("a", 8), "b")):
            reads.sites.clear()
            with reads:
                summary = fit(model, strategy, *args)
            per_step.append((reads.total / summary.steps, dict(reads.sites)))
        print(
            f"{name}: {per_step[0][0]:.1f} reads a step on the first task, {per_step[1][0]:.1f} on the second;"
            f" where (second task, all steps): {per_step[1][1] or '-'}"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["ft", "lwf", "ewc", "er", "icarl", "cffd"])
