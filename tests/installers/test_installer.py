"""The Linux package: build it (or reuse an up-to-date build) and run its smoke test.

Slow (a build takes minutes and several GB under installers/.build/), so left out of the default
run: `make test-slow` or `pytest -m slow tests/installers`. CFFD_INSTALLER_REBUILD=1 forces a build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLERS = ROOT / "installers"
BUILD = INSTALLERS / ".build"
# What goes into the package: a build older than any of these is rebuilt.
SOURCES = ("cffd_engine", "app", "resources", "installers", "pyproject.toml")
NOT_PACKAGED = {INSTALLERS / "README.md", INSTALLERS / "smoke.sh", INSTALLERS / "windows" / "cffd-studio.iss"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux package"),
]


def newest_source_change() -> float:
    times = []
    for name in SOURCES:
        path = ROOT / name
        files = (
            [path]
            if path.is_file()
            else [p for p in path.rglob("*") if p.is_file() and BUILD not in p.parents]
        )
        times += [p.stat().st_mtime for p in files if "__pycache__" not in p.parts and p not in NOT_PACKAGED]
    return max(times)


def current_package() -> Path | None:
    """The newest CPU package, if it was built after the last change to what goes into it."""
    packages = sorted(BUILD.glob("cffd-studio-*-linux-x86_64-cpu.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not packages or os.environ.get("CFFD_INSTALLER_REBUILD"):
        return None
    return packages[-1] if packages[-1].stat().st_mtime > newest_source_change() else None


def test_package_builds_and_passes_its_smoke_test(tmp_path):
    package = current_package()
    if package is None:
        build = subprocess.run(
            ["bash", str(INSTALLERS / "build.sh")], capture_output=True, text=True, timeout=3600
        )
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        package = current_package()
        assert package is not None, "build.sh succeeded but wrote no up-to-date package"

    screenshot = tmp_path / "window.png"
    smoke = subprocess.run(
        ["bash", str(INSTALLERS / "smoke.sh"), "--screenshot", str(screenshot), str(package)],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=tmp_path,
    )
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    lines = smoke.stdout.strip().splitlines()
    assert lines[-1] == "smoke: PASS"
    assert any("cffd analyze wrote report.pdf" in line for line in lines)
    if any("window visible" in line for line in lines):
        assert screenshot.stat().st_size > 10_000
