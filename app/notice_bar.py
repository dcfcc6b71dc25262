"""A line of news for the analyst with one thing to do about it (and a close button)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from app.theme import INFO_STYLE


class NoticeBar(QFrame):
    """``show_notice(text, action_text, action)``: the text, a button that runs ``action`` and closes the bar."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setStyleSheet(INFO_STYLE)
        self.action_button = QPushButton()
        self.action_button.clicked.connect(self._act)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, stretch=1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self._action: Callable[[], None] | None = None
        self.hide()

    def show_notice(self, text: str, action_text: str, action: Callable[[], None], tooltip: str = "") -> None:
        self.label.setText(text)
        self.action_button.setText(action_text)
        self.action_button.setToolTip(tooltip)
        self._action = action
        self.show()

    def _act(self) -> None:
        self.hide()
        if self._action is not None:
            self._action()
