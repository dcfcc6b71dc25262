"""The training page: the update runs in the background with progress, live loss curves and a cancel button."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWizardPage

from app.progress_panel import ProgressPanel
from app.theme import ERROR_STYLE, INFO_STYLE, TRACK_COLOURS
from app.workers import WorkControl
from cffd_engine.continual import Candidate, Progress, TrainerCallback, learn_task
from cffd_engine.jobs import Cancelled

if TYPE_CHECKING:
    from app.wizard.wizard import LearnWizard

CURVE_INTERVAL_S = 0.25  # the loss curves are redrawn at most this often
LOSS_NAMES = {
    "total": "total",
    "ce": "classification",
    "hscl": "contrastive (HSCL)",
    "slkd": "output distillation (SLKD)",
    "mfkd": "feature distillation (MFKD)",
}


class LiveLosses(TrainerCallback):
    """Hands the trainer's Progress to ``publish`` from the training thread, at most every ``CURVE_INTERVAL_S``."""

    def __init__(self, publish: Callable[[object], None]):
        self.publish = publish
        self._last = 0.0

    def on_step(self, progress: Progress) -> None:
        now = time.monotonic()
        last_step = progress.epoch == progress.epochs and progress.step == progress.steps
        if now - self._last >= CURVE_INTERVAL_S or last_step:
            self._last = now
            self.publish(progress)


class TrainingPage(QWizardPage):
    """Starts ``learn_task`` when shown; complete when a candidate model is ready."""

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self._job = None
        self.candidate: Candidate | None = None
        self.setTitle("Learning the new forgery")
        self.setSubTitle(
            "This runs in the background; the window stays usable. Nothing changes until you accept."
        )
        self.progress = ProgressPanel()
        self.progress.cancel_requested.connect(self.cancel)
        self.stage = QLabel()
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.plotItem.setLabel("bottom", "training step")
        self.plot.plotItem.setLabel("left", "loss")
        self.plot.plotItem.addLegend(offset=(-10, 10)).setBrush(pg.mkBrush(255, 255, 255, 210))
        self.plot.plotItem.showGrid(x=True, y=True, alpha=0.2)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.again_button = QPushButton("Start the update again")
        self.again_button.clicked.connect(self.start)
        self.again_button.hide()
        row = QHBoxLayout()
        row.addWidget(self.again_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.stage)
        layout.addWidget(self.plot, stretch=1)
        layout.addWidget(self.message)
        layout.addLayout(row)
        layout.addStretch(0)  # takes the room while the plot is hidden; the plot's stretch wins once shown
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._series: dict[str, tuple[list[float], list[float]]] = {}

    @property
    def running(self) -> bool:
        return self._job is not None

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        self.start()

    def start(self) -> None:
        wizard = self._wizard
        name = wizard.name_page.name.text().strip()
        description = wizard.name_page.description.toPlainText().strip()
        task = wizard.faces_page.gathered.task_data(name, description, wizard.input_size)
        settings = wizard.settings_page.settings()
        store, base = wizard.store, wizard.base_version
        self.candidate = None
        self.message.hide()
        self.again_button.hide()
        self.plot.plotItem.clear()
        self.plot.hide()  # until the first step: empty axes say nothing
        self._curves, self._series = {}, {}
        self.stage.setText("Preparing the examples...")
        self.progress.begin(f"Teaching the model '{name}'")

        def work(control: WorkControl) -> Candidate:
            # A training step (a typed Progress) moves the bar without words: the stage line and the
            # loss curves show where it is. The other stages' words are shown as they come.
            job = control.with_events(lambda fraction, _step: control.report(fraction))
            candidate = learn_task(store, task, settings, base, job, callbacks=[LiveLosses(control.publish)])
            if control.cancelled:  # cancelled after the last check: leave nothing behind
                candidate.discard()
                raise Cancelled("cancelled by the user")
            return candidate

        job = wizard.jobs.start(work, pool_name="training")
        self._job = job
        job.progress.connect(self.progress.update_progress)
        job.partial.connect(self._losses)
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)
        self.completeChanged.emit()

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def abandon(self) -> None:
        """Stop for good (the wizard is closing): cancelled work leaves the store as it was."""
        if self._job is not None:
            self._job.abandon()
            self._job = None

    def _losses(self, progress: Progress) -> None:
        step = (progress.epoch - 1) * progress.steps + progress.step
        self.stage.setText(f"Pass {progress.epoch} of {progress.epochs} over the examples")
        self.plot.show()
        for name, loss in progress.losses.items():
            xs, ys = self._series.setdefault(name, ([], []))
            xs.append(step)
            ys.append(loss)
            if name not in self._curves:
                colour = TRACK_COLOURS[len(self._curves) % len(TRACK_COLOURS)]
                width = 3 if name == "total" else 1.5
                self._curves[name] = self.plot.plotItem.plot(
                    pen=pg.mkPen(colour, width=width), name=LOSS_NAMES.get(name, name)
                )
            self._curves[name].setData(xs, ys)

    def _finished(self, candidate: Candidate) -> None:
        self._job = None
        self.candidate = candidate
        self.progress.end()
        self.stage.setText("Done: the new model was measured on every forgery type.")
        self.completeChanged.emit()
        self._wizard.training_finished.emit(candidate)
        self._wizard.next()

    def _stopped(self, style: str, text: str) -> None:
        self._job = None
        self.progress.end()
        self.message.setStyleSheet(style)
        self.message.setText(text)
        self.message.show()
        self.again_button.show()
        self.completeChanged.emit()

    def _cancelled(self) -> None:
        self._stopped(
            INFO_STYLE,
            f"The update was cancelled. Nothing was changed: the model in use is still {self._wizard.base_version}.",
        )
        self._wizard.training_cancelled.emit()

    def _failed(self, message: str) -> None:
        self._stopped(
            ERROR_STYLE,
            f"The update failed, and nothing was changed (the model in use is still "
            f"{self._wizard.base_version}): {message}",
        )
        self._wizard.training_failed.emit(message)

    def isComplete(self) -> bool:  # noqa: N802 (Qt override)
        return self.candidate is not None
