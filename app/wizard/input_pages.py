"""The wizard's first pages: what it does, the examples of the new forgery, and its name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from app.evidence_queue import EVIDENCE_FILTER
from app.progress_panel import ProgressPanel
from app.theme import ERROR_STYLE, NOTE_STYLE
from cffd_engine.analysis.review_queue import GENUINE, MANIPULATED
from cffd_engine.continual.examples import FACES_PER_VIDEO

if TYPE_CHECKING:
    from app.wizard.wizard import LearnWizard

INTRO = """
<p>A new way of faking faces appeared, and the model does not recognise it yet? Show it examples and it
will learn to detect it.</p>
<ol>
<li>Choose <b>examples of the new forgery</b>: videos, pictures or folders of them. Genuine examples
are optional: without them, the genuine faces the model already keeps in memory are used.</li>
<li><b>Name</b> the forgery type, check the <b>faces</b> that were found, and start the update.</li>
<li>The model learns the new forgery while <b>rehearsing</b> the earlier ones, so it does not forget
them. This runs in the background and can be cancelled at any time.</li>
<li>You see how well the new model does on <b>every</b> forgery type, before and after, and then
<b>accept</b> it or <b>discard</b> it. Until you accept, nothing changes; and every earlier version
stays available in the model manager.</li>
</ol>
"""


class IntroPage(QWizardPage):
    """What the wizard does, in plain words, and which model it starts from."""

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self.setTitle("Learn a new forgery type")
        text = QLabel(INTRO)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.rebuild_button = QPushButton("Rebuild from my own genuine faces...")
        self.rebuild_button.setToolTip(
            "Choose a folder of genuine face images: the model's earlier forgery types are re-made from them, "
            "so that it can rehearse them while it learns (makes a new model version)"
        )
        self.rebuild_button.clicked.connect(self._choose_own_faces)
        self.progress = ProgressPanel()
        self.progress.cancel_requested.connect(self._cancel_rebuild)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.progress_label.setStyleSheet(NOTE_STYLE)
        self._job = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.rebuild_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.model_label)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addStretch(1)

    @property
    def rebuilding(self) -> bool:
        return self._job is not None

    def _show_rebuild(self) -> None:
        running = self.rebuilding
        self.rebuild_button.setVisible(self._wizard.can_rebuild_base())
        self.rebuild_button.setEnabled(not running)

    def _choose_own_faces(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder of your own genuine faces: pictures with one face each, or genuine videos"
        )
        if folder:
            self.rebuild_from(folder)

    def rebuild_from(self, folder: str | Path) -> None:
        """Rebuild the base version's training faces from ``folder`` in the background, with progress."""
        from cffd_engine.training import restore_training_faces

        store, version = self._wizard.store, self._wizard.base_version
        self.progress_label.clear()
        self.progress.begin(f"Rebuilding the faces {version} keeps in memory from {folder}")
        self._job = self._wizard.jobs.start(
            lambda control: restore_training_faces(store, version, control, faces=folder)
        )
        self._job.progress.connect(self.progress.update_progress)
        self._job.finished.connect(self._rebuilt)
        self._job.failed.connect(self._rebuild_failed)
        self._job.cancelled.connect(lambda: self._rebuild_failed("Cancelled: nothing was changed."))
        self._show_rebuild()

    def _cancel_rebuild(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _rebuilt(self, version: str) -> None:
        self._job = None
        self.progress.end()
        self.progress_label.setStyleSheet(NOTE_STYLE)
        self._wizard.use_base(version)
        self.progress_label.setText(f"Rebuilt as {version}: the update starts from it.")
        self.initializePage()
        self.completeChanged.emit()

    def _rebuild_failed(self, message: str) -> None:
        self._job = None
        self.progress.end()
        self.progress_label.setStyleSheet(ERROR_STYLE)
        self.progress_label.setText(message)
        self._show_rebuild()

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        self._show_rebuild()
        problem = self._wizard.base_problem()
        if problem:
            self.model_label.setStyleSheet(ERROR_STYLE)
            self.model_label.setText(problem)
        else:
            manifest = self._wizard.base_manifest
            known = ", ".join(str(t.get("name", "?")) for t in manifest.tasks) or "nothing recorded"
            self.model_label.setStyleSheet("")
            self.model_label.setText(
                f"The update starts from the model in use, <b>{self._wizard.base_version}</b>, which knows: "
                f"{known}."
            )

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        return self._wizard.base_problem() is None


class SourceList(QGroupBox):
    """A list of example files and folders, filled with buttons or by dropping them on it."""

    changed = Signal()

    def __init__(self, title: str, hint: str):
        super().__init__(title)
        self.list = QListWidget()
        self.list.setToolTip(hint)
        self.setAcceptDrops(True)  # the whole box, list included, takes dropped files
        add_files = QPushButton("Add videos or pictures...")
        add_files.clicked.connect(self._choose_files)
        add_folder = QPushButton("Add folder...")
        add_folder.clicked.connect(self._choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add_files)
        buttons.addWidget(add_folder)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        note = QLabel(hint)
        note.setWordWrap(True)
        note.setStyleSheet(NOTE_STYLE)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def paths(self) -> list[Path]:
        return [Path(self.list.item(row).text()) for row in range(self.list.count())]

    def add_paths(self, paths: list[Path | str]) -> None:
        known = set(map(str, self.paths()))
        for path in map(str, paths):
            if path not in known:
                self.list.addItem(path)
        self.changed.emit()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.add_paths([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()])
        event.acceptProposedAction()

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.title(), "", EVIDENCE_FILTER)
        self.add_paths(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.title())
        if folder:
            self.add_paths([folder])

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()


