"""The real face the application ships: Grace Hopper's public-domain portrait in ``resources/demo``.

The demo videos are made from it and the face-stage benchmark films it; it lives with the media
code so that both can use it without the media package importing the datasets.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PORTRAIT = Path(__file__).resolve().parents[2] / "resources" / "demo" / "grace_hopper.jpg"
PORTRAIT_SHA256 = "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"


def portrait_path() -> Path:
    """Grace Hopper's public-domain portrait, shipped in ``resources/demo``; checked by its hash."""
    path = PORTRAIT
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != PORTRAIT_SHA256:
        raise RuntimeError(
            f"{path}: the demo portrait is missing or altered; restore it from the repository "
            "(git checkout resources/demo/grace_hopper.jpg)"
        )
    return path
