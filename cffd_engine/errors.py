"""Errors a user can act on: each names the file, what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path


class CFFDError(Exception):
    """Base class for errors meant to be shown to the user as they are."""


class ConfigError(CFFDError):
    """A file a user wrote says something that cannot be used: which file, which key, what is allowed."""

    def __init__(self, source: Path | str, key: str | None, problem: str, allowed: str | None = None):
        self.source, self.key = str(source), key
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem + (f" (allowed: {allowed})" if allowed else ""))


class EvidenceError(CFFDError):
    """An evidence file cannot be read as asked."""

    def __init__(self, path: Path | str, problem: str, fix: str, kind: str = "file"):
        self.path = Path(path)
        self.kind = kind  # what the path is (``media.intake`` kinds): "file", "fifo", "link-loop", ...
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")


class AssetError(CFFDError):
    """A model file the engine needs is missing, unobtainable or corrupt."""


class CaseError(CFFDError):
    """A case folder cannot be opened or written."""


class DeviceError(CFFDError, RuntimeError):
    """The device asked for (``--device``, a recipe's ``device``) is not one, or not on this machine.

    A RuntimeError too, as torch's own device errors are: code that caught those still catches it.
    """
