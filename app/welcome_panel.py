"""The welcome panel: what the application does, what its model knows, and the demo to try it on."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.theme import NOTE_STYLE
from cffd_engine.store import BundleError, ModelStore
from cffd_engine.store.card import task_lines

INTRODUCTION = """
<h1>CFFD Studio</h1>
<p style="font-size: 14px">Checks whether the faces in a video were manipulated (face swaps, re-enactment,
edited expressions, generated faces).</p>
<ol style="font-size: 13px">
<li><b>Drop</b> videos, images or whole folders anywhere on this window (or use <i>File &gt; Open</i>).
Each file joins the evidence queue on the left and is analysed in turn.</li>
<li><b>Read the verdict</b> for the video and for each face, and see <b>why</b>: the fake probability
over time, the face boxes, a heatmap of where the model saw manipulation, and the face's frequency
spectrum next to that of real faces.</li>
<li><b>Export</b> a PDF report with its JSON twin that another examiner can check and reproduce.</li>
<li>When a new kind of forgery appears, <b>teach it</b> to the model with <i>Models &gt; Learn new
forgery</i>: it learns from your examples without forgetting what it knew, and you decide whether to
keep the new version.</li>
</ol>
<p style="font-size: 12px; color: #555">A verdict is a likelihood from a statistical detector, never proof:
weigh it with the file's provenance, its metadata and your own examination.</p>
"""


def model_description(store: ModelStore) -> str:
    """What the active model was trained on, in words, or how to install one."""
    version = store.active_version()
    if version is None:
        return (
            "<b>No detection model is installed yet.</b> Open <i>Models &gt; Manage models</i> and import a "
            "model bundle (a .cffd file or a bundle folder) before analysing evidence."
        )
    try:
        manifest = store.manifest(version)
    except BundleError as exc:
        return f"<b>The active model {version} cannot be read:</b> {exc}"
    tasks = "".join(f"<li>{html.escape(line)}</li>" for line in task_lines(manifest))
    description = manifest.description or "An RSIA-Net face-forgery detector."
    limits = "".join(f"<li>{html.escape(limit)}</li>" for limit in manifest.limits)
    return (
        f"<b>The model in use ({version})</b>: {description} It was trained on:"
        f"<ul>{tasks or '<li>nothing recorded</li>'}</ul>"
        + (f"<b>Its known limits:</b><ul>{limits}</ul>" if limits else "")
        + "Its full model card is in <i>Models &gt; Manage models</i>."
    )


class WelcomePanel(QWidget):
    """Shown while the evidence queue is empty; ``demo_requested`` / ``models_requested`` from its buttons."""

    demo_requested = Signal()
    models_requested = Signal()

    def __init__(self, store: ModelStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        intro = QLabel(INTRODUCTION)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setTextFormat(Qt.TextFormat.RichText)
        self.demo_button = QPushButton("Analyse the two demo videos")
        self.demo_button.setToolTip(
            "A real portrait filmed by a slowly moving camera, once untouched and once with the mouth "
            "re-animated from 2 to 4.5 s: see what a verdict looks like in each case"
        )
        self.demo_button.clicked.connect(self.demo_requested)
        self.models_button = QPushButton("Manage models...")
        self.models_button.clicked.connect(self.models_requested)
        self.demo_note = QLabel(
            "The demo videos are made on this computer the first time (about half a minute)."
        )
        self.demo_note.setStyleSheet(NOTE_STYLE)
        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.models_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 20, 40, 20)
        layout.addWidget(intro)
        layout.addWidget(self.model_label)
        layout.addLayout(buttons)
        layout.addWidget(self.demo_note)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        self.model_label.setText(model_description(self.store))
        self.demo_button.setEnabled(self.store.active_version() is not None)
