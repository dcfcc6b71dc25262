"""Experiment files, read and checked by ``load_experiment``.

An experiment file states a whole continual benchmark in TOML: the datasets and
their folders, the protocol, the methods and ablations, the seeds, the model and
its training. ``cffd bench continual --config FILE`` runs it. Ready ones for the
paper's protocols ship in ``resources/experiments``::

    name = "ff++-forgery-incremental"
    protocol = "forgery-incremental"        # or tasks joined by '->': "ff++/c23/DF -> ff++/c23/F2F"
    methods = ["ft", "lwf", "ewc", "er", "icarl", "cffd"]
    ablations = ["cffd-no-hscl", "cffd-no-slkd", "cffd-no-mfkd", "cffd-no-hybrid"]
    seeds = [0, 1, 2]
    replay_budget = 500
    frames_per_video = 8                    # crops of each video used in training and testing

    [datasets."ff++"]                       # cut into a crop cache first (resumed when interrupted)
    root = "/data/FaceForensics++"          # or on the command line: --root ff++=/data/FaceForensics++
    compression = "c23"

    [preprocess]                            # how faces are cut (the options of `cffd preprocess`)
    frames = 32

    [model]                                 # a preset and its overrides
    preset = "lite"

    [train]                                 # TrainSettings, plus first_task_epochs
    epochs = 10

    [strategy]                              # applied to every method (CFFD's weights, EWC's samples...)
    lambda_mfkd = 1.0
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from cffd_engine.config.core import ConfigError, check_keys, read_model, read_settings, read_toml, table

EXPERIMENT_KEYS = {
    "name", "description", "protocol", "methods", "ablations", "seeds", "seed", "replay_budget",
    "frames_per_video", "max_train_per_task", "evaluate_future_tasks", "tasks", "cache", "manifest",
}  # fmt: skip
EXPERIMENT_SECTIONS = ("datasets", "preprocess", "model", "train", "strategy")


EXPERIMENTS = Path(__file__).resolve().parents[2] / "resources" / "experiments"


def shipped_experiments() -> dict[str, Path]:
    """The ready experiment files (the paper's protocols), by name."""
    return {path.stem: path for path in sorted(EXPERIMENTS.glob("*.toml"))}


def load_experiment(path: Path | str, roots: dict[str, str] | None = None):
    """The ``BenchmarkConfig`` an experiment file states; ``roots`` ({dataset: folder}) replace its roots.

    ``path`` may also name a shipped experiment (``ff++-forgery-incremental``). Relative folders in the
    file (dataset roots, cache, manifest) are read from the file's own folder; ``roots`` from the
    working folder, as the command line gives them.
    """
    from cffd_engine.continual.benchmark_config import BenchmarkConfig

    path = _experiment_file(Path(path))
    data = read_toml(path, "an experiment file")
    sections = {name: table(data, name, path) for name in EXPERIMENT_SECTIONS}
    check_keys(data, EXPERIMENT_KEYS | set(EXPERIMENT_SECTIONS), path, None)
    # An experiment's own defaults: the paper's replay budget, every task trained alike.
    config: dict[str, Any] = {"name": str(data.get("name") or path.stem), "replay_budget": 500}
    config["first_task_epochs"] = None
    tasks = _read_protocol(data, path, config)
    _read_methods(data, path, config)
    _read_scalars(data, path, config)
    config["datasets"] = _read_datasets(sections["datasets"], tasks, roots, path, has_cache="cache" in config)
    config["preprocess"] = _read_preprocess(sections["preprocess"], path)
    config["model_preset"], config["model_overrides"] = read_model(sections["model"], path)
    _read_training(sections["train"], sections["strategy"], path, config)
    try:
        return BenchmarkConfig.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, None, str(exc)) from exc


def _experiment_file(path: Path) -> Path:
    """``path`` itself, or the shipped experiment it names."""
    if path.exists():
        return path
    shipped = shipped_experiments()
    if str(path.with_suffix("")) not in shipped:
        raise ConfigError(
            path, None, "no such file; give an experiment file, or name a shipped one", ", ".join(shipped)
        )
    return shipped[str(path.with_suffix(""))]


def _folder(value: Any, key: str, path: Path) -> str:
    """A folder named in the file at ``path``: relative ones are read from the file's own folder."""
    if not isinstance(value, str) or not value:
        raise ConfigError(path, key, "must be a folder path in quotes")
    folder = Path(value).expanduser()
    return str(folder if folder.is_absolute() else path.parent / folder)


def _read_protocol(data: dict, path: Path, config: dict[str, Any]) -> list:
    from cffd_engine.data.manifest import PROTOCOLS, parse_protocol

    allowed = f"{', '.join(PROTOCOLS)}, or tasks joined by '->'"
    protocol = data.get("protocol")
    if not isinstance(protocol, str) or not protocol.strip():
        raise ConfigError(path, "protocol", "missing", allowed)
    try:
        tasks = parse_protocol(PROTOCOLS.get(protocol, protocol))
    except ValueError as exc:
        raise ConfigError(path, "protocol", str(exc), allowed) from exc
    config["protocol"] = protocol
    return tasks


