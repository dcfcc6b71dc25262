#!/usr/bin/env bash
# `make test-latest`: the test suite on the newest versions pyproject.toml's ranges allow, resolved
# now, in a throwaway environment; so that the next upstream break is found here before a user
# meets it. The committed lock is not touched. KEEP=1 keeps the environment for a look.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/cffd-latest.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
LOCK_DIR=$work UPGRADE=1 bash scripts/lock.sh
CFFD_VENV=$work/venv CFFD_LOCK_DIR=$work bash scripts/setup.sh
echo "test-latest: what differs from the committed lock:"
version=$("$work/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
diff <(grep -E '^[a-zA-Z]' "requirements/lock-py$version.txt" | cut -d' ' -f1) \
     <(grep -E '^[a-zA-Z]' "$work/lock-py$version.txt" | cut -d' ' -f1) | grep '^[<>]' || echo "  nothing"
"$work/venv/bin/ruff" check cffd_engine app tests
"$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
