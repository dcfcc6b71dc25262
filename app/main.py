"""Entry point of ``cffd-studio``."""

from __future__ import annotations

import sys

# torch must be loaded before Qt: importing it after Qt crashes on Windows with recent torch.
import torch  # noqa: F401  (imported for its side effect on DLL load order)
from PySide6.QtWidgets import QApplication


def main(argv: list[str] | None = None) -> int:
    from app.main_window import MainWindow

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
