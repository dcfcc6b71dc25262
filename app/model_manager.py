"""The model manager: every stored model version, its card, and what can be done with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.theme import ERROR_STYLE, INFO_STYLE
from app.workers import Job, JobGroup
from cffd_engine.store import BundleError, ImportedBundle, ModelStore, VersionInfo, model_card
from cffd_engine.training import restore_training_faces, training_photos_present

BUNDLE_FILTER = "CFFD model bundle (*.cffd *.zip);;All files (*)"


def accuracy_text(store: ModelStore, version: str) -> str:
    """Mean accuracy over every task after the version's last update, from its manifest."""
    try:
        matrix = store.manifest(version).metrics.get("accuracy") or []
    except BundleError:
        return "-"
    final = [value for value in (matrix[-1] if matrix else []) if value is not None]
    return f"{100 * sum(final) / len(final):.1f}%" if final else "-"


def active_model_text(store: ModelStore) -> str:
    """The status bar's line: which version analyses, and what it learned."""
    version = store.active_version()
    if version is None:
        return "No model installed (Models > Manage models to import one)"
    try:
        tasks = [str(task.get("name", "?")) for task in store.manifest(version).tasks]
    except BundleError:
        tasks = []
    learned = f", knows: {', '.join(tasks)}" if tasks else ""
    return f"Active model: {version}{learned}"


