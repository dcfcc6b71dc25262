"""The window's system libraries: the table covers what Qt's xcb plugin loads, and the README names them all."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app import system_libraries
from app.system_libraries import APT_LINE, PACKAGE_OF_LIBRARY, SYSTEM_CORE

ROOT = Path(__file__).resolve().parents[2]


def linked_libraries(path: Path) -> dict[str, str]:
    """Every library ``ldd`` names for ``path``, with where it was found ("not found" when absent)."""
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True)
    found = {}
    for line in done.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (.*?)( \(0x[0-9a-f]+\))?$", line)
        if match:
            found[match[1]] = match[2]
    return found


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_every_library_the_xcb_plugin_loads_is_bundled_core_or_in_the_table():
    plugin = system_libraries.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    qt_root = plugin.parents[2]
    loaded = {}
    for path in [plugin, *sorted((qt_root / "plugins" / "xcbglintegrations").glob("*.so"))]:
        loaded.update(linked_libraries(path))
    bundled = {name for name, where in loaded.items() if where.startswith(str(qt_root))}
    uncovered = set(loaded) - bundled - SYSTEM_CORE - set(PACKAGE_OF_LIBRARY)
    assert not uncovered, f"libraries with no package in app/system_libraries.py: {sorted(uncovered)}"
    assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"} <= set(loaded)


def test_missing_libraries_are_read_from_ldd_and_named_with_their_packages_and_the_fix():
    ldd_output = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxcb-icccm.so.4 => not found\n"
        "\tlibQt6Gui.so.6 => /x/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007f)\n"
        "\tlibxcb-keysyms.so.1 => not found\n"
        "\tlibxcb-icccm.so.4 => not found\n"
    )
    missing = system_libraries.missing_libraries(ldd_output)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    message = system_libraries.missing_libraries_message(missing)
    assert (
        "libxcb-icccm.so.4 (libxcb-icccm4)" in message and "libxcb-keysyms.so.1 (libxcb-keysyms1)" in message
    )
    assert APT_LINE in message


def test_the_readme_install_line_is_the_one_the_program_prints():
    assert APT_LINE in (ROOT / "README.md").read_text(encoding="utf-8")


def test_no_check_when_the_window_will_not_use_x11(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(system_libraries, "xcb_plugin", lambda: pytest.fail("the plugin was looked at"))
    assert system_libraries.check_window_libraries() is None
