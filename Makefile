# The two commands of the README: `make app` and `make test`. Both set up first (idempotent).
.PHONY: setup app test test-slow bench

setup:
	bash scripts/setup.sh

app: setup
	.venv/bin/cffd-studio

test: setup
	.venv/bin/ruff check cffd_engine app tests
	.venv/bin/python -m pytest

test-slow: setup
	.venv/bin/python -m pytest -m slow

# The Linux package (one-folder build + tar.gz) under installers/.build/; see installers/README.md.
# Options go through INSTALLER_ARGS, e.g. make installer INSTALLER_ARGS=--cuda
.PHONY: installer
installer:
	bash installers/build.sh $(INSTALLER_ARGS)
