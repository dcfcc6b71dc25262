"""What users write, read in one place: every problem names the file, the key and what is allowed.

Each file a user writes is read and checked here, and every problem raises ``ConfigError``
with one message format, ``FILE: KEY: problem (allowed: ...)``:

- experiment files (TOML, ``cffd bench continual --config``): ``load_experiment``;
- benchmark configs (the ``config.json`` a run wrote, given back): ``read_benchmark_config``;
- training recipes (TOML, ``cffd train --config``): ``read_recipe``, ``recipe_from_text``;
- update files (TOML, ``cffd learn --config``): ``read_update_plan``;
- continual settings (JSON, ``ContinualSettings.save``): ``read_continual_settings``.

The dataclasses they make stay with the code that uses them (``Recipe`` in ``training``,
``UpdatePlan`` in ``learning``...); their ``load`` methods call these. Files the program
writes for itself (results, checkpoints, bundle manifests) are read where they are written.
"""

from cffd_engine.config.benchmark import read_benchmark_config
from cffd_engine.config.core import (
    ConfigError,
    check_types,
    read_continual,
    read_continual_settings,
    read_json,
    read_model,
    read_toml,
)
from cffd_engine.config.experiment import EXPERIMENTS, load_experiment, shipped_experiments
from cffd_engine.config.recipe import read_recipe, recipe_from_text
from cffd_engine.config.update import read_update_plan

__all__ = [
    "EXPERIMENTS",
    "ConfigError",
    "check_types",
    "load_experiment",
    "read_benchmark_config",
    "read_continual",
    "read_continual_settings",
    "read_json",
    "read_model",
    "read_recipe",
    "read_toml",
    "read_update_plan",
    "recipe_from_text",
    "shipped_experiments",
]
