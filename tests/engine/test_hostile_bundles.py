"""Hostile model bundles that test_store.py does not cover: zip bombs, lying sizes and counts, configs for
models this engine cannot build, and bundle data files that would break the analysis.

test_store.py already refuses pickles, code-carrying suffixes, absolute paths, ``..``, symbolic
links and unlisted files. Every import here must be refused with a BundleError that names the
file and says why, *before anything is written outside the store's staging area*: the store's
versions, active pointer and every file under the store's parent folder are compared before
and after.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from cffd_engine.analysis import load_analysis_model
from cffd_engine.cli import main as cffd
from cffd_engine.errors import CFFDError
from cffd_engine.model import RSIANet, preset
from cffd_engine.store import (
    BundleError,
    BundleManifest,
    ImportedBundle,
    ModelStore,
    load_model,
    write_bundle,
)
from cffd_engine.store import archive as archive_module
from cffd_engine.store.bundle import MANIFEST
from tests.engine.test_store import make_bundle

MIB = 1 << 20


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RSIANet(preset("lite", input_size=64)).eval()


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory) -> Path:
    """A valid bundle with a real ``lite`` config and stand-in weights: import checks the config, never
    loads the weights, and a few hundred bytes of weights keep each import fast."""
    directory = tmp_path_factory.mktemp("lab") / "good"
    replay = directory.parent / "replay"
    replay.mkdir()
    (replay / "index.json").write_text('{"samples": []}')
    manifest = BundleManifest(model_config=preset("lite", input_size=64).to_dict(), tasks=[{"name": "blend"}])
    write_bundle(directory, torch.nn.Linear(2, 2), manifest, {"replay": replay})
    return directory


@pytest.fixture
def store(tmp_path, good_bundle) -> ModelStore:
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(good_bundle).version)
    return store


def snapshot(store: ModelStore) -> tuple:
    """The store's versions and active pointer, and every path (with size) under the store's parent folder."""
    parent = store.root.parent
    files = sorted(
        (path.relative_to(parent).as_posix(), path.stat().st_size if path.is_file() else -1)
        for path in parent.rglob("*")
    )
    return store.versions(), store.active_version(), store.pointer.read_bytes(), files


def assert_refused(store: ModelStore, source: Path, match: str) -> BundleError:
    """Importing ``source`` raises BundleError matching ``match`` and naming a file; nothing changed."""
    before = snapshot(store)
    with pytest.raises(BundleError, match=match) as caught:
        store.import_bundle(source)
    assert str(source) in str(caught.value) or str(store.root) in str(caught.value)
    assert snapshot(store) == before
    assert list(store.staging_dir.iterdir()) == []
    return caught.value


def bundle_zip(bundle: Path, path: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    """``bundle`` zipped as a .cffd (deflated), then ``extra(archive)`` to add hostile members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(bundle.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(bundle).as_posix())
        if extra is not None:
            extra(archive)
    return path


def _zeros(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of ``size`` zero bytes, streamed: it deflates about 1000:1."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w") as member:
        for _ in range(size // MIB):
            member.write(bytes(MIB))


def _patch_sizes(data: bytes, name: str, uncompressed: int) -> bytes:
    """``data`` (a zip) with the declared uncompressed size of member ``name`` replaced, in both headers."""
    patched = bytearray(data)
    encoded = name.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == encoded:
            struct.pack_into("<I", patched, central + 24, uncompressed)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", patched, local + 22, uncompressed)
            return bytes(patched)
        central = data.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{name} not in the archive")


def _patch_end_record(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, data.rfind(b"PK\x05\x06") + offset, value)
    return bytes(patched)


# Zip bombs and lying sizes -------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, store, good_bundle):
    """32 MiB of zeros in 32 KiB: the declared size is honest, the ratio is not a model's."""
    bomb = bundle_zip(good_bundle, tmp_path / "bomb.cffd", lambda a: _zeros(a, "replay/bomb.json", 32 * MIB))
    assert bomb.stat().st_size < 2 * MIB
    assert_refused(store, bomb, r"'replay/bomb\.json' expands implausibly \(zip bomb\?\)")


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path, store, good_bundle):
    """A bomb that lies: the header declares 1 MiB (a plausible ratio), the stream holds 32 MiB.

    The reader stops at the declared size, so no more than that is ever written to staging;
    the checksum then fails and the import is refused.
    """
    honest = bundle_zip(
        good_bundle, tmp_path / "honest.cffd", lambda a: _zeros(a, "replay/bomb.json", 32 * MIB)
    )
    liar = tmp_path / "liar.cffd"
    liar.write_bytes(_patch_sizes(honest.read_bytes(), "replay/bomb.json", MIB))
    honest.unlink()
    with zipfile.ZipFile(liar) as archive:
        assert archive.getinfo("replay/bomb.json").file_size == MIB
    assert_refused(store, liar, r"'replay/bomb\.json' cannot be unpacked \(BadZipFile: Bad CRC-32")


