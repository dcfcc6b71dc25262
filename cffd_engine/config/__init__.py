"""What users write, read in one place: every problem names the file, the key and what is allowed.

Each file a user writes is read and checked here, and every problem raises ``ConfigError``
with one message format, ``FILE: KEY: problem (allowed: ...)``:

- experiment files (TOML, ``cffd bench continual --config``): ``load_experiment``;
- continual settings (JSON, ``ContinualSettings.save``): ``read_continual_settings``.

The dataclasses they make stay with the code that uses them; their ``load`` methods call
these. Files the program writes for itself (results, checkpoints, bundle manifests) are
read where they are written.
"""

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

__all__ = [
    "EXPERIMENTS",
    "ConfigError",
    "check_types",
    "load_experiment",
    "read_continual",
    "read_continual_settings",
    "read_json",
    "read_model",
    "read_toml",
    "shipped_experiments",
]
