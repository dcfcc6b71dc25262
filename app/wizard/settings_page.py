"""The settings page: sensible defaults said in words, and an Advanced section for those who want it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from app.theme import NOTE_STYLE
from cffd_engine.continual import ContinualSettings
from cffd_engine.continual.session import MIN_EXAMPLES

if TYPE_CHECKING:
    from app.wizard.wizard import LearnWizard

MAX_VALIDATION = 100


def validation_faces(fake_count: int) -> int:
    """Faces held out to measure the new task: about a fifth of its examples, at most 100."""
    return int(min(MAX_VALIDATION, max(MIN_EXAMPLES, round(0.4 * fake_count))))


def _spin(low: float, high: float, value: float, decimals: int = 0, step: float = 1.0):
    box = QSpinBox() if decimals == 0 else QDoubleSpinBox()
    if decimals:
        box.setDecimals(decimals)
        box.setSingleStep(step)
    box.setRange(low, high)
    box.setValue(value)
    return box


class SettingsPage(QWizardPage):
    """Reads the wizard's default ``ContinualSettings``; ``settings()`` gives them with the analyst's changes."""

    def __init__(self, wizard: LearnWizard):
        super().__init__()
        self._wizard = wizard
        self.setTitle("Settings")
        self.setSubTitle("The recommended settings suit most updates; nothing here needs changing.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start the update")
        self.plain = QLabel()
        self.plain.setWordWrap(True)
        self.show_advanced = QCheckBox("Show the advanced settings")
        defaults = wizard.default_settings
        strategy, train = defaults.strategy, defaults.train
        self.epochs = _spin(1, 500, train.epochs)
        self.replay_budget = _spin(0, 100_000, defaults.replay_budget)
        self.validation = _spin(2, 10_000, defaults.validation_size)
        self.learning_rate = _spin(1e-6, 1.0, train.learning_rate, decimals=6, step=1e-4)
        self.lambda_hscl = _spin(0.0, 100.0, strategy.lambda_hscl, decimals=3, step=0.05)
        self.lambda_slkd = _spin(0.0, 100.0, strategy.lambda_slkd, decimals=3, step=0.05)
        self.lambda_mfkd = _spin(0.0, 100.0, strategy.lambda_mfkd, decimals=3, step=0.1)
        self.advanced = QGroupBox("Advanced")
        form = QFormLayout(self.advanced)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Passes over the examples (epochs):", self.epochs)
        form.addRow("Faces kept in memory for rehearsal (replay budget):", self.replay_budget)
        self.validation.setToolTip(
            "Whole videos are held out together (a forgery with its genuine twin), so a few more faces may be "
            "measured; with few examples, at most half of them are held out."
        )
        form.addRow("Faces held out to measure the new task (about):", self.validation)
        form.addRow("Learning rate:", self.learning_rate)
        form.addRow("Contrastive loss weight (HSCL):", self.lambda_hscl)
        form.addRow("Output distillation weight (SLKD):", self.lambda_slkd)
        form.addRow("Feature distillation weight (MFKD):", self.lambda_mfkd)
        note = QLabel(
            "Higher distillation weights make the model hold on to what it knew at the cost of learning the "
            "new forgery more slowly; lower ones the reverse."
        )
        note.setWordWrap(True)
        note.setStyleSheet(NOTE_STYLE)
        form.addRow(note)
        self.advanced.setVisible(False)
        self.show_advanced.toggled.connect(self.advanced.setVisible)
        for box in (self.epochs, self.replay_budget):
            box.valueChanged.connect(self._describe)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plain)
        layout.addWidget(self.show_advanced)
        layout.addWidget(self.advanced)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802 (Qt override)
        gathered = self._wizard.faces_page.gathered
        if gathered is not None:
            self.validation.setValue(validation_faces(len(gathered.fake)))
        self._describe()

    def _describe(self) -> None:
        gathered = self._wizard.faces_page.gathered
        faces = len(gathered.fake) + len(gathered.real) if gathered else 0
        passes = self.epochs.value()
        how_often = "once" if passes == 1 else f"{passes} times over"
        self.plain.setText(
            f"The model will study your {faces} faces {how_often}, keeping a few aside to "
            f"measure itself, while rehearsing the earlier forgery types with up to {self.replay_budget.value()} "
            "faces it keeps in memory. Updating takes from a few minutes to an hour depending on the number "
            "of faces and on this computer; you can cancel at any time, and nothing changes until you accept "
            "the result."
        )

    def settings(self) -> ContinualSettings:
        defaults = self._wizard.default_settings
        return dataclasses.replace(
            defaults,
            replay_budget=self.replay_budget.value(),
            validation_size=self.validation.value(),
            strategy=dataclasses.replace(
                defaults.strategy,
                lambda_hscl=self.lambda_hscl.value(),
                lambda_slkd=self.lambda_slkd.value(),
                lambda_mfkd=self.lambda_mfkd.value(),
            ),
            train=dataclasses.replace(
                defaults.train, epochs=self.epochs.value(), learning_rate=self.learning_rate.value()
            ),
        )