class ModelManager(QDialog):
    """Versions table, model card and activation history; activate, undo an activation, roll back, import,
    export and delete in the background.

    ``active_changed(version or None)`` after anything that may change the active version;
    ``operation_done(message)`` / ``operation_failed(message)`` after each operation.
    """

    active_changed = Signal(object)
    operation_done = Signal(str)
    operation_failed = Signal(str)

    COLUMNS = (
        "Version",
        "Status",
        "Created",
        "Forgery types learned",
        "Made from",
        "Mean accuracy",
        "Can learn",
    )

    def __init__(self, store: ModelStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.resize(1000, 560)
        self.store = store
        self._jobs = JobGroup()
        self._build_table()
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        row = self._build_buttons()
        lower = self._build_card_and_history()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setSizes([170, 330])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Model store: {store.root}"))
        layout.addWidget(splitter, stretch=1)
        layout.addWidget(self.message)
        layout.addLayout(row)
        self.refresh()

    def _build_table(self) -> None:
        """One row per stored version; selecting one shows its card."""
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)

    def _build_buttons(self) -> QHBoxLayout:
        """What can be done with the selected version, and Close."""
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for name, text, slot in (
            ("activate", "Use this version", self._activate_selected),
            ("undo", "Undo activation", self.undo_activation),
            ("rollback", "Roll back", self.roll_back),
            ("import", "Import...", self._choose_import),
            ("export", "Export...", self._choose_export),
            ("restore", "Restore training faces", self._restore_selected),
            ("delete", "Delete", self._delete_selected),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            self.buttons[name] = button
            row.addWidget(button)
        row.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        self.buttons["rollback"].setToolTip("Go back to the version the active one was made from")
        self.buttons["restore"].setToolTip(
            "Rebuild the faces a shared model left out, so that it can learn new forgeries (makes a new "
            "version): from its training photos when they are on this computer, else from a folder of "
            "your own genuine face images"
        )
        return row

    def _build_card_and_history(self) -> QSplitter:
        """The selected version's model card beside the activation history."""
        self.history = QListWidget()
        self.history.setToolTip("Every change of the active version, newest first")
        history_pane = QWidget()
        history_layout = QVBoxLayout(history_pane)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.addWidget(QLabel("Activation history (UTC)"))
        history_layout.addWidget(self.history)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.card)
        lower.addWidget(history_pane)
        lower.setSizes([700, 300])
        return lower

    def refresh(self, select: str | None = None) -> None:
        keep = select or self.selected_version()
        rows = self.store.list()
        self.table.setRowCount(0)
        for info in rows:
            self._add_row(info)
        versions = [info.version for info in rows]
        target = keep if keep in versions else self.store.active_version()
        if target in versions:
            self.table.selectRow(versions.index(target))
        else:
            self.card.setMarkdown(
                "# No model installed\n\nImport a model bundle (a `.cffd` file or a bundle folder) "
                "with **Import...** to analyse evidence."
            )
        self._show_history(set(versions))
        self._update_buttons()

    def _show_history(self, stored: set[str]) -> None:
        self.history.clear()
        for entry in reversed(self.store.activation_history()):
            gone = "" if entry.version in stored else " (deleted)"
            self.history.addItem(
                f"{entry.time[:19].replace('T', ' ')}  {entry.version}{gone}: {entry.action}"
            )

    def _add_row(self, info: VersionInfo) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        status = "● active" if info.active else ("unreadable" if info.problem else "")
        cells = (
            info.version,
            status,
            info.created[:19].replace("T", " "),
            ", ".join(info.tasks) or "-",
            info.parent_version or "-",
            accuracy_text(self.store, info.version) if not info.problem else "-",
            "yes" if info.learnable else "no",
        )
        for column, text in enumerate(cells):
            cell = QTableWidgetItem(text)
            if info.active:
                font = cell.font()
                font.setBold(True)
                cell.setFont(font)
            if info.problem:
                cell.setToolTip(info.problem)
            self.table.setItem(row, column, cell)

    def selected_version(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def _selection_changed(self) -> None:
        version = self.selected_version()
        if version is not None:
            try:
                self.card.setMarkdown(model_card(self.store.manifest(version)))
            except BundleError as exc:
                self.card.setPlainText(str(exc))
        self._update_buttons()

    def _update_buttons(self) -> None:
        version, active = self.selected_version(), self.store.active_version()
        busy = len(self._jobs) > 0
        self.buttons["activate"].setEnabled(not busy and version is not None and version != active)
        self.buttons["delete"].setEnabled(not busy and version is not None and version != active)
        self.buttons["export"].setEnabled(not busy and version is not None)
        self.buttons["import"].setEnabled(not busy)
        self.buttons["rollback"].setEnabled(not busy and active is not None)
        undo_target = self.store.undo_target()
        undo = self.buttons["undo"]
        undo.setEnabled(not busy and undo_target is not None)
        undo.setText(f"Undo activation (back to {undo_target})" if undo_target else "Undo activation")
        undo.setToolTip(
            f"Make {undo_target} active again, as it was before the last activation"
            if undo_target
            else "Nothing to undo: no other version was active before this one"
        )
        self.buttons["restore"].setEnabled(not busy and version is not None and self._restorable(version))

    def _restorable(self, version: str) -> bool:
        try:
            manifest = self.store.manifest(version)
        except BundleError:
            return False
        return not manifest.learnable and bool(manifest.contents.get("recipe"))

    # Operations: each runs in the background and reports in the message line -----------------

    def activate(self, version: str) -> None:
        self._run(lambda control: self.store.activate(version), f"{version} is now the active model.")

    def undo_activation(self) -> None:
        self._run(lambda control: self.store.undo_activation(), "Undone: {} is the active model again.")

    def roll_back(self) -> None:
        self._run(lambda control: self.store.rollback(), "Rolled back: {} is now the active model.")

    def import_bundle(self, path: Path | str) -> None:
        path = Path(path)
        job = self._start(lambda control: self.store.import_bundle(path))
        job.finished.connect(lambda imported: self._imported(path, imported))

    def _imported(self, path: Path, imported: ImportedBundle) -> None:
        if imported.already_stored:
            message = f"{path.name} is already in the store as {imported.version}; nothing was added."
        else:
            message = f"Imported {path.name} as {imported.version}."
        if imported.version != self.store.active_version():
            message += " Press 'Use this version' to analyse with it."
        self._done(message, select=imported.version)

    def export_version(self, version: str, path: Path | str, include_private_data: bool) -> None:
        self._run(
            lambda control: self.store.export(version, Path(path), include_private_data),
            f"Exported {version} to {{}}.",
        )

    def restore_training_faces(self, version: str, faces: Path | str | None = None) -> None:
        """Rebuild from the training photos, or, with ``faces``, from a folder of the analyst's own genuine faces."""
        source = f" from {faces}" if faces else ""
        self._run(
            lambda control: restore_training_faces(self.store, version, control, faces=faces),
            f"{{}} is {version} with its training faces rebuilt{source}: it can learn new forgeries.",
        )

    def delete(self, version: str) -> None:
        self._run(lambda control: self.store.delete(version), f"Deleted {version}.")

    def _run(self, work: Callable, done: str) -> None:
        """Run ``work`` in the background; on success show ``done`` with its result in place of ``{}``."""
        self._start(work).finished.connect(lambda value: self._done(done.format(value)))

    def _start(self, work: Callable) -> Job:
        self.message.hide()
        job = self._jobs.start(work)
        job.failed.connect(self._failed)
        self._update_buttons()
        return job

    def _done(self, message: str, select: str | None = None) -> None:
        self.refresh(select)
        self._show(INFO_STYLE, message)
        self.active_changed.emit(self.store.active_version())
        self.operation_done.emit(message)

    def _failed(self, message: str) -> None:
        self.refresh()
        self._show(ERROR_STYLE, f"Nothing was changed. {message}")
        self.operation_failed.emit(message)

    def _show(self, style: str, text: str) -> None:
        self.message.setStyleSheet(style)
        self.message.setText(text)
        self.message.show()

    # Buttons: ask what is needed, then run the operation -------------------------------------

    def _activate_selected(self) -> None:
        if (version := self.selected_version()) is not None:
            self.activate(version)

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model bundle", "", BUNDLE_FILTER)
        if path:
            self.import_bundle(path)

    def _choose_export(self) -> None:
        version = self.selected_version()
        if version is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {version}", f"cffd-model-{version}.cffd", BUNDLE_FILTER
        )
        if not path:
            return
        answer = QMessageBox.question(
            self,
            "Include the training faces?",
            "The bundle can carry the faces the model keeps to learn new forgeries without forgetting "
            "(its replay buffer and validation faces). They are photographs of people.\n\n"
            "Include them? Without them the exported model can analyse evidence but cannot learn.",
        )
        self.export_version(version, path, answer == QMessageBox.StandardButton.Yes)

    def _restore_selected(self) -> None:
        if (version := self.selected_version()) is None:
            return
        if training_photos_present(self.store.manifest(version)):
            self.restore_training_faces(version)
            return
        # A fresh install has none of the training photos: the analyst's own genuine faces serve instead.
        folder = QFileDialog.getExistingDirectory(
            self, "Folder of your own genuine faces: pictures with one face each, or genuine videos"
        )
        if folder:
            self.restore_training_faces(version, folder)

    def _delete_selected(self) -> None:
        version = self.selected_version()
        if version is None:
            return
        answer = QMessageBox.question(
            self,
            f"Delete {version}?",
            f"Delete model version {version} from this computer? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(version)

    def done(self, result: int) -> None:
        self._jobs.abandon_all()
        super().done(result)
