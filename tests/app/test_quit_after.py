"""`CFFD_STUDIO_QUIT_AFTER_MS`: the window starts and quits by itself (the installed copy's smoke test uses it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_window_quits_by_itself_after_the_given_time(tmp_path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CFFD_STUDIO_QUIT_AFTER_MS": "1500",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
    }
    begun = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from app.main import main; sys.exit(main())"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - begun >= 1.5
    assert (tmp_path / "data").exists()  # it really started: the default model was seeded into its store
