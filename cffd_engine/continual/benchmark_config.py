"""Benchmark configs as data: which methods, which data, which model and training; three ready-made sizes.

A config fully describes a run and is saved as ``config.json`` beside its results,
so every figure can be regenerated with ``cffd bench continual --config config.json``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cffd_engine.continual.config import StrategyConfig, TrainSettings

# Rows of the table: a label and the strategy fields that make it.
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "ft": ("FT", {"name": "ft"}),
    "lwf": ("LwF", {"name": "lwf"}),
    "ewc": ("EWC", {"name": "ewc"}),
    "er": ("ER", {"name": "er"}),
    "icarl": ("iCaRL", {"name": "icarl"}),
    "cffd": ("CFFD", {"name": "cffd"}),
    "cffd-no-hscl": ("CFFD w/o HSCL", {"name": "cffd", "lambda_hscl": 0.0}),
    "cffd-no-slkd": ("CFFD w/o SLKD", {"name": "cffd", "lambda_slkd": 0.0}),
    "cffd-no-mfkd": ("CFFD w/o MFKD", {"name": "cffd", "lambda_mfkd": 0.0}),
    "cffd-no-hybrid": ("CFFD w/o hybrid (random replay)", {"name": "cffd", "selection": "random"}),
}
PAPER_METHODS = ["ft", "lwf", "ewc", "er", "icarl", "cffd"]
ABLATIONS = ["cffd-no-hscl", "cffd-no-slkd", "cffd-no-mfkd", "cffd-no-hybrid"]

# What an experiment may say about cutting the faces of its datasets (the options of `cffd preprocess`).
PREPROCESS_KEYS = {
    "cache": "the cache folder (default: <out>/cache)",
    "frames": "frames per video, evenly spaced (32)",
    "size": "crop size in pixels (224)",
    "scale": "crop side / face size (1.3)",
    "align": "rotate crops so the eyes are level (false)",
    "all_faces": "keep every face track, not only the main one (false)",
    "detector": "short, full or haar (short)",
    "min_confidence": "detector threshold (0.5)",
    "min_face_size": "smallest face side in pixels (32)",
    "workers": "parallel processes (the CPU count)",
}


@dataclass
class BenchmarkConfig:
    """A whole benchmark run as data: data, model, methods, training; saved as config.json with the results."""

    name: str = "quick"
    sequence: str | None = None  # a built synthetic sequence (folder with sequence.json)
    build: dict[str, Any] | None = None  # BuildSettings fields to build it first when missing
    cache: str | None = None  # or: a preprocessing cache + manifest + protocol line
    manifest: str | None = None
    protocol: str | None = None
    frames_per_video: int | None = 8
    tasks: list[str] | None = None  # a subset/order of the sequence's tasks
    methods: list[str] = field(default_factory=lambda: list(PAPER_METHODS))
    model_preset: str = "lite"
    model_overrides: dict[str, Any] = field(default_factory=lambda: {"input_size": 64})
    train: TrainSettings = field(default_factory=lambda: TrainSettings(epochs=2))
    first_task_epochs: int | None = 4
    replay_budget: int = 100
    max_train_per_task: int | None = None
    strategy_overrides: dict[str, Any] = field(default_factory=dict)  # applied to every method
    evaluate_future_tasks: bool = False  # fill R[i][j] for j > i too (zero-shot cells)
    seed: int = 0
    seeds: list[int] | None = None  # several runs, one per seed, and their mean and spread
    # Datasets to preprocess into the cache first: {name: {"root": folder, adapter options...}}.
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)  # PREPROCESS_KEYS: how their faces are cut

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown benchmark method(s) {unknown}; known: {sorted(METHODS)}")
        if not self.methods:
            raise ValueError(f"no benchmark method; choose from {sorted(METHODS)}")
        if isinstance(self.train, dict):
            self.train = TrainSettings.from_dict(self.train)
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"seeds must be a list of different integers, got {self.seeds}")
        unknown = sorted(set(self.preprocess) - set(PREPROCESS_KEYS))
        if unknown:
            raise ValueError(f"unknown preprocess setting(s) {unknown}; known: {sorted(PREPROCESS_KEYS)}")
        if self.cache is not None and not self.protocol:
            raise ValueError(
                "a benchmark over a cache needs a protocol: --protocol forgery-incremental, "
                "dataset-incremental, or tasks joined by '->' (e.g. 'ff++/c23/DF -> ff++/c23/F2F')"
            )
        if self.protocol is not None:
            from cffd_engine.data.manifest import PROTOCOLS, parse_protocol

            try:
                parse_protocol(PROTOCOLS.get(self.protocol, self.protocol))
            except ValueError as exc:
                raise ValueError(
                    f"protocol {self.protocol!r}: {exc}; write tasks joined by '->' (e.g. 'ff++/c23/DF -> "
                    f"ff++/c23/F2F') or name one of {sorted(PROTOCOLS)}"
                ) from exc
        for name, options in self.datasets.items():
            if not isinstance(options, dict) or not options.get("root"):
                raise ValueError(f'dataset {name!r} needs a root folder (root = "/path/to/{name}")')

    def for_seed(self, seed: int) -> BenchmarkConfig:
        """This config as one run with ``seed`` (model initialisation and training order)."""
        return dataclasses.replace(
            self, seed=seed, seeds=None, train=dataclasses.replace(self.train, seed=seed)
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["train"] = self.train.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown benchmark config field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def strategy_config(self, method: str) -> StrategyConfig:
        return StrategyConfig.from_dict({**self.strategy_overrides, **METHODS[method][1]})


def _synthetic_build(per_task: int, size: int) -> dict[str, Any]:
    return {"per_task": per_task, "size": size, "seed": 0, "val_fraction": 0.1, "test_fraction": 0.2}


# Ready-made sizes of the synthetic protocol (blend -> swap -> reenact -> texture [-> morph]).
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {  # a CPU smoke run of all six strategies
        "build": _synthetic_build(250, 64),
        "model_overrides": {"input_size": 64},
        "train": {"epochs": 2, "batch_size": 32, "pair_by_source": True},
        "first_task_epochs": 4,
        "replay_budget": 100,
        "strategy_overrides": {"fisher_samples": 128},
    },
    "standard": {  # the README table, under an hour on a CPU
        "build": _synthetic_build(500, 96),
        "model_overrides": {"input_size": 96},
        "train": {"epochs": 4, "batch_size": 32, "pair_by_source": True},
        "first_task_epochs": 6,
        "replay_budget": 200,
    },
    "full": {  # for a GPU: the lite model at its own size, METHOD's 10 epochs, buffer 500
        "build": _synthetic_build(2000, 160),
        "model_overrides": {},
        "train": {"epochs": 10, "batch_size": 64, "threads": None, "pair_by_source": True},
        "first_task_epochs": 10,
        "replay_budget": 500,
    },
    "pretrained": {  # for a GPU: the default model's ImageNet-pretrained lite0, the five families, video-like
        "build": {
            **_synthetic_build(600, 128),
            "methods": ["blend", "swap", "reenact", "texture", "morph"],
            "video_like": True,
        },
        "model_preset": "lite0",
        "model_overrides": {"input_size": 128},
        "train": {
            "epochs": 6,
            "batch_size": 64,
            "lr_step_epochs": 3,
            "threads": None,
            "pair_by_source": True,
        },
        "first_task_epochs": 6,
        "replay_budget": 500,
    },
}


def preset_config(name: str, **changes: Any) -> BenchmarkConfig:
    """A ready-made config (``quick``, ``standard``, ``full``, ``pretrained``) with optional field changes."""
    if name not in PRESETS:
        raise ValueError(f"unknown benchmark preset {name!r}; choose one of {sorted(PRESETS)}")
    return BenchmarkConfig.from_dict({"name": name, **copy.deepcopy(PRESETS[name]), **changes})
