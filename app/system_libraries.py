"""The system libraries that Qt's xcb platform plugin (the window on an X11 desktop) loads.

PySide6's wheels bring Qt but not these. When one is missing Qt aborts with a message that names
neither the library nor the fix, so `cffd-studio` checks first. Neither Qt nor torch is imported
here: the check runs before either loads.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Every library in the dynamic closure of PySide6's libqxcb.so (and the Qt libraries it loads)
# that PySide6 does not ship, with the Debian/Ubuntu package that provides it. Found with `ldd`
# and `dpkg -S` on PySide6-Essentials 6.11.3 (tests/app/test_system_libraries.py keeps it whole).
PACKAGE_OF_LIBRARY = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libcap.so.2": "libcap2",
    "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libgcrypt.so.20": "libgcrypt20",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgpg-error.so.0": "libgpg-error0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "liblz4.so.1": "liblz4-1",
    "liblzma.so.5": "liblzma5",
    "libmd.so.0": "libmd0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libpng16.so.16": "libpng16-16",
    "libsystemd.so.0": "libsystemd0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
# The C library itself: present wherever Python runs.
SYSTEM_CORE = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "linux-vdso.so.1"}

APT_LINE = "sudo apt-get install " + " ".join(sorted(set(PACKAGE_OF_LIBRARY.values())))

_NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, where this installation has it."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` could not find, in its order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def missing_libraries_message(missing: list[str]) -> str:
    """What to tell the user: which libraries are missing, and the one line that installs them all."""
    named = ", ".join(f"{name} ({PACKAGE_OF_LIBRARY.get(name, 'package unknown')})" for name in missing)
    return (
        f"cffd-studio: the window cannot open: Qt's X11 plugin needs system libraries that are missing: "
        f"{named}.\nOn Debian or Ubuntu, install every library the window needs with:\n  {APT_LINE}\n"
        f"(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image "
        f"xcb-util-renderutil libxkbcommon-x11 mesa-libEGL)"
    )


def check_window_libraries() -> str | None:
    """On a Linux X11 desktop, the message naming Qt's missing system libraries; None when none is missing
    (or when the window will not use X11, or ``ldd`` cannot tell)."""
    if (
        not sys.platform.startswith("linux")
        or os.environ.get("QT_QPA_PLATFORM")
        or not os.environ.get("DISPLAY")
    ):
        return None
    plugin, ldd = xcb_plugin(), shutil.which("ldd")
    if plugin is None or ldd is None:
        return None
    done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False)
    missing = missing_libraries(done.stdout)
    return missing_libraries_message(missing) if missing else None
