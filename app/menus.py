"""The window's menus and its recent files, remembered in the application's settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from cffd_engine import __version__
from cffd_engine.cases import INDEX

if TYPE_CHECKING:
    from app.main_window import MainWindow

MAX_RECENT = 10
ABOUT = (
    "<h3>CFFD Studio {version}</h3>"
    "<p>Face-forgery detection for video (RSIA-Net) that keeps learning new forgery methods without "
    "forgetting the old ones (CFFD: replay and distillation).</p>"
    "<p>Keyboard, in a result: Left/Right previous/next judged frame, Home/End first/last, "
    "Page Up/Page Down previous/next key frame, H heatmap on/off.</p>"
)


class WindowMenus:
    """File, Models and Help menus of ``window``; recent files and cases in ``settings``."""

    def __init__(self, window: MainWindow, settings: QSettings):
        self.window = window
        self.settings = settings
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open evidence...", window.choose_files, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &folder...", window.choose_folder)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self._action(file_menu, "Open or make a &case...", window.choose_case)
        self.recent_cases_menu = file_menu.addMenu("Recent c&ases")
        file_menu.addSeparator()
        self.export_action = self._action(file_menu, "&Export report...", window.open_export_dialog, "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)
        models = bar.addMenu("&Models")
        self._action(models, "&Manage models...", window.open_model_manager)
        self._action(models, "&Learn new forgery...", window.open_learn_wizard)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Welcome", lambda: window.right_stack.setCurrentWidget(window.welcome))
        self._action(help_menu, "&About CFFD Studio", self._about)
        self._fill_recent()

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def recent(self) -> list[str]:
        value = self.settings.value("recent/paths", [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember(self, paths: list[Path]) -> None:
        recent = [str(p.absolute()) for p in paths]
        recent += [p for p in self.recent() if p not in recent]
        self.settings.setValue("recent/paths", recent[:MAX_RECENT])
        self.settings.setValue("recent/folder", str(paths[0].absolute().parent))
        self._fill_recent()

    def last_folder(self) -> str:
        return str(self.settings.value("recent/folder", str(Path.home())))

    def recent_cases(self) -> list[str]:
        value = self.settings.value("cases/recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember_case(self, root: Path) -> None:
        recent = [str(root.absolute())] + [p for p in self.recent_cases() if p != str(root.absolute())]
        self.settings.setValue("cases/recent", recent[:MAX_RECENT])
        self._fill_recent()

    def last_case(self) -> Path | None:
        """The case open when the window last closed, if it is still there (a missing drive is not made anew)."""
        recent = self.recent_cases()
        return Path(recent[0]) if recent and (Path(recent[0]) / INDEX).is_file() else None

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, path=path: self.window.open_paths([path]))
        self.recent_menu.setEnabled(bool(self.recent()))
        self.recent_cases_menu.clear()
        for root in self.recent_cases():
            action = self.recent_cases_menu.addAction(root)
            action.triggered.connect(lambda _checked=False, root=root: self.window.open_case(Path(root)))
        self.recent_cases_menu.setEnabled(bool(self.recent_cases()))

    def _about(self) -> None:
        QMessageBox.about(self.window, "About CFFD Studio", ABOUT.format(version=__version__))
