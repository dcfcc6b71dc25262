"""The "learn new forgery" wizard: examples in, a continual update in the background, accept or discard."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from app.wizard.faces_page import FacesPage
from app.wizard.input_pages import ExamplesPage, IntroPage, NamePage
from app.wizard.results_page import ResultsPage
from app.wizard.settings_page import SettingsPage
from app.wizard.training_page import TrainingPage
from app.workers import JobGroup
from cffd_engine.analysis.review_queue import ReviewQueue
from cffd_engine.continual import ContinualSettings, update_settings
from cffd_engine.continual.buffer import stored_genuine_faces
from cffd_engine.store import BundleError, BundleManifest, ModelStore
from cffd_engine.store.bundle import REPLAY_DIR
from cffd_engine.training import own_faces_needed


class LearnWizard(QWizard):
    """Intro, examples, name, faces, settings, training, results; starts from the active model version.

    Closing it at any point, or cancelling the update, leaves the store as it was: a
    running update is cancelled and a finished but undecided one is discarded.
    """

    faces_ready = Signal(object)  # GatheredFaces
    training_finished = Signal(object)  # Candidate
    training_cancelled = Signal()
    training_failed = Signal(str)
    model_accepted = Signal(str)  # the new version, now active
    update_discarded = Signal()

    def __init__(
        self,
        store: ModelStore,
        review_queue: ReviewQueue,
        settings: ContinualSettings | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Learn a new forgery")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.resize(900, 680)
        self.store = store
        self.review_queue = review_queue
        self.default_settings = settings or update_settings()
        self.jobs = JobGroup()
        self.base_version = store.active_version()
        self.base_manifest: BundleManifest | None = None
        self._base_problem: str | None = None
        self._load_base()
        self.intro_page = IntroPage(self)
        self.examples_page = ExamplesPage(self)
        self.name_page = NamePage(self)
        self.faces_page = FacesPage(self)
        self.settings_page = SettingsPage(self)
        self.training_page = TrainingPage(self)
        self.results_page = ResultsPage(self)
        for page in (
            self.intro_page,
            self.examples_page,
            self.name_page,
            self.faces_page,
            self.settings_page,
            self.training_page,
            self.results_page,
        ):
            self.addPage(page)
        self.setButtonLayout(
            [
                QWizard.WizardButton.Stretch,
                QWizard.WizardButton.BackButton,
                QWizard.WizardButton.NextButton,
                QWizard.WizardButton.CommitButton,
                QWizard.WizardButton.CancelButton,
            ]
        )

    def _load_base(self) -> None:
        self._base_problem = None
        if self.base_version is None:
            self._base_problem = (
                "No model is installed, so there is nothing to update. Import a model bundle in "
                "Models > Manage models first."
            )
            return
        try:
            self.base_manifest = self.store.manifest(self.base_version)
        except BundleError as exc:
            self._base_problem = f"The model in use ({self.base_version}) cannot be read: {exc}"
            return
        if not self.base_manifest.learnable:
            fix = (
                "Rebuild them below from a folder of your own genuine faces (pictures with one face each, or "
                f"genuine videos, two faces a second; {own_faces_needed(self.base_manifest)} faces or more), or "
                "from its training photos if "
                "they are on this computer (Models > Manage models > Restore training faces)."
                if self.base_manifest.contents.get("recipe")
                else "Use a version that has them (see the model manager)."
            )
            self._base_problem = (
                f"The model in use ({self.base_version}) was shared without the faces it keeps in memory, "
                f"so it cannot learn without forgetting. {fix}"
            )

    def can_rebuild_base(self) -> bool:
        """Whether the base version lacks its training faces but carries the recipe to rebuild them."""
        manifest = self.base_manifest
        return manifest is not None and not manifest.learnable and bool(manifest.contents.get("recipe"))

    def use_base(self, version: str) -> None:
        """Start from ``version`` (the rebuilt copy of the base)."""
        self.base_version = version
        self._load_base()

    def base_problem(self) -> str | None:
        """Why no update can start from the active version, or None."""
        return self._base_problem

    @property
    def input_size(self) -> int:
        return int(self.base_manifest.model_config.get("input_size", 224))

    def replay_genuine_count(self) -> int:
        """Genuine faces in the base version's replay buffer (the stand-ins when the analyst gives none)."""
        return stored_genuine_faces(self.store.path(self.base_version) / REPLAY_DIR)

    def finish_accepted(self, version: str) -> None:
        self.model_accepted.emit(version)
        self.done(QWizard.DialogCode.Accepted)

    def finish_discarded(self) -> None:
        self.update_discarded.emit()
        self.done(QWizard.DialogCode.Rejected)

    def reject(self) -> None:
        """Closing or cancelling: stop a running update and drop an undecided candidate."""
        self.training_page.abandon()
        candidate = self.training_page.candidate
        if candidate is not None and not self.results_page.decided:
            self.training_page.candidate = None
            candidate.discard()
            self.update_discarded.emit()
        self.jobs.abandon_all()
        super().reject()
