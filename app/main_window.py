"""The analyst's window: the evidence queue, the analysis in the background, and one result explained."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.analysis_runner import AnalysisRunner
from app.evidence_queue import (
    ANALYSING,
    CANCELLED,
    EVIDENCE_FILTER,
    FAILED,
    READING,
    WAITING,
    WAITING_FOR_MODEL,
    EvidenceQueue,
)
from app.item_view import ItemView
from app.menus import WindowMenus
from app.model_manager import active_model_text
from app.notice_bar import NoticeBar
from app.progress_panel import ProgressPanel
from app.review_dialog import ReviewDialog
from app.theme import ERROR_STYLE, INFO_STYLE
from app.welcome_panel import WelcomePanel
from app.workers import JobGroup
from cffd_engine.analysis import AnalysisResult, AnalysisSettings
from cffd_engine.analysis.review_queue import ReviewQueue, example_label
from cffd_engine.cases import CaseEntry, CaseFolder, default_case_root
from cffd_engine.errors import CaseError
from cffd_engine.media.intake import pick_files
from cffd_engine.store import ModelStore

if TYPE_CHECKING:  # the dialogs load torch, reportlab and OpenCV: imported when first opened
    from app.export_dialog import ExportDialog
    from app.model_manager import ModelManager
    from app.wizard import LearnWizard
    from cffd_engine.continual import ContinualSettings


PRELOAD_DELAY_MS = 100


def default_settings() -> QSettings:
    return QSettings("CFFD Studio", "CFFD Studio")


@dataclass(frozen=True)
class StoredResult:
    """Handed from the thread reading a case: an entry's stored result, or why it could not be read."""

    item_id: int
    result: AnalysisResult | None
    problem: str | None = None


