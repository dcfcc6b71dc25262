"""Installs come from the committed lock: the lock matches pyproject, and this environment matches the lock."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cffd_engine import environment

ROOT = Path(__file__).resolve().parents[2]
LOCKS = sorted((ROOT / "requirements").glob("lock-py*.txt"))
LEFT_OUT = {"opencv-contrib-python", "opencv-python", "opencv-python-headless"}  # requirements/overrides.txt


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_there_is_a_lock_for_each_supported_python():
    assert [path.name for path in LOCKS] == ["lock-py3.11.txt", "lock-py3.12.txt"]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_the_lock_was_made_from_this_pyproject(lock):
    assert environment.lock_digest_line(lock) == environment.pyproject_digest(ROOT / "pyproject.toml"), (
        f"pyproject.toml changed since {lock.name} was made: run `make lock`"
    )


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_every_direct_dependency_is_locked_inside_its_range_with_hashes(lock):
    pins = environment.read_lock(lock)
    for requirement in direct_requirements():
        name = environment.normalize(requirement.name)
        assert name in pins, f"{name} is missing from {lock.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock.name} pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}"
        )
    text = lock.read_text(encoding="utf-8")
    assert text.count("==") == len(pins) and text.count("--hash=sha256:") >= len(pins)
    assert not LEFT_OUT & set(pins), "a second OpenCV build in the lock"


def test_this_environment_equals_the_lock_it_was_installed_from():
    lock = environment.installed_lock()
    assert lock is not None, "not installed by scripts/setup.sh"
    difference = environment.compare(environment.read_lock(lock), environment.installed_distributions())
    assert difference.matches, difference.describe()


def test_lock_pins_are_read_by_normalised_name_and_differences_found(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# a comment\n"
        "PySide6_Essentials==6.11.3 \\\n    --hash=sha256:aa\n    # via cffd-studio\n"
        "numpy==2.4.6 ; python_version >= '3.11' \\\n    --hash=sha256:bb\n"
        "torch==2.14.1\n",
        encoding="utf-8",
    )
    pins = environment.read_lock(lock)
    assert pins == {"pyside6-essentials": "6.11.3", "numpy": "2.4.6", "torch": "2.14.1"}
    installed = {"pyside6-essentials": "6.11.3", "numpy": "2.5.0", "scipy": "1.17.1", "pip": "23.2.1"}
    difference = environment.compare(pins, installed)
    assert difference.missing == {"torch": "2.14.1"}
    assert difference.extra == {"scipy": "1.17.1"}  # pip is the venv's own, never locked
    assert difference.different == {"numpy": ("2.4.6", "2.5.0")}
    assert not difference.matches
    assert "numpy: locked 2.4.6, installed 2.5.0" in difference.describe()


def test_version_lines_name_the_installed_lock_by_its_sha256_and_the_key_libraries():
    from importlib import metadata

    lines = environment.version_lines()
    lock = environment.installed_lock()
    assert f"dependency lock: sha256 {hashlib.sha256(lock.read_bytes()).hexdigest()}" in lines
    for name in ("torch", "timm", "opencv-contrib-python-headless", "mediapipe", "PySide6-Essentials"):
        assert f"{name} {metadata.version(name)}" in lines
