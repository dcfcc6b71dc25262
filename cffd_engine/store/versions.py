"""The model store: numbered versions v1, v2, ... in the user data folder, one of them active.

Layout under the store root::

    versions/v1/ ...        complete, verified bundles (never modified after commit)
    active.json             {"version": "v3"}, replaced atomically
    staging/                half-written bundles; whatever is here after a crash is debris

A version appears only by renaming a finished staging folder into ``versions/``, and the
active pointer changes only by an atomic replace, so a writer killed at any moment leaves
the store readable and the active version as it was.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cffd_engine.fileio import atomic_write_json, fsync_dir
from cffd_engine.store.archive import export_bundle, unpack_archive
from cffd_engine.store.bundle import (
    MANIFEST,
    BundleError,
    BundleManifest,
    check_model_config,
    load_model,
    read_manifest,
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

    def activate(self, version: str) -> None:
        """Make ``version`` the active one, after verifying it."""
        self._writable()
        self.verify(version)
        try:
            atomic_write_json(self.pointer, {"version": version})
        except OSError as exc:
            raise BundleError(
                f"{self.pointer}: could not record the active version ({exc.strerror})"
            ) from exc

    def rollback(self) -> str:
        """Activate the version the active one was derived from; returns it."""
        active = self.active_version()
        if active is None:
            raise BundleError("there is no active version to roll back from")
        parent = self.manifest(active).parent_version
        if not parent or parent not in self.versions():
            raise BundleError(f"{active} has no earlier version in this store to roll back to")
        self.activate(parent)
        return parent

    def delete(self, version: str) -> None:
        """Delete a version; never the active one."""
        self._writable()
        if version == self.active_version():
            raise BundleError(f"{version} is the active version; activate another one before deleting it")
        doomed = self.staging_dir / f"{version}-{uuid.uuid4().hex}.deleted"
        os.rename(self.path(version), doomed)  # disappears from the list at once, then is removed
        shutil.rmtree(doomed, ignore_errors=True)

    def import_bundle(self, source: Path | str) -> str:
        """Add a bundle folder or .cffd file as the next version (not activated). Refuses unsafe bundles."""
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
            manifest = verify_bundle(staged)
            check_model_config(manifest, source)  # a model this engine cannot build never becomes a version
            manifest.contents = {**manifest.contents, "imported_from": str(source.name)}
            atomic_write_json(staged / MANIFEST, manifest.to_dict())
        except BaseException as exc:
            shutil.rmtree(staged, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _not_stored(self.root, exc) from exc
            raise
        return self.commit(staged)

    def export(self, version: str, destination: Path | str, include_private_data: bool = True) -> Path:
        return export_bundle(self.path(version), Path(destination), include_private_data)

    def ensure_default(self, default_bundle: Path | str) -> str | None:
        """On first use, install the bundled default model as v1 and activate it; returns the active version."""
        if self.active_version() is not None:
            return self.active_version()
        if not self.versions():
            self.activate(self.import_bundle(default_bundle))
        else:
            self.activate(self.versions()[-1])
        return self.active_version()
