"""`cffd-studio --help`, `--version` and a wrong option answer at once and exit, without a window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cffd_engine import __version__

ROOT = Path(__file__).resolve().parents[2]


def run_studio(*arguments: str) -> subprocess.CompletedProcess:
    code = "import sys; from app.main import main; sys.exit(main(['cffd-studio', *sys.argv[1:]]))"
    return subprocess.run(
        [sys.executable, "-c", code, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_help_describes_the_window_and_its_arguments():
    done = run_studio("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: cffd-studio") and "evidence" in done.stdout


def test_version_prints_the_engine_version():
    done = run_studio("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"cffd-studio {__version__}")


def test_an_unknown_option_is_a_usage_error_not_a_missing_evidence_file():
    done = run_studio("--bogus")
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr and "not found" not in done.stderr


def test_help_answers_without_loading_torch_or_qt():
    code = (
        "import sys; from app.main import parse_arguments; "
        "print('torch' in sys.modules, 'PySide6.QtWidgets' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_the_window_opens_before_torch_mediapipe_and_reportlab_load(tmp_path):
    """They take seconds: the window must be up first, with the model loading behind it."""
    code = f"""
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from cffd_engine.analysis.review_queue import ReviewQueue
from cffd_engine.store import ModelStore
app = QApplication([])
root = Path({str(tmp_path)!r})
window = MainWindow(store=ModelStore(root / "models"), review_queue=ReviewQueue(root / "review"), case=root / "case")
window.show()
app.processEvents()
print(*[name in sys.modules for name in ("torch", "timm", "mediapipe", "reportlab")])
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.stdout.split() == ["False"] * 4, done.stderr[-2000:]
