"""Entry point of ``cffd-studio``."""

from __future__ import annotations

import ctypes.util
import os
import sys

# torch must be loaded before Qt: importing it after Qt crashes on Windows with recent torch.
import torch  # noqa: F401  (imported for its side effect on DLL load order)
from PySide6.QtWidgets import QApplication


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

    missing = missing_system_library()
    if missing:
        print(f"cffd-studio: Qt needs the system library {missing} to open a window.", file=sys.stderr)
        return 1

    argv = sys.argv if argv is None else argv
    app = QApplication(argv)
    app.setApplicationName("CFFD Studio")
    app.setOrganizationName("CFFD Studio")
    window = MainWindow()
    window.show()
    if len(argv) > 1:
        window.open_paths(argv[1:])
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
