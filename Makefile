# The two commands of the README: `make app` and `make test`. Both set up first (idempotent),
# installing exactly the committed lock (requirements/lock-py3.X.txt).
.PHONY: setup app test test-slow test-latest lock lock-upgrade bench

setup:
	bash scripts/setup.sh

app: setup
	.venv/bin/cffd-studio

test: setup
	.venv/bin/ruff check cffd_engine app tests
	.venv/bin/python -m pytest

test-slow: setup
	.venv/bin/python -m pytest -m slow

# The tests on the newest versions the ranges in pyproject.toml allow, in a throwaway environment.
test-latest:
	bash scripts/test-latest.sh

# Regenerate the locks after a change to pyproject.toml (pins kept where still allowed) ...
lock:
	bash scripts/lock.sh

# ... or move every package to the newest version the ranges allow.
lock-upgrade:
	UPGRADE=1 bash scripts/lock.sh

# The Linux package (one-folder build + tar.gz) under installers/.build/; see installers/README.md.
# Options go through INSTALLER_ARGS, e.g. make installer INSTALLER_ARGS=--cuda
.PHONY: installer
installer:
	bash installers/build.sh $(INSTALLER_ARGS)
