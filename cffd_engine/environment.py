"""What this program runs on: the dependency lock it was installed from and the versions that matter.

Only the standard library is used here: `scripts/setup.sh` and `scripts/lock.sh` call this module
before (or without) the project's dependencies, and `cffd version` must answer even when one of
them fails to import.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cffd_engine import __version__

# setup.sh copies the lock it installed here, inside the environment, so that a running program
# can name it (a frozen build carries it beside its files).
INSTALLED_LOCK_NAME = "cffd-lock.txt"
# lock.sh writes this line into each lock: which pyproject dependency lists the lock was made from.
DIGEST_LINE = "# pyproject-dependencies-sha256: "
# Not part of what the lock describes: the project itself, and the installer inside the venv.
NOT_LOCKED = {"cffd-studio", "pip"}
# Distributions whose version can change a result or a report: `cffd version` and every report name them.
LIBRARIES = (
    "torch",
    "torchvision",
    "timm",
    "numpy",
    "scipy",
    "opencv-contrib-python-headless",
    "av",
    "mediapipe",
    "safetensors",
    "reportlab",
    "PySide6-Essentials",
)

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path | str) -> dict[str, str]:
    """The ``name==version`` pins of a lock file, by normalised name."""
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[normalize(match[1])] = match[2]
    return pins


def lock_digest_line(path: Path | str) -> str | None:
    """The pyproject digest a lock records, or None when it records none."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_LINE):
            return line[len(DIGEST_LINE) :].strip()
    return None


def pyproject_digest(pyproject: Path | str) -> str:
    """SHA-256 of everything in pyproject that a lock is resolved from."""
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    resolved_from = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(resolved_from, sort_keys=True).encode()).hexdigest()


def installed_distributions() -> dict[str, str]:
    """Every distribution in this environment, by normalised name.

    A half-written one (pip's temporary ``~name`` folders, metadata without a name) is no package.
    """
    found = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name and name.strip() and not name.startswith("~"):
            found[normalize(name)] = distribution.version
    return found


@dataclass(frozen=True)
class LockDifference:
    missing: dict[str, str]  # in the lock, not installed
    extra: dict[str, str]  # installed, not in the lock
    different: dict[str, tuple[str, str]]  # name: (locked, installed)

    @property
    def matches(self) -> bool:
        return not (self.missing or self.extra or self.different)

    def describe(self) -> str:
        lines = [f"missing {name}=={version}" for name, version in sorted(self.missing.items())]
        lines += [f"not in the lock {name}=={version}" for name, version in sorted(self.extra.items())]
        lines += [
            f"{name}: locked {locked}, installed {found}"
            for name, (locked, found) in sorted(self.different.items())
        ]
        return "\n".join(lines)


def compare(locked: dict[str, str], installed: dict[str, str]) -> LockDifference:
    installed = {name: version for name, version in installed.items() if name not in NOT_LOCKED}
    return LockDifference(
        missing={name: v for name, v in locked.items() if name not in installed},
        extra={name: v for name, v in installed.items() if name not in locked},
        different={
            name: (v, installed[name])
            for name, v in locked.items()
            if name in installed and installed[name] != v
        },
    )


def installed_lock() -> Path | None:
    """The lock this environment was installed from (copied in by setup), if any."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    for root in (frozen_root, sys.prefix):
        if root and (Path(root) / INSTALLED_LOCK_NAME).is_file():
            return Path(root) / INSTALLED_LOCK_NAME
    return None


def lock_description() -> str:
    """The installed lock's SHA-256, or why there is none."""
    lock = installed_lock()
    if lock is None:
        return "none (not installed from the project's lock by scripts/setup.sh)"
    return "sha256 " + hashlib.sha256(lock.read_bytes()).hexdigest()


def library_versions() -> dict[str, str]:
    """Installed version of each library in ``LIBRARIES`` ("not installed" where absent)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def version_lines() -> list[str]:
    """What produced a result: engine, Python, lock and the versions of the libraries that shape it."""
    lines = [
        f"CFFD Studio engine {__version__}",
        f"Python {platform.python_version()} ({platform.system()} {platform.machine()})",
        f"dependency lock: {lock_description()}",
    ]
    return lines + [f"{name} {version}" for name, version in library_versions().items()]


def _check(lock: str) -> int:
    difference = compare(read_lock(lock), installed_distributions())
    if difference.matches:
        print(f"setup: the environment equals {lock}")
        return 0
    print(f"setup: the environment differs from {lock}:\n{difference.describe()}", file=sys.stderr)
    return 1


def _extras(lock: str) -> int:
    print("\n".join(sorted(compare(read_lock(lock), installed_distributions()).extra)))
    return 0


def _digest(pyproject: str) -> int:
    print(DIGEST_LINE + pyproject_digest(pyproject))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m cffd_engine.environment check LOCK | extras LOCK | digest PYPROJECT`` (for the scripts)."""
    args = argv if argv is not None else sys.argv[1:]
    actions = {"check": _check, "extras": _extras, "digest": _digest}
    if len(args) != 2 or args[0] not in actions:
        print(
            "usage: python -m cffd_engine.environment check LOCK | extras LOCK | digest PYPROJECT",
            file=sys.stderr,
        )
        return 2
    return actions[args[0]](args[1])


if __name__ == "__main__":
    sys.exit(main())
