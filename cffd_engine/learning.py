"""``cffd learn``: one continual update of a stored model from an update file, as the wizard makes.

An update file (TOML) names the new forgery type, where its examples are, and the
continual settings; the update starts from the active version (or ``base``), and the
result is committed to the store as a new version (active with ``--activate``), with
its accuracy on every task's held-out faces before and after in ``update_report.json``.

    name = "texture-2026"
    description = "mouth re-rendering seen in case 2026-114"
    base = "v3"                     # optional: default, the active version

    [examples]                      # one of:
    folder = "crops/"               #   face crops in real/ and fake/ sub-folders
    validation = "crops-val/"       #   (optional) held-out faces laid out the same way
    # forgery = "clips/"            #   videos and pictures of the new forgery (a file or a folder),
    # genuine = "mine/"             #   (optional) and genuine ones: faces are found as the wizard does
    # sequence = "built/"           #   a task of a `cffd synth build` sequence: train and val splits
    # cache = "cache/"              #   a task of a preprocessing cache (`cffd preprocess`)
    # manifest = "manifest.json"
    # task = "texture"              #   (sequence: the family; cache: e.g. "ff++/c23/NT")

    [continual]                     # changes to the wizard's settings (continual.update_settings)
    [continual.train]
    epochs = 3

Runs as one process or under torchrun like ``cffd train`` (``cffd_engine.distributed``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cffd_engine.errors import CFFDError

log = logging.getLogger(__name__)

REPORT_FILE = "update_report.json"


@dataclass(frozen=True)
class UpdatePlan:
    """An update file as read: the new task, its examples, the base version and the settings."""

    name: str
    description: str = ""
    base: str | None = None
    examples: dict[str, str] = field(default_factory=dict)
    continual: dict[str, Any] = field(default_factory=dict)
    folder: Path = Path(".")  # relative example paths are relative to the update file

    def path(self, key: str) -> Path:
        return self.folder / Path(self.examples[key]).expanduser()

    def task_data(self, size: int, job=None):
        """The new task's examples at ``size`` px (``TaskData``), with its own validation faces if given."""
        from cffd_engine.continual import TaskData
        from cffd_engine.continual.protocols import load_cache_protocol, load_synthetic_sequence
        from cffd_engine.continual.samples import SampleError, load_labelled_folder

        try:
            if "forgery" in self.examples:
                samples, source = self._faces_found(size, job), str(self.path("forgery"))
                validation = None
            elif "folder" in self.examples:
                samples = load_labelled_folder(self.path("folder"), size, self.name)
                validation = (
                    load_labelled_folder(self.path("validation"), size, self.name)
                    if "validation" in self.examples
                    else None
                )
                source = str(self.path("folder"))
            else:
                if "sequence" in self.examples:
                    (task,) = load_synthetic_sequence(
                        self.path("sequence"), size, [self.examples["task"]], job
                    )
                    source = f"task {task.name} of {self.path('sequence')}"
                else:
                    (task,) = load_cache_protocol(
                        self.path("cache"), self.path("manifest"), self.examples["task"], size, job=job
                    )
                    source = f"task {task.name} of {self.path('cache')}"
                samples, validation = task.train, task.val
        except SampleError as exc:
            raise CFFDError(str(exc)) from exc
        counts = samples.counts()
        description = self.description or (
            f"{counts['fake']} manipulated and {counts['real']} genuine faces from {source}"
        )
        return TaskData(self.name, samples, validation, description)

    def _faces_found(self, size: int, job=None):
        """The faces in the ``forgery`` (and ``genuine``) videos and pictures, found as the wizard finds them."""
        from cffd_engine.continual.examples import gather_faces

        given = [self.path(key) for key in ("forgery", "genuine") if key in self.examples]
        missing = [str(path) for path in given if not path.exists()]
        if missing:
            raise CFFDError(f"[examples] no such file or folder: {', '.join(missing)}")
        genuine = [self.path("genuine")] if "genuine" in self.examples else []
        gathered = gather_faces([self.path("forgery")], genuine, size, job=job)
        for source in gathered.sources:
            if source.problem:
                log.warning("%s: no faces used (%s)", source.path, source.problem)
        if not gathered.fake:
            raise CFFDError(f"{self.path('forgery')}: no faces found in its videos and pictures")
        return gathered.task_data(self.name, "", size).samples
