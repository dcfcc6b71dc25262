"""The analyst's review of a verdict: agreed or disputed, by whom, with a note; kept with the result."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.theme import ERROR_STYLE
from cffd_engine.analysis.result import (
    AGREED,
    DISPUTED,
    GENUINE_FINDING,
    MANIPULATED_FINDING,
    AnalysisResult,
    Review,
    utc_now,
)
from cffd_engine.analysis.review_queue import example_label

CHOICES = (
    (AGREED, None, "I agree with the model's verdict"),
    (DISPUTED, GENUINE_FINDING, "I dispute it: the evidence is genuine"),
    (DISPUTED, MANIPULATED_FINDING, "I dispute it: the evidence is manipulated"),
)


def review_words(review: Review) -> str:
    return f"Analyst's review: {review.sentence}"


class ReviewDialog(QDialog):
    """Emits ``review_given(Review, keep_faces)``; ``keep_faces``: keep the track's faces as examples to learn."""

    review_given = Signal(object, bool)

    def __init__(
        self, result: AnalysisResult, track_id: int | None, reviewer: str, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle(f"Review: {result.evidence.name}")
        self.choices = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The model's verdict: <b>{result.verdict_words}</b>"))
        for number, (_, _, words) in enumerate(CHOICES):
            button = QRadioButton(words)
            self.choices.addButton(button, number)
            layout.addWidget(button)
        earlier = result.review
        chosen = next(
            (
                n
                for n, (decision, finding, _) in enumerate(CHOICES)
                if earlier and (decision, finding) == (earlier.decision, earlier.finding)
            ),
            0,
        )
        self.choices.button(chosen).setChecked(True)
        self.reviewer = QLineEdit(earlier.reviewer if earlier else reviewer)
        self.note = QPlainTextEdit(earlier.note if earlier else "")
        self.note.setPlaceholderText("What you checked, what you saw")
        self.note.setFixedHeight(80)
        form = QFormLayout()
        form.addRow("Your name:", self.reviewer)
        form.addRow("Note:", self.note)
        layout.addLayout(form)
        self.keep_faces = QCheckBox(
            f"Keep the faces of face track {track_id} as examples of what it really is "
            "(Models > Learn new forgery can learn from them)"
        )
        self.keep_faces.setChecked(True)
        self.keep_faces.setVisible(track_id is not None)
        self._has_track = track_id is not None
        layout.addWidget(self.keep_faces)
        self.message = QLabel()
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.choices.idToggled.connect(self._choice_changed)
        self._choice_changed()

    def choose(self, decision: str, finding: str | None = None) -> None:
        number = next(n for n, (d, f, _) in enumerate(CHOICES) if (d, f) == (decision, finding))
        self.choices.button(number).setChecked(True)

    def _choice_changed(self, *_args) -> None:
        decision, finding, _ = CHOICES[self.choices.checkedId()]
        self.keep_faces.setEnabled(example_label(decision, finding) is not None)

    def accept(self) -> None:
        decision, finding, _ = CHOICES[self.choices.checkedId()]
        try:
            review = Review(
                decision, self.reviewer.text().strip(), utc_now(), self.note.toPlainText().strip(), finding
            )
        except ValueError as exc:
            self.message.setText(f"Not saved: {exc}.")
            self.message.show()
            return
        offered = example_label(decision, finding) is not None and self._has_track
        self.review_given.emit(review, offered and self.keep_faces.isChecked())
        super().accept()
