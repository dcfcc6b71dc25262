"""What a continual update takes and gives: the new task's examples, the version it starts from, the candidate."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cffd_engine import distributed
from cffd_engine.continual.buffer import ReplayBuffer
from cffd_engine.continual.report import UpdateReport
from cffd_engine.continual.samples import SampleSet
from cffd_engine.continual.validation import ValidationSets
from cffd_engine.model import RSIANet
from cffd_engine.store import BundleError, BundleManifest, ModelStore, load_model, verify_bundle
from cffd_engine.store.bundle import REPLAY_DIR, VALIDATION_DIR


@dataclass
class TaskData:
    """The examples of one task: fakes (and optionally reals) as crops, a name and a description.

    ``validation`` None: ``settings.validation_size`` faces are held out of ``samples``.
    """

    name: str
    samples: SampleSet
    validation: SampleSet | None = None
    description: str = ""
    date: str = field(default_factory=lambda: dt.date.today().isoformat())


@dataclass
class BaseModel:
    """A version to update from: its model, manifest, replay buffer and validation faces."""

    model: RSIANet
    manifest: BundleManifest
    buffer: ReplayBuffer
    validation: ValidationSets
    path: Path

    @classmethod
    def from_bundle(cls, path: Path | str) -> BaseModel:
        """Verify and load a bundle folder (a stored version or a finished staging folder)."""
        path = Path(path)
        manifest = verify_bundle(path)
        if not manifest.learnable or not (path / REPLAY_DIR).is_dir():
            fix = (
                "rebuild them from the training photos with `cffd models restore-data` "
                "(the model manager's 'Restore training faces')"
                if manifest.contents.get("recipe")
                else "use a version that has one"
            )
            raise BundleError(
                f"{path}: this model version carries no replay buffer (it was shared without its "
                f"training faces), so it cannot learn a new forgery without forgetting; {fix}"
            )
        validation = (
            ValidationSets.load(path / VALIDATION_DIR)
            if (path / VALIDATION_DIR).is_dir()
            else ValidationSets()
        )
        return cls(
            load_model(path, manifest, verify=False),
            manifest,
            ReplayBuffer.load(path / REPLAY_DIR),
            validation,
            path,
        )

    @classmethod
    def from_store(cls, store: ModelStore, version: str | None = None) -> BaseModel:
        """The given version, or the active one."""
        version = version or store.active_version()
        if version is None:
            raise BundleError(f"{store.root}: no active model version to update; import or train one first")
        return cls.from_bundle(store.path(version))


@dataclass
class Candidate:
    """A finished, verified bundle in the store's staging area, waiting to be accepted or discarded.

    ``trained`` is the same model, buffer and validation faces in memory: the base of a
    following update without reading the bundle back (under torchrun only rank 0 wrote it).
    """

    staged: Path
    manifest: BundleManifest
    report: UpdateReport
    store: ModelStore
    trained: BaseModel

    def accept(self, activate: bool = True) -> str:
        """Commit as the next version (and make it active); returns the version name.

        Under torchrun every process calls it: rank 0 commits, all learn the version.
        """
        version = None
        if distributed.world().is_main:
            version = self.store.commit(self.staged)
            if activate:
                self.store.activate(version)
        return distributed.broadcast(version)

    def discard(self) -> None:
        """Delete the staged bundle; the store is as before the update."""
        if distributed.world().is_main:
            shutil.rmtree(self.staged, ignore_errors=True)
