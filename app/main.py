"""Entry point of ``cffd-studio``."""

from __future__ import annotations

import ctypes.util
import os
import sys

# Before torch loads: idle OpenMP threads sleep instead of spinning, so that inference in a worker
# leaves the GUI thread its core (as the `cffd` command does).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# torch must be loaded before Qt: importing it after Qt crashes on Windows with recent torch.
import torch  # noqa: E402, F401  (imported for its side effect on DLL load order)
from PySide6.QtWidgets import QApplication  # noqa: E402

# Cancelled work stops at its next check; this long is allowed for it before the process exits.
EXIT_WAIT_MS = 15_000


def missing_system_library() -> str | None:
    """On a Linux desktop, the X11 library Qt needs and cannot start without (it aborts), if absent."""
    if (
        not sys.platform.startswith("linux")
        or os.environ.get("QT_QPA_PLATFORM")
        or not os.environ.get("DISPLAY")
    ):
        return None
    if ctypes.util.find_library("xcb-cursor") is None:
        return "libxcb-cursor0 (Debian/Ubuntu: sudo apt-get install libxcb-cursor0; Fedora: xcb-util-cursor)"
    return None


def main(argv: list[str] | None = None) -> int:
    from app.main_window import MainWindow
    from app.workers import wait_for_all
    from cffd_engine.store import DEFAULT_BUNDLE

    missing = missing_system_library()
    if missing:
        print(f"cffd-studio: Qt needs the system library {missing} to open a window.", file=sys.stderr)
        return 1

    argv = sys.argv if argv is None else argv
    app = QApplication(argv)
    app.setApplicationName("CFFD Studio")
    app.setOrganizationName("CFFD Studio")
    window = MainWindow(default_bundle=DEFAULT_BUNDLE)
    window.show()
    if len(argv) > 1:
        window.open_paths(argv[1:])
    quit_after_ms = os.environ.get("CFFD_STUDIO_QUIT_AFTER_MS")  # smoke tests of an installed copy
    if quit_after_ms:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after_ms), app.quit)
    code = app.exec()
    wait_for_all(EXIT_WAIT_MS)
    return code


if __name__ == "__main__":
    sys.exit(main())
