#!/usr/bin/env bash
# Idempotent setup: a virtual environment in the checkout holding exactly the packages of the
# committed lock (each file's SHA-256 checked by pip), the package itself, and the verified
# model files. A second run skips whatever is already done.
#   PYTHON=python3.12 make test    choose the interpreter (default: python3.11, else python3.12)
#   CFFD_VENV, CFFD_LOCK_DIR       another environment, or locks from another folder (make test-latest)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${CFFD_VENV:-.venv}
supported="3.11 3.12"

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

if [ ! -x "$venv/bin/python" ]; then
  python=${PYTHON:-}
  if [ -z "$python" ]; then
    for candidate in python3.11 python3.12 python3; do
      if command -v "$candidate" >/dev/null && [[ " $supported " == *" $(python_version "$candidate") "* ]]; then
        python=$candidate
        break
      fi
    done
  fi
  if [ -z "$python" ]; then
    echo "setup: CFFD Studio needs Python 3.11 or 3.12 and found neither (python3.11, python3.12, python3); install one, or name it with PYTHON=..." >&2
    exit 1
  fi
  if [[ " $supported " != *" $(python_version "$python") "* ]]; then
    echo "setup: $python does not run as Python 3.11 or 3.12 (it says: $("$python" --version 2>&1 | head -1)); name another with PYTHON=..." >&2
    exit 1
  fi
  "$python" -m venv "$venv"
fi
version=$(python_version "$venv/bin/python")
lock=${CFFD_LOCK_DIR:-requirements}/lock-py$version.txt
if [ ! -f "$lock" ]; then
  echo "setup: no dependency lock for Python $version ($lock); CFFD Studio supports Python $supported" >&2
  exit 1
fi
echo "setup: Python $version in $venv, packages from $lock"

pip=("$venv/bin/python" -m pip --disable-pip-version-check)
stamp="$venv/.cffd-installed"
wanted=$(cat "$lock" pyproject.toml scripts/setup.sh | sha256sum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  # --no-deps: the lock is complete by construction, less the OpenCV builds that
  # requirements/overrides.txt leaves out on purpose.
  "${pip[@]}" install --quiet --require-hashes --no-deps -r "$lock"
  "${pip[@]}" install --quiet --no-deps --no-build-isolation --editable .
  extras=$("$venv/bin/python" -m cffd_engine.environment extras "$lock" | tr -s '[:space:]' ' ' | sed 's/^ *//; s/ *$//')
  if [ -n "$extras" ]; then
    echo "setup: removing packages the lock does not hold: $(echo $extras)"
    "${pip[@]}" uninstall --quiet --yes $extras
  fi
  cp "$lock" "$venv/cffd-lock.txt"
  echo "$wanted" > "$stamp"
fi
"$venv/bin/python" -m cffd_engine.environment check "$venv/cffd-lock.txt"

"$venv/bin/cffd" assets fetch
