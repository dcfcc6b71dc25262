"""Continual-learning settings as data: the trainer, the strategy, the buffer; JSON round trip.

Defaults follow METHOD.md section 3 where it states them (KD temperature 20, SLKD
weight 0.3, HSCL weight 0.1, Adam lr 5e-4 with step decay, 10 epochs per task,
buffer 500) and say so where they are an interpretation.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cffd_engine.argtypes import DEVICE_HELP, DEVICE_PATTERN

# Faces per forward pass when scoring. On a 2-core CPU, batches of 128 took half as long again per
# face as batches of 32 (their activations outgrow the caches); on a GPU a few hundred faces are
# scored in moments either way.
EVAL_BATCH_SIZE = 32

StrategyName = Literal["ft", "lwf", "ewc", "er", "icarl", "cffd"]
SelectionName = Literal["random", "herding", "hybrid"]
STRATEGY_NAMES = typing.get_args(StrategyName)
SELECTION_NAMES = typing.get_args(SelectionName)
DEFAULT_SELECTION = {"er": "random", "icarl": "herding", "cffd": "hybrid"}


def _from_dict(cls, data: dict[str, Any], what: str):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} field(s) {unknown}; known fields: {sorted(known)}")
    return cls(**data)


@dataclass
class TrainSettings:
    """How one task is trained: epochs, optimiser and schedule, batches, device, seed."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: Literal["adam", "adamw"] = "adam"
    learning_rate: float = 5e-4
    weight_decay: float = 1e-6
    lr_step_epochs: int = 5  # StepLR: multiply the rate by lr_gamma every this many epochs (DFIL: 5, 0.5)
    lr_gamma: float = 0.5
    grad_clip: float | None = 5.0  # max global gradient norm; None = no clipping
    horizontal_flip: bool = True
    # Keep the backbones' layers up to their finest level (stem and first blocks: few weights, the
    # largest feature maps) as they are, batch-norm statistics included: the backward pass stops there.
    freeze_early_layers: bool = False
    # Keep samples made from one source (a photo and its forgery, a video's frames) in one batch:
    # the network then sees each forgery against its own original, which is what makes
    # self-blended forgeries learnable from scratch (as SBI trains).
    pair_by_source: bool = False
    seed: int = 0
    device: str = "auto"
    threads: int | None = 1  # CPU intra-op threads (None leaves torch's); 1 keeps a core for the GUI
    mixed_precision: bool = True  # CUDA only; on a CPU see cpu_bfloat16
    cpu_bfloat16: bool = False  # bfloat16 autocast on a CPU with bfloat16 instructions (else float32)
    eval_batch_size: int = EVAL_BATCH_SIZE

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.learning_rate <= 0 or self.lr_step_epochs < 1:
            raise ValueError("learning_rate must be > 0 and lr_step_epochs >= 1")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be {DEVICE_HELP}, got {self.device!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1 (or unset: torch's default), got {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        return _from_dict(cls, data, "TrainSettings")


@dataclass
class StrategyConfig:
    """Which strategy and its loss weights; fields a strategy does not use are ignored by it.

    ``selection`` None means the strategy's own (ER random, iCaRL herding, CFFD hybrid).
    """

    name: StrategyName = "cffd"
    # CFFD: L = CE + lambda_hscl HSCL + lambda_slkd SLKD + lambda_mfkd MFKD (+ the optional terms).
    lambda_hscl: float = 0.1
    hscl_temperature: float = 0.01  # the paper's T
    hscl_projection_dim: int = 64
    lambda_slkd: float = 0.3  # DFIL's KD weight
    kd_temperature: float = 20.0  # DFIL's T
    slkd_on_new: bool = False  # METHOD: SLKD on the replay samples; option: on the new ones too
    lambda_mfkd: float = 1.0  # Interpretation: on per-sample L2-normalised f^l, see mfkd_normalize
    mfkd_normalize: Literal["none", "elements", "l2"] = "l2"
    mfkd_on_new: bool = False
    lambda_relational: float = 0.0  # option (off): pairwise-similarity distillation of g
    lambda_domain: float = 0.0  # option (off): MFKD on F_s^l and F_f^l separately
    # LwF and iCaRL: KD on the logits at a classic temperature.
    lambda_kd: float = 1.0
    lwf_temperature: float = 2.0
    # EWC (online, diagonal Fisher).
    ewc_lambda: float = 1000.0
    ewc_gamma: float = 1.0  # online decay of the accumulated Fisher
    fisher_samples: int = 256
    # Replay selection.
    selection: SelectionName | None = None
    hard_fraction: float = 0.5
    representative: Literal["herding", "kcenter"] = "herding"

    def __post_init__(self) -> None:
        if self.name not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {self.name!r}; choose one of {STRATEGY_NAMES}")
        if self.kd_temperature <= 0 or self.lwf_temperature <= 0 or self.hscl_temperature <= 0:
            raise ValueError("temperatures must be positive")
        if self.selection is not None and self.selection not in SELECTION_NAMES:
            raise ValueError(f"unknown replay selection {self.selection!r}; choose one of {SELECTION_NAMES}")

    @property
    def selection_name(self) -> str | None:
        return self.selection or DEFAULT_SELECTION.get(self.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StrategyConfig:
        return _from_dict(cls, data, "StrategyConfig")


@dataclass
class ContinualSettings:
    """Everything a continual update needs besides the data: strategy, trainer, buffer, validation."""

    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    replay_budget: int = 500
    validation_size: int = 100  # faces held out of each new task, never trained on
    selection_seed: int = 0

    def __post_init__(self) -> None:
        if self.replay_budget < 0 or self.validation_size < 0:
            raise ValueError(
                f"replay_budget and validation_size must be >= 0, got {self.replay_budget} and "
                f"{self.validation_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.to_dict(),
            "train": self.train.to_dict(),
            "replay_budget": self.replay_budget,
            "validation_size": self.validation_size,
            "selection_seed": self.selection_seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContinualSettings:
        data = dict(data)
        strategy = StrategyConfig.from_dict(data.pop("strategy", {}))
        train = TrainSettings.from_dict(data.pop("train", {}))
        return _from_dict(cls, {**data, "strategy": strategy, "train": train}, "ContinualSettings")

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def update_settings(changes: dict[str, Any] | None = None) -> ContinualSettings:
    """What an update of a trained model starts from (the wizard, ``cffd learn``), with ``changes`` over it.

    The paper's CFFD (``StrategyConfig``'s defaults, which the benchmark runs as such) with SLKD on the
    new faces as well as the replayed ones, at weight 0.6, for five passes, the backbones' early layers
    kept as they are. On a fresh store's update it kept the four families the default knows within 2
    points in six runs, where the paper's weights lost up to 10; it learns the new family more slowly
    (morph AUC +0.07 to +0.18 against +0.22 and +0.29), and ten passes learned it no better. Keeping the
    early layers learned as much and took a fifth less time (docs/continual-2026-12-04.md, "The
    update's preset" and the section after it). ``changes`` is laid out as ``to_dict``; the strategy
    and training fields it names replace those fields only.
    """
    changes = dict(changes or {})
    preset = ContinualSettings(
        strategy=StrategyConfig(slkd_on_new=True, lambda_slkd=0.6),
        train=TrainSettings(epochs=5, freeze_early_layers=True),
    ).to_dict()
    for part in ("strategy", "train"):
        preset[part].update(changes.pop(part, {}))
    return ContinualSettings.from_dict({**preset, **changes})
