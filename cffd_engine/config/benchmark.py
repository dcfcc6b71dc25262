"""Benchmark configs in JSON (the ``config.json`` a run writes, given back to ``cffd bench continual --config``)."""

from __future__ import annotations

from pathlib import Path

from cffd_engine.config.core import (
    ConfigError,
    check_choice,
    check_keys,
    check_types,
    fields_of,
    read_json,
    read_model,
    read_settings,
    table,
)

WHAT = "a benchmark config (an experiment .toml, or the config.json a run wrote)"


def read_benchmark_config(path: Path | str):
    """The ``BenchmarkConfig`` in a JSON file; every problem names the file, the key and what is allowed."""
    from cffd_engine.continual.benchmark_config import METHODS, PREPROCESS_KEYS, BenchmarkConfig
    from cffd_engine.continual.config import StrategyConfig, TrainSettings
    from cffd_engine.model.config import PRESETS

    path = Path(path)
    data = read_json(path, WHAT)
    check_keys(data, fields_of(BenchmarkConfig), path, None)
    check_types(BenchmarkConfig, data, path, None)
    train = table(data, "train", path)
    for method in data.get("methods", []):
        check_choice(method, METHODS, path, "methods")
    check_keys(data.get("preprocess", {}), PREPROCESS_KEYS, path, "preprocess")
    model_preset = data.get("model_preset", "lite")
    check_choice(model_preset, PRESETS, path, "model_preset")
    read_model({"preset": model_preset, **data.get("model_overrides", {})}, path, "model_overrides")
    strategy = dict(data.get("strategy_overrides", {}))
    read_settings(StrategyConfig, strategy, path, "strategy_overrides", ("name",), name="cffd")
    data["train"] = read_settings(TrainSettings, train, path, "train")
    try:
        return BenchmarkConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, None, str(exc)) from exc