class ExamplesPage(QWizardPage):
    """Examples of the new forgery, optional genuine ones, and the faces kept in the review queue."""

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self.setTitle("Examples")
        self.setSubTitle(
            "Which videos or pictures show the new forgery? A few dozen faces work; hundreds work better."
        )
        self.fake_sources = SourceList(
            "Examples of the new forgery (required)",
            "Videos, pictures or folders in which the faces were manipulated with the new method.",
        )
        self.real_sources = SourceList(
            "Genuine examples (optional)",
            "Untouched videos or pictures, ideally from the same sources. Without them the model uses "
            "the genuine faces it keeps in memory.",
        )
        self.use_review = QCheckBox()
        self.faces_per_video = QSpinBox()
        self.faces_per_video.setRange(1, 1000)
        self.faces_per_video.setValue(FACES_PER_VIDEO)
        self.faces_per_video.setToolTip("Frames spread evenly over each video are searched for faces")
        form = QFormLayout()
        form.addRow("Faces taken from each video:", self.faces_per_video)
        layout = QVBoxLayout(self)
        layout.addWidget(self.fake_sources, stretch=1)
        layout.addWidget(self.real_sources, stretch=1)
        layout.addWidget(self.use_review)
        layout.addLayout(form)
        self.fake_sources.changed.connect(self.completeChanged)
        self.use_review.toggled.connect(self.completeChanged)

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        counts = self._wizard.review_queue.counts()
        self.use_review.setText(
            f"Also use the faces kept from verdicts I disputed ({counts[MANIPULATED]} found manipulated, "
            f"{counts[GENUINE]} found genuine)"
        )
        has_reviews = bool(counts[MANIPULATED] or counts[GENUINE])
        self.use_review.setEnabled(has_reviews)
        self.use_review.setChecked(has_reviews and self.use_review.isChecked())

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        reviewed_fakes = self.use_review.isChecked() and self._wizard.review_queue.counts()[MANIPULATED] > 0
        return bool(self.fake_sources.paths()) or reviewed_fakes


class NamePage(QWizardPage):
    """The new forgery type's name (it appears in the model card and in reports) and a description."""

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self.setTitle("Name the forgery type")
        self.setSubTitle("The name appears in the model card and in every report made with the new model.")
        self.name = QLineEdit()
        self.name.setPlaceholderText("for example: FaceFusion swap 2025")
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText(
            "Optional: where the examples come from (case, tool, source), for the model card"
        )
        self.description.setFixedHeight(90)
        self.problem = QLabel()
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)
        self.problem.hide()
        form = QFormLayout(self)
        form.addRow("Name:", self.name)
        form.addRow("Description:", self.description)
        form.addRow("", self.problem)
        self.name.textChanged.connect(self.completeChanged)

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        return bool(self.name.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 (Qt override)
        name = self.name.text().strip()
        known = [str(task.get("name")) for task in self._wizard.base_manifest.tasks]
        if name in known:
            self.problem.setText(
                f"The model already knows a forgery type named '{name}': choose another name."
            )
            self.problem.show()
            return False
        self.problem.hide()
        return True
