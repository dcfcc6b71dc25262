#!/usr/bin/env bash
# Idempotent setup: a virtual environment in the checkout, the package with its
# dev tools, exactly one (headless) OpenCV, and the verified face-model files.
# A second run skips whatever is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "CFFD Studio needs Python 3.11, found " + sys.version' 
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check)

stamp=.venv/.cffd-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  "${pip[@]}" install --quiet --editable ".[dev]"
  touch "$stamp"
fi

# mediapipe depends on opencv-contrib-python (and grad-cam on opencv-python-headless); both
# share the cv2 package with ours, and the GUI build's Qt plugins clash with PySide6. Keep one.
headless=opencv-contrib-python-headless
others=$("${pip[@]}" list --format=freeze | grep -iE '^opencv-' | grep -viE "^$headless==" || true)
if [ -n "$others" ]; then
  version=$("${pip[@]}" list --format=freeze | grep -iE "^$headless==" | cut -d= -f3)
  echo "setup: replacing $(echo $others | tr '\n' ' ')by $headless==$version"
  "${pip[@]}" uninstall --quiet --yes $(echo "$others" | cut -d= -f1) "$headless"
  "${pip[@]}" install --quiet --no-deps --force-reinstall "$headless==$version"
fi

.venv/bin/cffd assets fetch
