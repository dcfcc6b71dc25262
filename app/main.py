"""Entry point of ``cffd-studio``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.system_libraries import check_window_libraries
from cffd_engine import __version__

# Before torch loads: idle OpenMP threads sleep instead of spinning, so that inference in a worker
# leaves the GUI thread its core (as the `cffd` command does).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Cancelled work stops at its next check; this long is allowed for it before the process exits.
EXIT_WAIT_MS = 15_000


def parse_arguments(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cffd-studio",
        description="CFFD Studio: the analyst's window. Tells whether a video shows a manipulated face, "
        "shows why, and writes a report. Command-line analysis: `cffd analyze --help`.",
    )
    parser.add_argument(
        "evidence", nargs="*", type=Path, help="video or image files, or folders of them, to analyse at once"
    )
    parser.add_argument("--version", action="version", version=f"cffd-studio {__version__}")
    return parser.parse_args(arguments)


def main(argv: list[str] | None = None) -> int:
    """``argv`` as in ``sys.argv``: the program's name, then its arguments."""
    argv = sys.argv if argv is None else argv
    args = parse_arguments(argv[1:])
    problem = check_window_libraries()
    if problem:
        print(problem, file=sys.stderr)
        return 1

    if sys.platform == "win32":
        # There torch must be loaded before Qt (its DLLs after Qt's crash recent torch); elsewhere it
        # loads behind the shown window.
        import torch  # noqa: F401  (imported for its side effect on DLL load order)
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.workers import wait_for_all
    from cffd_engine.store import DEFAULT_BUNDLE

    app = QApplication(argv[:1])
    app.setApplicationName("CFFD Studio")
    app.setOrganizationName("CFFD Studio")
    window = MainWindow(default_bundle=DEFAULT_BUNDLE)
    window.show()
    if args.evidence:
        window.open_paths([str(path) for path in args.evidence])
    quit_after_ms = os.environ.get("CFFD_STUDIO_QUIT_AFTER_MS")  # smoke tests of an installed copy
    if quit_after_ms:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after_ms), app.quit)
    code = app.exec()
    wait_for_all(EXIT_WAIT_MS)
    return code


if __name__ == "__main__":
    sys.exit(main())