def _read_methods(data: dict, path: Path, config: dict[str, Any]) -> None:
    from cffd_engine.continual.benchmark_config import ABLATIONS, METHODS

    methods = data.get("methods", ["ft", "lwf", "ewc", "er", "icarl", "cffd"])
    ablations = data.get("ablations", [])
    if ablations is True:
        ablations = list(ABLATIONS)
    for key, names in (("methods", methods), ("ablations", ablations or [])):
        if not isinstance(names, list) or any(name not in METHODS for name in names):
            raise ConfigError(path, key, f"{names!r} names an unknown method", ", ".join(METHODS))
    config["methods"] = list(dict.fromkeys([*methods, *(ablations or [])]))


def _read_scalars(data: dict, path: Path, config: dict[str, Any]) -> None:
    """Seeds, counts, flags and the cache and manifest folders."""
    if "seeds" in data:
        seeds = data["seeds"]
        if not isinstance(seeds, list) or not seeds or any(type(s) is not int for s in seeds):
            raise ConfigError(path, "seeds", f"{seeds!r} is not a list of integers", "e.g. [0, 1, 2]")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(path, "seeds", f"{seeds!r} repeats a seed")
        config["seeds"] = seeds
    for key, kind in (
        ("seed", int), ("replay_budget", int), ("frames_per_video", int), ("max_train_per_task", int),
        ("evaluate_future_tasks", bool),
    ):  # fmt: skip
        if key in data:
            if type(data[key]) is not kind or (kind is int and data[key] < (0 if key == "seed" else 1)):
                raise ConfigError(
                    path, key, f"{data[key]!r} is not a {'positive ' if kind is int else ''}{kind.__name__}"
                )
            config[key] = data[key]
    if "tasks" in data:
        config["tasks"] = list(data["tasks"])
    for key in ("cache", "manifest"):
        if key in data:
            config[key] = _folder(data[key], key, path)


def _read_datasets(
    section: dict, tasks: list, roots: dict[str, str] | None, path: Path, has_cache: bool
) -> dict[str, dict[str, Any]]:
    """``[datasets."NAME"]`` tables by canonical name, each with its root set and its options checked."""
    from cffd_engine.data.adapters import ADAPTERS
    from cffd_engine.data.manifest import canonical_dataset

    datasets: dict[str, dict[str, Any]] = {}
    for name, options in section.items():
        try:
            canonical = canonical_dataset(name)
        except ValueError as exc:
            raise ConfigError(path, f"[datasets.{name}]", str(exc)) from exc
        if not isinstance(options, dict):
            raise ConfigError(path, f"[datasets.{name}]", 'must be a table with root = "folder"')
        options = dict(options)
        accepted = set(inspect.signature(ADAPTERS[canonical]).parameters) - {"root"}
        check_keys(options, accepted | {"root"}, path, f"datasets.{name}")
        given = (roots or {}).get(canonical)
        root = str(Path(given).expanduser().absolute()) if given else options.get("root")
        if not root or str(root).startswith("/path/to"):
            raise ConfigError(
                path,
                f"[datasets.{name}] root",
                "the dataset's folder is not set; write its path in the file or give "
                f"--root {canonical}=/folder/of/{canonical}",
            )
        options["root"] = _folder(str(root), f"[datasets.{name}] root", path)
        datasets[canonical] = options
    needed = {task.dataset for task in tasks}
    if datasets and needed - set(datasets):
        missing = sorted(needed - set(datasets))[0]
        raise ConfigError(
            path,
            "protocol",
            f"needs dataset {missing}, which [datasets] does not list",
            f"add [datasets.{missing}]",
        )
    if not datasets and not has_cache:
        raise ConfigError(
            path,
            "datasets",
            "no [datasets.NAME] with its root, and no cache",
            '[datasets."ff++"] root = ..., or cache = ...',
        )
    return datasets


def _read_preprocess(preprocess: dict, path: Path) -> dict:
    from cffd_engine.continual.benchmark_config import PREPROCESS_KEYS
    from cffd_engine.continual.experiment import preprocess_settings

    check_keys(preprocess, PREPROCESS_KEYS, path, "preprocess")
    if "cache" in preprocess:
        preprocess["cache"] = _folder(preprocess["cache"], "[preprocess] cache", path)
    try:
        preprocess_settings(preprocess)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "[preprocess]", str(exc)) from exc
    return preprocess


def _read_training(train: dict, strategy: dict, path: Path, config: dict[str, Any]) -> None:
    """``[train]`` (``TrainSettings`` and ``first_task_epochs``) and ``[strategy]`` (every method's)."""
    from cffd_engine.continual.config import StrategyConfig, TrainSettings

    if "first_task_epochs" in train:
        config["first_task_epochs"] = train.pop("first_task_epochs")
    config["train"] = read_settings(TrainSettings, train, path, "train")
    read_settings(StrategyConfig, strategy, path, "strategy", ("name",), name="cffd")
    config["strategy_overrides"] = strategy