def test_a_member_claiming_a_huge_size_is_refused(tmp_path, store, good_bundle):
    honest = bundle_zip(good_bundle, tmp_path / "honest.cffd", lambda a: a.writestr("notes.txt", "hello"))
    huge = tmp_path / "huge.cffd"
    huge.write_bytes(_patch_sizes(honest.read_bytes(), "notes.txt", 0xFFFFFFF0))  # 4 GiB
    assert_refused(store, huge, r"'notes\.txt' expands implausibly")


def test_members_that_together_exceed_the_size_limit_are_refused(tmp_path, store, good_bundle, monkeypatch):
    """The total limit (8 GiB) lowered to 1 MiB: four incompressible 300 KiB files pass each member's
    check, not the sum."""
    monkeypatch.setattr(archive_module, "MAX_TOTAL_BYTES", MIB)

    def four_files(archive: zipfile.ZipFile) -> None:
        for index in range(4):
            archive.writestr(f"replay/{index}.png", hashlib.shake_256(bytes([index])).digest(300 * 1024))

    archive = bundle_zip(good_bundle, tmp_path / "big.cffd", four_files)
    assert_refused(store, archive, r"expands implausibly")


def test_too_many_members_are_refused(tmp_path, store, good_bundle, monkeypatch):
    """The member limit (200,000) lowered to 20, so the archive stays small; the slow test uses the real one."""
    monkeypatch.setattr(archive_module, "MAX_MEMBERS", 20)

    def many(archive: zipfile.ZipFile) -> None:
        for index in range(20):
            archive.writestr(f"replay/{index}.json", "{}")

    archive = bundle_zip(good_bundle, tmp_path / "many.cffd", many)
    assert_refused(store, archive, r"refused: \d+ files is more than a model bundle holds")


@pytest.mark.slow
def test_two_hundred_thousand_members_are_refused(tmp_path, store, good_bundle):
    def many(archive: zipfile.ZipFile) -> None:
        for index in range(archive_module.MAX_MEMBERS):
            archive.writestr(f"r/{index}.json", b"")

    archive = bundle_zip(good_bundle, tmp_path / "many.cffd", many)
    assert_refused(store, archive, r"files is more than a model bundle holds")


def test_a_central_directory_beyond_the_file_is_refused(tmp_path, store, good_bundle):
    """The end record puts the directory at 4 GiB: offsets computed from it go negative."""
    archive = bundle_zip(good_bundle, tmp_path / "a.cffd")
    archive.write_bytes(_patch_end_record(archive.read_bytes(), 16, "<I", 0xFFFFFFF0))
    assert_refused(store, archive, r"cannot be unpacked|not a \.cffd model file")


def test_a_directory_size_larger_than_the_file_is_refused(tmp_path, store, good_bundle):
    archive = bundle_zip(good_bundle, tmp_path / "a.cffd")
    archive.write_bytes(_patch_end_record(archive.read_bytes(), 12, "<I", 0xFFFFFFF0))
    assert_refused(store, archive, r"not a \.cffd model file")


def test_a_lying_member_count_is_ignored(tmp_path, store, good_bundle):
    """The end record claims 65,535 members; only the real directory is read, and the bundle verifies
    (as the v1 it was made from: nothing is added)."""
    archive = bundle_zip(good_bundle, tmp_path / "a.cffd")
    archive.write_bytes(_patch_end_record(archive.read_bytes(), 10, "<H", 0xFFFF))
    assert store.import_bundle(archive) == ImportedBundle("v1", already_stored=True)
    assert store.versions() == ["v1"] and store.active_version() == "v1"


# Manifests that claim too much ----------------------------------------------------------------


