"""The model store: numbered versions v1, v2, ... in the user data folder, one of them active.

Layout under the store root::

    versions/v1/ ...        complete, verified bundles (never modified after commit)
    active.json             {"version": "v3"}, replaced atomically
    activations.json        every change of the active version, oldest first, replaced with active.json
    staging/                half-written bundles; whatever is here after a crash is debris

A version appears only by renaming a finished staging folder into ``versions/``, and the
active pointer changes only by an atomic replace, so a writer killed at any moment leaves
the store readable and the active version as it was.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import platformdirs

from cffd_engine.fileio import atomic_write_files, atomic_write_json, fsync_dir, json_bytes
from cffd_engine.store.archive import export_bundle, unpack_archive
from cffd_engine.store.bundle import (
    MANIFEST,
    WEIGHTS,
    BundleError,
    BundleManifest,
    check_model_config,
    load_model,
    read_manifest,
    sha256_file,
    verify_bundle,
)

VERSION_PATTERN = re.compile(r"^v(\d+)$")


@dataclass
class VersionInfo:
    """One stored version as the model manager lists it."""

    version: str
    active: bool
    created: str
    parent_version: str | None
    tasks: list[str]
    learnable: bool
    problem: str | None = None  # set when the version's manifest cannot be read


# What made a version active, as the activation history names it.
ACTIVATED = "activated"
UNDO = "undo"
ROLLED_BACK = "rolled back"
INSTALLED_DEFAULT = "installed default"
WAS_ACTIVE = "was active"  # found active when the history began (a store older than the history)


@dataclass(frozen=True)
class Activation:
    """One change of the active version: which version, when (UTC, ISO 8601) and what did it."""

    version: str
    time: str
    action: str


@dataclass(frozen=True)
class ImportedBundle:
    """What ``import_bundle`` did: the version that holds the bundle's weights, and whether it was there before."""

    version: str
    already_stored: bool


# The model that ships with the application; installed as v1 into an empty store on first use.
DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "resources" / "default-model.cffd"


_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _not_stored(root: Path, exc: OSError) -> BundleError:
    """A file error while a version was being stored (a full disk, say), as the user is told it."""
    reason = str(exc)
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        reason = str(exc.args[0][0][-1])  # copytree lists (source, target, why) for each file
    full = exc.errno in _DISK_FULL or any(os.strerror(number) in reason for number in _DISK_FULL)
    fix = " Free some space on the store's disk and try again" if full else ""
    return BundleError(f"{root}: the model version could not be stored ({reason}); nothing was changed.{fix}")