class MainWindow(QMainWindow):
    """Evidence in (drop, open, folders), analysed in turn in a worker, each result explained on selection.

    Everything brought in belongs to the open case (a folder: ``cffd_engine.cases``), so results,
    reviews and reports outlive the window. ``store``, ``settings``, ``review_queue``, ``case``
    and the analysis/continual settings default to the user's own; tests pass their own.
    """

    evidence_loaded = Signal(object)  # MediaInfo of the selected file
    evidence_failed = Signal(str)
    hashes_ready = Signal(dict)
    analysis_finished = Signal(object)  # AnalysisResult
    analysis_cancelled = Signal(list)
    feedback_kept = Signal(int)
    review_saved = Signal(object)  # the AnalysisResult, reviewed
    model_ready = Signal(object)  # the active version (str), loaded and ready to analyse
    active_model_changed = Signal(object)

    def __init__(
        self,
        store: ModelStore | None = None,
        settings: QSettings | None = None,
        review_queue: ReviewQueue | None = None,
        analysis_settings: AnalysisSettings | None = None,
        continual_settings: ContinualSettings | None = None,
        demo_dir: Path | None = None,
        default_bundle: Path | None = None,
        case: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("CFFD Studio")
        self.setAcceptDrops(True)
        screen = QGuiApplication.primaryScreen().availableGeometry()
        self.resize(min(1400, screen.width()), min(900, screen.height()))
        self.store = store or ModelStore()
        self.settings = settings or default_settings()
        self.review_queue = review_queue or ReviewQueue()
        self.continual_settings = continual_settings
        self.demo_dir = demo_dir
        self._jobs = JobGroup()
        self._demo_job = None
        self.runner = AnalysisRunner(self.store, analysis_settings or AnalysisSettings(), self)
        self._build_banners()
        self._build_central(self._build_evidence_column())
        self._build_status_bar()
        self.menus = WindowMenus(self, self.settings)
        self._connect()
        self._refresh_model()
        self.statusBar().showMessage("Ready")
        self.case: CaseFolder | None = None
        if not self.open_case(case or self.menus.last_case() or default_case_root()) and case is None:
            self.open_case(default_case_root())
        self._start_model(default_bundle)

    def _build_banners(self) -> None:
        """The lines above everything: an error, the model's state, a notice."""
        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_banner.setStyleSheet(ERROR_STYLE)
        self.error_banner.hide()
        self.model_banner = QLabel()
        self.model_banner.setWordWrap(True)
        self.model_banner.setStyleSheet(INFO_STYLE)
        self.model_banner.hide()
        self.notice = NoticeBar()

    def _build_evidence_column(self) -> QWidget:
        """The left column: the evidence queue, the buttons that add to it, the analysis progress."""
        self.queue = EvidenceQueue()
        self.progress = ProgressPanel()
        add_files = QPushButton("Add files...")
        add_files.clicked.connect(self.choose_files)
        add_folder = QPushButton("Add folder...")
        add_folder.clicked.connect(self.choose_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(add_files)
        buttons.addWidget(add_folder)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Evidence</b>"))
        left_layout.addWidget(self.queue, stretch=1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        return left

    def _build_central(self, left: QWidget) -> None:
        """The banners over the evidence column and, beside it, the welcome panel or the selected item."""
        self.welcome = WelcomePanel(self.store)
        self.item_view = ItemView(self.store)
        self.results_view = self.item_view.results_view
        self.evidence_panel = self.item_view.evidence_panel
        self.right_stack = QStackedWidget()
        self.right_stack.addWidget(self.welcome)
        self.right_stack.addWidget(self.item_view)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.right_stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 1040])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.model_banner)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.model_label = QLabel()
        self.detector_label = QLabel()
        self.detector_label.setToolTip("torch and the active model load behind the window at start")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.detector_label)

    def _start_model(self, default_bundle: Path | None) -> None:
        """Install the shipped model into an empty store, or load the active one behind the window."""
        if default_bundle is not None and default_bundle.exists() and self.store.active_version() is None:
            self._install_default(default_bundle)
        else:
            # After the first paint: the window takes drops while torch and the model load behind it.
            QTimer.singleShot(PRELOAD_DELAY_MS, self._preload_model)

    def _connect(self) -> None:
        self.queue.item_selected.connect(self._show_item)
        self.queue.reanalyse_requested.connect(self._reanalyse)
        self.queue.remove_requested.connect(self._remove)
        self.progress.cancel_requested.connect(self._cancel_work)
        runner = self.runner
        runner.item_started.connect(self._item_started)
        runner.item_progress.connect(self._item_progress)
        runner.item_finished.connect(self._item_finished)
        runner.items_cancelled.connect(self._items_stopped)
        runner.batch_failed.connect(self._batch_failed)
        runner.idle.connect(self.progress.end)
        runner.model_missing.connect(self._model_missing)
        runner.model_loaded.connect(self._model_loaded)
        runner.model_failed.connect(self._model_failed)
        panel = self.evidence_panel
        panel.evidence_loaded.connect(self.evidence_loaded)
        panel.hashes_ready.connect(self.hashes_ready)
        panel.evidence_failed.connect(self._evidence_failed)
        self.results_view.verdict_card.review_requested.connect(self.open_review_dialog)
        self.welcome.demo_requested.connect(self.analyse_demo)
        self.welcome.models_requested.connect(self.open_model_manager)

    @property
    def verdict_label(self) -> QLabel:
        return self.results_view.verdict_card.verdict_label

    # Evidence in -----------------------------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open evidence", self.menus.last_folder(), EVIDENCE_FILTER
        )
        if paths:
            self.open_paths(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of evidence", self.menus.last_folder())
        if folder:
            self.open_paths([folder])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def open_paths(self, paths: list[str | Path]) -> None:
        """Queue every file among ``paths`` (folders: their videos and images) and show the first.

        A file whose evidence is already in the case is not queued again: its result is shown.
        """
        paths = [Path(p) for p in paths]
        files = pick_files(paths)
        if not files:
            self._show_error(f"{', '.join(map(str, paths))}: nothing to open (no video or image found)")
            return
        self.error_banner.hide()
        self.notice.hide()
        self.menus.remember(paths)
        maybe_known = [path for path in files if self.case is not None and self.case.might_hold(path)]
        self._queue_files([path for path in files if path not in maybe_known])
        if maybe_known:  # hashing may take a while: in the background, then queued or pointed to
            case = self.case
            job = self._jobs.start(lambda control: [(p, case.same_evidence(p, control)) for p in maybe_known])
            job.finished.connect(lambda found: self._sort_known(case, found))
            job.failed.connect(lambda message: self._show_error(f"The case could not be searched: {message}"))

    def _queue_files(self, files: list[Path]) -> None:
        if not files:
            return
        entries = self._in_case(lambda case: case.add(files)) or [None] * len(files)
        items = [self.queue.add(path) for path in files]
        for item, entry in zip(items, entries, strict=True):
            item.entry_id = entry.id if entry is not None else None
        self.right_stack.setCurrentWidget(self.item_view)
        self.queue.select(items[0].id)
        for item in items:
            self.runner.enqueue(item.id, item.path)
        self.statusBar().showMessage(f"{len(files)} file(s) added to the queue")

    def _sort_known(self, case: CaseFolder, found: list[tuple[Path, CaseEntry | None]]) -> None:
        if case is not self.case:
            return  # another case was opened meanwhile
        self._queue_files([path for path, entry in found if entry is None])
        known = [(path, self._item_of(entry)) for path, entry in found if entry is not None]
        known = [(path, item) for path, item in known if item is not None]
        if not known:
            return
        self.right_stack.setCurrentWidget(self.item_view)
        self.queue.select(known[0][1].id)
        active = self.store.active_version() or "the active model"
        lines = []
        for path, item in known:
            how = (
                f"analysed with model {item.result.model.version or item.result.model.source} "
                f"on {item.result.finished_utc[:10]}"
                if item.result is not None
                else "waiting for analysis"
            )
            lines.append(f"{path.name} is already in this case as {item.path.name} ({how})")
        self.notice.show_notice(
            "; ".join(lines) + ". Showing the case's result, not analysing it again.",
            f"Analyse again with {active}",
            lambda: [self._reanalyse(item.id) for _, item in known if item.id in self.queue.items],
            "Adds a new result; the earlier one stays in the case folder. To use another model "
            "version, activate it in Models > Manage models first.",
        )

    def _item_of(self, entry: CaseEntry):
        return next((item for item in self.queue.items.values() if item.entry_id == entry.id), None)

    # Cases -----------------------------------------------------------------------------------

    def open_case(self, root: Path) -> bool:
        """Close the open case's queue and show the case at ``root`` (made if new); False if it cannot be used."""
        try:
            case = CaseFolder(root)
        except CaseError as exc:
            still = f" Case {self.case.name} stays open." if self.case is not None else ""
            self._show_error(f"{exc}{still}")
            return False
        self.runner.cancel()
        for item_id in list(self.queue.items):
            self.runner.remove(item_id)
            self.item_view.forget(item_id)
            self.queue.remove(item_id)
        self.case = case
        self.menus.remember_case(case.root)
        self.setWindowTitle(f"CFFD Studio - {case.name}")
        stored = []
        for entry in case.entries():
            item = self.queue.add(Path(entry.path))
            item.entry_id = entry.id
            if entry.result is None:  # brought in but not analysed before the window closed
                self.runner.enqueue(item.id, item.path)
            else:
                self.queue.set_status(item.id, READING)
                stored.append((item.id, entry.id))
        if stored:  # results of long videos take seconds to read: behind the shown window
            self._read_case(case, stored)
        self.right_stack.setCurrentWidget(self.welcome)
        self.statusBar().showMessage(f"Opened the case {case.root}: {len(self.queue.items)} file(s)")
        return True

    def _read_case(self, case: CaseFolder, stored: list[tuple[int, str]]) -> None:
        def read(control) -> None:
            for item_id, entry_id in stored:
                control.check()
                try:
                    control.publish(StoredResult(item_id, case.load_result(entry_id)))
                except CaseError as exc:
                    control.publish(StoredResult(item_id, None, str(exc)))

        problems: list[str] = []
        job = self._jobs.start(read)
        job.partial.connect(lambda stored: self._result_read(case, stored, problems))
        job.failed.connect(
            lambda message: self._show_error(f"The case {case.root} could not be read: {message}")
        )

    def _result_read(self, case: CaseFolder, stored: StoredResult, problems: list) -> None:
        item_id, result = stored.item_id, stored.result
        item = self.queue.items.get(item_id)
        if case is not self.case or item is None or item.status != READING:
            return  # another case opened, the file removed or analysed again meanwhile
        if result is None:
            problems.append(stored.problem)
            self.queue.set_status(item_id, FAILED)
            self._show_error("\n".join(problems))
            return
        self.queue.set_result(item_id, result)
        if self.queue.selected_id() == item_id:
            self.item_view.show_result(item_id, result)

    def choose_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open or make a case folder", str(self.case.root.parent if self.case else Path.home())
        )
        if folder:
            self.open_case(Path(folder))

    def _in_case(self, write):
        """``write(case)`` on the open case; its failure is shown, never lost silently (returns None then)."""
        if self.case is None:
            return None
        try:
            return write(self.case)
        except (CaseError, OSError) as exc:
            self._show_error(f"The case folder {self.case.root} could not be updated: {exc}")
            return None

    # The queue's items -----------------------------------------------------------------------

    def _show_item(self, item_id: int) -> None:
        self.error_banner.hide()
        self.item_view.show_item(self.queue.items[item_id])

    def _reanalyse(self, item_id: int) -> None:
        item = self.queue.items[item_id]
        self.queue.set_status(item_id, WAITING)
        self.item_view.forget(item_id)
        if self.queue.selected_id() == item_id:
            self._show_item(item_id)
        self.runner.enqueue(item_id, item.path)

    def _remove(self, item_id: int) -> None:
        entry_id = self.queue.items[item_id].entry_id
        if entry_id is not None:
            self._in_case(lambda case: case.remove(entry_id))
        self.runner.remove(item_id)
        self.item_view.forget(item_id)
        self.queue.remove(item_id)
        if not self.queue.items:
            self.right_stack.setCurrentWidget(self.welcome)

    def current_result(self) -> AnalysisResult | None:
        item_id = self.queue.selected_id()
        return self.queue.items[item_id].result if item_id is not None else None

    # The analysis as it runs -----------------------------------------------------------------

    # A file's events can arrive after it left the queue (another case was opened mid-analysis).

    def _item_started(self, item_id: int) -> None:
        item = self.queue.items.get(item_id)
        if item is None:
            return
        self.queue.set_status(item_id, ANALYSING)
        waiting = len(self.queue.with_status(WAITING))
        more = f" ({waiting} more waiting)" if waiting else ""
        self.progress.begin(f"Analysing {item.path.name}{more}")
        if self.queue.selected_id() == item_id:
            self.item_view.show_status(ANALYSING)

    def _item_progress(self, item_id: int, fraction: float, message: str) -> None:
        if item_id not in self.queue.items:
            return
        self.progress.update_progress(fraction, message)
        self.queue.set_status(item_id, ANALYSING, f"{100 * fraction:.0f}%")

    def _item_finished(self, item_id: int, result: AnalysisResult) -> None:
        if item_id not in self.queue.items:
            return
        self.queue.set_result(item_id, result)
        entry_id = self.queue.items[item_id].entry_id
        if entry_id is not None:
            self._in_case(lambda case: case.save_result(entry_id, result))
        if self.queue.selected_id() == item_id:
            self.item_view.show_result(item_id, result)
        self.statusBar().showMessage(f"{result.evidence.name}: {result.verdict_words}")
        self.analysis_finished.emit(result)

    def _items_stopped(self, item_ids: list[int]) -> None:
        for item_id in item_ids:
            if item_id in self.queue.items:
                self.queue.set_status(item_id, CANCELLED)
        self._refresh_placeholder()
        self.statusBar().showMessage("Analysis cancelled")
        self.analysis_cancelled.emit(item_ids)

    def _batch_failed(self, message: str, item_ids: list[int]) -> None:
        for item_id in item_ids:
            if item_id in self.queue.items:
                self.queue.set_status(item_id, FAILED)
        self._refresh_placeholder()
        self._show_error(f"The analysis could not run: {message}")

    def _model_missing(self, message: str) -> None:
        for item in self.queue.with_status(WAITING):
            self.queue.set_status(item.id, WAITING_FOR_MODEL)
        self._refresh_placeholder()
        self.model_banner.setText(message)
        self.model_banner.show()

    def _refresh_placeholder(self) -> None:
        item_id = self.queue.selected_id()
        if item_id is not None and self.queue.items[item_id].result is None:
            self.item_view.show_status(self.queue.items[item_id].status)

    def _cancel_work(self) -> None:
        if self._demo_job is not None:
            self._demo_job.cancel()
        else:
            self.runner.cancel()

    # Models ----------------------------------------------------------------------------------

    def _refresh_model(self) -> None:
        self.model_label.setText(active_model_text(self.store))
        self.welcome.refresh()
        if self.store.active_version() is not None:
            self.model_banner.hide()

    def _preload_model(self) -> None:
        if self.store.active_version() is not None:
            self.detector_label.setText("Loading the detector...")
            self.runner.preload()

    def _model_loaded(self, version: str) -> None:
        self.detector_label.setText("Detector ready")
        self.model_ready.emit(version)

    def _model_failed(self, message: str) -> None:
        self.detector_label.setText("Detector not loaded")
        self._show_error(f"The model could not be loaded: {message}")

    def _model_changed(self, *_args) -> None:
        self._refresh_model()
        self._preload_model()
        self.active_model_changed.emit(self.store.active_version())
        for item in self.queue.with_status(WAITING_FOR_MODEL):
            self.queue.set_status(item.id, WAITING)
        self.runner.resume()

    def _install_default(self, bundle: Path) -> None:
        self.statusBar().showMessage("Installing the default model...")
        job = self._jobs.start(lambda control: self.store.ensure_default(bundle))
        job.finished.connect(self._default_installed)
        job.failed.connect(
            lambda message: self._show_error(f"The default model could not be installed: {message}")
        )

    def _default_installed(self, version: str | None) -> None:
        self.statusBar().showMessage(f"The default model is installed as {version}.", 10_000)
        self._model_changed()

    def open_model_manager(self) -> ModelManager:
        from app.model_manager import ModelManager

        dialog = ModelManager(self.store, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.active_changed.connect(self._model_changed)
        dialog.show()
        return dialog

    def open_learn_wizard(self) -> LearnWizard:
        from app.wizard import LearnWizard

        wizard = LearnWizard(self.store, self.review_queue, self.continual_settings, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.model_accepted.connect(self._model_changed)
        wizard.show()
        return wizard

    # Reports, feedback, demo -----------------------------------------------------------------

    def open_export_dialog(self) -> ExportDialog:
        from app.export_dialog import ExportDialog

        folder = self.case.reports_dir if self.case is not None else None
        dialog = ExportDialog(self.current_result(), self.queue.results(), self.settings, self, folder)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.report_written.connect(lambda files: self._report_written(dialog.included, files))
        dialog.show()
        return dialog

    def _report_written(self, results: list[AnalysisResult], files) -> None:
        entries = [
            item.entry_id for item in self.queue.items.values() if any(item.result is r for r in results)
        ]
        self._in_case(lambda case: case.record_report([e for e in entries if e], files.pdf))
        self.statusBar().showMessage(f"Report written: {files.pdf}")

    def open_review_dialog(self) -> ReviewDialog | None:
        """The analyst's review of the shown result (agree or dispute, name, note)."""
        item_id = self.queue.selected_id()
        if item_id is None or self.queue.items[item_id].result is None:
            return None
        track_id = self.results_view.verdict_card.selected_track()
        reviewer = str(
            self.settings.value("review/reviewer", "") or self.settings.value("case/examiner", "") or ""
        )
        dialog = ReviewDialog(self.queue.items[item_id].result, track_id, reviewer, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.review_given.connect(
            lambda review, keep_faces: self._keep_review(item_id, review, track_id if keep_faces else None)
        )
        dialog.show()
        return dialog

    def _keep_review(self, item_id: int, review, track_id: int | None) -> None:
        """Record the review with the result (in the case), show it; a dispute may keep the track's faces."""
        item = self.queue.items.get(item_id)
        if item is None or item.result is None:
            return
        self.settings.setValue("review/reviewer", review.reviewer)
        if item.entry_id is not None:
            self._in_case(lambda case: case.set_review(item.entry_id, review))
        item.result.review = review
        self.queue.set_result(item_id, item.result)
        if self.queue.selected_id() == item_id:
            self.results_view.verdict_card.show_review(item.result)
        self.review_saved.emit(item.result)
        label = example_label(review.decision, review.finding)
        if track_id is not None and label is not None:
            self._keep_faces(item.result, track_id, label)

    def _keep_faces(self, result: AnalysisResult, track_id: int, label: str) -> None:
        card = self.results_view.verdict_card
        job = self._jobs.start(lambda control: self.review_queue.keep_track(result, track_id, label, control))

        def kept(count: int) -> None:
            counts = self.review_queue.counts()
            card.feedback_status.setText(
                f"{count} faces of track {track_id} kept as {label} examples. Review queue: "
                f"{counts['manipulated']} manipulated, {counts['genuine']} genuine "
                "(Models > Learn new forgery can use them)."
            )
            self.feedback_kept.emit(count)

        job.finished.connect(kept)
        job.failed.connect(lambda message: card.feedback_status.setText(f"Not kept: {message}"))

    def analyse_demo(self) -> None:
        """Make the demo videos if needed (in the background), then analyse both."""
        if self._demo_job is not None:
            return
        self.progress.begin("Making the demo videos (first time only)")
        from cffd_engine.data.synth.demo import ensure_demo_videos

        job = self._jobs.start(lambda control: ensure_demo_videos(self.demo_dir, control))
        self._demo_job = job
        job.progress.connect(self.progress.update_progress)

        def made(videos) -> None:
            self._demo_job = None
            self.progress.end()
            self.open_paths([videos.pristine, videos.manipulated])

        def stopped(message: str = "") -> None:
            self._demo_job = None
            self.progress.end()
            if message:
                self._show_error(f"The demo videos could not be made: {message}")

        job.finished.connect(made)
        job.failed.connect(stopped)
        job.cancelled.connect(stopped)

    # Messages and closing --------------------------------------------------------------------

    def _evidence_failed(self, message: str) -> None:
        self._show_error(message)
        self.evidence_failed.emit(message)

    def _show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.show()
        self.statusBar().showMessage("Something went wrong; see the message above")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        for dialog in self.findChildren(QDialog):
            dialog.reject()  # each abandons its own work; the wizard discards a pending update
        self.runner.shut_down()
        self.item_view.close_jobs()
        self._jobs.abandon_all()
        super().closeEvent(event)