def edited_bundle(source: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of ``source`` whose manifest.json went through ``edit`` (file hashes still match)."""
    shutil.copytree(source, target)
    manifest = json.loads((target / MANIFEST).read_text())
    edit(manifest)
    (target / MANIFEST).write_text(json.dumps(manifest))
    return target


def _many_files(manifest: dict) -> None:
    manifest["files"].update({f"replay/{index}.json": "0" * 64 for index in range(100_000)})


MANIFEST_CASES = {
    "100k-files-listed": (_many_files, r"files recorded in the manifest are missing: replay/0\.json"),
    "format-from-the-future": (
        lambda m: m.update(format_version=10**30),
        r"newer than this CFFD Studio understands",
    ),
    "negative-threshold": (lambda m: m["decision"].update(threshold=-1), r"'decision\.threshold' must be"),
    "huge-threshold": (lambda m: m["decision"].update(threshold=1e308), r"'decision\.threshold' must be"),
    "temperature-zero": (
        lambda m: m["decision"].update(calibration={"method": "temperature", "temperature": 0}),
        r"'decision\.calibration\.temperature' must be a positive number",
    ),
    "accuracy-not-a-matrix": (lambda m: m["metrics"].update(accuracy={"-1": 5}), r"'metrics\.accuracy'"),
    "contents-not-an-object": (lambda m: m.update(contents=None), r"'contents' must be an object"),
    "tasks-not-objects": (lambda m: m.update(tasks=["blend", 7]), r"'tasks' must be a list of objects"),
    "unknown-backbone": (
        lambda m: m["model_config"].update(spatial_backbone="hypernet_9000"),
        r"asks for the backbone 'hypernet_9000', which this CFFD Studio does not have",
    ),
    "backbone-not-text": (
        lambda m: m["model_config"].update(frequency_backbone=7),
        r"asks for the backbone 7",
    ),
    "unknown-config-field": (
        lambda m: m["model_config"].update(transformer_layers=48),
        r"the model configuration is invalid \(unknown ModelConfig field\(s\) \['transformer_layers'\]",
    ),
    "unknown-layer-kind": (
        lambda m: m["model_config"].update(sfia_mode="quantum"),
        r"the model configuration is invalid \(ModelConfig\.sfia_mode='quantum'",
    ),
    "config-not-an-object": (lambda m: m.update(model_config=["lite"]), r"'model_config' must be a dict"),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
@pytest.mark.parametrize("packed", [False, True], ids=["folder", "cffd"])
def test_manifests_that_claim_what_the_engine_cannot_honour_are_refused(
    tmp_path, store, good_bundle, case, packed
):
    edit, match = MANIFEST_CASES[case]
    source = edited_bundle(good_bundle, tmp_path / "edited", edit)
    if packed:
        source = bundle_zip(source, tmp_path / "edited.cffd")
    assert_refused(store, source, match)


def test_a_huge_manifest_is_refused_unread(tmp_path, store, good_bundle):
    """17 MiB of manifest (the limit is 16), stored uncompressed so that it is no zip bomb."""

    def padded(manifest: dict) -> None:
        manifest["description"] = "x" * (17 * MIB)

    source = edited_bundle(good_bundle, tmp_path / "edited", padded)
    with zipfile.ZipFile(tmp_path / "huge.cffd", "w", compression=zipfile.ZIP_STORED) as archive:
        for file in sorted(source.rglob("*")):
            archive.write(file, file.relative_to(source).as_posix())
    shutil.rmtree(source)
    assert_refused(store, tmp_path / "huge.cffd", r"the manifest is implausibly large")


# Bundles used directly, never imported ---------------------------------------------------------


def test_a_bundle_folder_with_an_unknown_backbone_is_a_clear_error_for_analyze(tmp_path, good_bundle, capsys):
    bundle = edited_bundle(
        good_bundle, tmp_path / "b", lambda m: m["model_config"].update(spatial_backbone="hypernet_9000")
    )
    with pytest.raises(BundleError, match="hypernet_9000"):
        load_model(bundle)
    evidence = tmp_path / "photo.jpg"
    evidence.write_bytes(b"\xff\xd8\xff")
    assert cffd(["analyze", str(evidence), "--model", str(bundle), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bundle}: the model configuration asks for the backbone 'hypernet_9000'")


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"p50": [1, 2]}',
        json.dumps({k: [0.0] * 3 for k in ("frequencies", "p05", "p50", "p95")}),
    ],
    ids=["not-json", "missing-fields", "wrong-ring-count"],
)
def test_a_malformed_reference_spectrum_is_a_clear_error_not_a_crash(tmp_path, model, content):
    """A bundle's reference_spectrum.json is read at analysis time; a bad one must not crash ``cffd analyze``."""
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "reference_spectrum.json").write_bytes(
        content if isinstance(content, bytes) else content.encode()
    )
    make_bundle(bundle, model, with_replay=False)  # lists the file in the manifest: its hash is right
    with pytest.raises(
        CFFDError, match="reference_spectrum.json: the model's reference spectrum is malformed"
    ):
        load_analysis_model(bundle)