def _on_read_only_disk(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def default_store_root() -> Path:
    return Path(platformdirs.user_data_dir("cffd-studio", appauthor=False)) / "models"


class ModelStore:
    """Versioned model bundles with one active version; see the module docstring for the guarantees."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_store_root()
        self.versions_dir = self.root / "versions"
        self.staging_dir = self.root / "staging"
        self.pointer = self.root / "active.json"
        self.history_file = self.root / "activations.json"
        self.read_only = False
        try:
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            self.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not self.versions_dir.is_dir():
                raise BundleError(f"{self.root}: cannot create the model store ({exc.strerror})") from exc
            self.read_only = True

    # Reading ---------------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Committed version names in numeric order."""
        names = [p.name for p in self.versions_dir.iterdir() if VERSION_PATTERN.match(p.name) and p.is_dir()]
        return sorted(names, key=lambda name: int(name[1:]))

    def path(self, version: str) -> Path:
        if not VERSION_PATTERN.match(version) or not (self.versions_dir / version).is_dir():
            raise BundleError(
                f"no model version '{version}' in {self.root} (have: {', '.join(self.versions()) or 'none'})"
            )
        return self.versions_dir / version

    def active_version(self) -> str | None:
        try:
            version = json.loads(self.pointer.read_text(encoding="utf-8")).get("version")
        except (FileNotFoundError, json.JSONDecodeError, AttributeError):
            return None
        return version if isinstance(version, str) and version in self.versions() else None

    def activation_history(self) -> list[Activation]:
        """Every change of the active version, oldest first, deleted versions included.

        A store older than the history has none; a damaged history file reads as empty (the next
        activation starts it again), and entries not in the form this store writes are left out.
        """
        try:
            entries = json.loads(self.history_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return []
        names = [field.name for field in fields(Activation)]
        return [
            Activation(**{name: entry[name] for name in names})
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict) and all(isinstance(entry.get(name), str) for name in names)
        ]

    def undo_target(self) -> str | None:
        """The version ``undo_activation`` would make active: the last other one in the history still stored."""
        active, stored = self.active_version(), set(self.versions())
        for entry in reversed(self.activation_history()):
            if entry.version != active and entry.version in stored:
                return entry.version
        return None

    def manifest(self, version: str) -> BundleManifest:
        return read_manifest(self.path(version))

    def list(self) -> list[VersionInfo]:
        active = self.active_version()
        rows = []
        for version in self.versions():
            try:
                manifest = self.manifest(version)
            except BundleError as exc:
                rows.append(VersionInfo(version, version == active, "", None, [], False, str(exc)))
                continue
            tasks = [str(task.get("name", "?")) for task in manifest.tasks]
            rows.append(
                VersionInfo(
                    version,
                    version == active,
                    manifest.created,
                    manifest.parent_version,
                    tasks,
                    manifest.learnable,
                )
            )
        return rows

    def verify(self, version: str) -> BundleManifest:
        return verify_bundle(self.path(version))

    def load(self, version: str | None = None):
        """(model, manifest) of ``version`` (default: the active one), verified before loading."""
        version = version or self.active_version()
        if version is None:
            raise BundleError(f"{self.root}: no active model version; import or train one first")
        path = self.path(version)
        manifest = verify_bundle(path)
        return load_model(path, manifest, verify=False), manifest

    # Writing ---------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise BundleError (naming the store and the fix) if no version can be written here."""
        self._writable()

    def _writable(self) -> None:
        if self.read_only or not os.access(self.versions_dir, os.W_OK):
            fix = (
                "Its disk is mounted read-only: remount it read-write, or use a store on another disk"
                if _on_read_only_disk(self.root)
                else "Give your user write access to this folder"
            )
            raise BundleError(f"{self.root}: the model store is read-only; nothing was changed. {fix}")

    def new_staging_folder(self) -> Path:
        """A fresh folder in which to write a bundle before ``commit``."""
        self._writable()
        path = self.staging_dir / f"{uuid.uuid4().hex}.partial"
        path.mkdir()
        return path

    def clean_staging(self) -> None:
        """Remove debris left by writers that were killed or cancelled."""
        for leftover in self.staging_dir.iterdir():
            shutil.rmtree(leftover, ignore_errors=True)

    def commit(self, staged: Path) -> str:
        """Verify a finished staging folder and make it the next version; returns its name.

        The active version does not change. On failure the staging folder is removed.
        """
        try:
            self._writable()
            manifest = verify_bundle(staged)
            while True:
                numbers = [int(name[1:]) for name in self.versions()]
                version = f"v{max(numbers, default=0) + 1}"
                manifest.version = version
                try:
                    atomic_write_json(staged / MANIFEST, manifest.to_dict())
                except OSError as exc:
                    raise _not_stored(self.root, exc) from exc
                try:
                    os.rename(staged, self.versions_dir / version)
                except FileExistsError:
                    continue  # another writer took this number
                except OSError as exc:
                    if (self.versions_dir / version).exists():
                        continue
                    raise BundleError(
                        f"{self.root}: could not store the new version ({exc.strerror})"
                    ) from exc
                fsync_dir(self.versions_dir)
                return version
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def add(self, write: Callable[[Path], object]) -> str:
        """Write a bundle with ``write(staging_folder)`` and commit it as the next version."""
        staged = self.new_staging_folder()
        try:
            write(staged)
        except BaseException as exc:
            shutil.rmtree(staged, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _not_stored(self.root, exc) from exc
            raise
        return self.commit(staged)

    def activate(self, version: str, action: str = ACTIVATED) -> None:
        """Make ``version`` the active one, after verifying it, and add ``action`` to the history.

        Both files are written before either replaces its old self, so an activation that fails
        (a damaged version, a full disk) leaves the pointer and the history as they were.
        """
        self._writable()
        self.verify(version)
        history = self.activation_history()
        active = self.active_version()
        if active is not None and (not history or history[-1].version != active):
            # The history began after this version was activated: keep it one undo away.
            since = dt.datetime.fromtimestamp(self.pointer.stat().st_mtime, dt.UTC)
            history.append(Activation(active, since.isoformat(timespec="seconds"), WAS_ACTIVE))
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        history.append(Activation(version, now, action))
        try:
            atomic_write_files(
                {
                    self.pointer: json_bytes({"version": version}),
                    self.history_file: json_bytes([asdict(entry) for entry in history]),
                }
            )
        except OSError as exc:
            raise BundleError(
                f"{self.pointer}: could not record the active version ({exc.strerror})"
            ) from exc

    def undo_activation(self) -> str:
        """Re-activate the version that was active before the current one (see ``undo_target``); returns it."""
        target = self.undo_target()
        if target is None:
            raise BundleError(
                f"{self.root}: no earlier active version to go back to (the activation history names "
                "no other version that is still stored); activate one by name instead"
            )
        self.activate(target, UNDO)
        return target

    def rollback(self) -> str:
        """Activate the version the active one was derived from; returns it."""
        active = self.active_version()
        if active is None:
            raise BundleError("there is no active version to roll back from")
        parent = self.manifest(active).parent_version
        if not parent or parent not in self.versions():
            raise BundleError(f"{active} has no earlier version in this store to roll back to")
        self.activate(parent, ROLLED_BACK)
        return parent

    def delete(self, version: str) -> None:
        """Delete a version; never the active one."""
        self._writable()
        if version == self.active_version():
            raise BundleError(f"{version} is the active version; activate another one before deleting it")
        doomed = self.staging_dir / f"{version}-{uuid.uuid4().hex}.deleted"
        os.rename(self.path(version), doomed)  # disappears from the list at once, then is removed
        shutil.rmtree(doomed, ignore_errors=True)

    def import_bundle(self, source: Path | str) -> ImportedBundle:
        """Add a bundle folder or .cffd file as the next version (not activated). Refuses unsafe bundles.

        If a stored version already holds the bundle's weights, nothing is added and that version is named.
        """
        source = Path(source)
        staged = self.new_staging_folder()
        try:
            if source.is_dir():
                staged.rmdir()
                shutil.copytree(source, staged, symlinks=True)
            elif source.is_file():
                staged.rmdir()
                unpack_archive(source, staged)
            else:
                raise BundleError(f"{source}: no such bundle folder or .cffd file")
            try:
                manifest = verify_bundle(staged)
            except BundleError as exc:  # it names the staging copy: name what the user gave instead
                raise BundleError(str(exc).replace(str(staged), str(source))) from None
            check_model_config(manifest, source)  # a model this engine cannot build never becomes a version
            # Checked like any other bundle first; the same weights with a replay buffer the stored copy
            # lacks are not a duplicate (they make a version that can learn).
            holder = self._version_holding(manifest.files[WEIGHTS], learnable=manifest.learnable)
            if holder is not None:
                shutil.rmtree(staged, ignore_errors=True)
                return ImportedBundle(holder, already_stored=True)
            manifest.contents = {**manifest.contents, "imported_from": str(source.name)}
            atomic_write_json(staged / MANIFEST, manifest.to_dict())
        except BaseException as exc:
            shutil.rmtree(staged, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _not_stored(self.root, exc) from exc
            raise
        return ImportedBundle(self.commit(staged), already_stored=False)

    def _version_holding(self, weights_sha256: str, learnable: bool = False) -> str | None:
        """The first stored version whose weights have this SHA-256 (by its manifest, confirmed on the file)
        and that can learn if ``learnable`` asks it to."""
        for version in self.versions():
            try:
                stored = self.manifest(version)
                if stored.files.get(WEIGHTS) != weights_sha256 or (learnable and not stored.learnable):
                    continue
                if sha256_file(self.versions_dir / version / WEIGHTS) == weights_sha256:
                    return version
            except (BundleError, OSError):
                continue  # an unreadable or damaged version holds nothing
        return None

    def export(self, version: str, destination: Path | str, include_private_data: bool = True) -> Path:
        return export_bundle(self.path(version), Path(destination), include_private_data)

    def ensure_default(self, default_bundle: Path | str) -> str | None:
        """On first use, install the bundled default model as v1 and activate it; returns the active version."""
        if self.active_version() is not None:
            return self.active_version()
        if not self.versions():
            self.activate(self.import_bundle(default_bundle).version, INSTALLED_DEFAULT)
        else:
            self.activate(self.versions()[-1])
        return self.active_version()
