"""The model manager over a real store: versions, card, activate, roll back, export, import, delete, refusals."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile

import pytest

from app.model_manager import ModelManager
from cffd_engine.store import BundleManifest, write_bundle


def manager_for(qtbot, store) -> ModelManager:
    dialog = ModelManager(store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def run(qtbot, dialog: ModelManager, operation, *args) -> str:
    """Do one operation and wait for its outcome, success or failure; the message shown."""
    outcomes = []
    dialog.operation_done.connect(outcomes.append)
    dialog.operation_failed.connect(outcomes.append)
    operation(*args)
    qtbot.waitUntil(lambda: bool(outcomes), timeout=30_000)
    dialog.operation_done.disconnect(outcomes.append)
    dialog.operation_failed.disconnect(outcomes.append)
    return dialog.message.text()


def add_child_of_v1(store) -> str:
    """A second version made from v1 (as an update would), for roll-back."""
    model, manifest = store.load("v1")
    return store.add(
        lambda staging: write_bundle(
            staging,
            model,
            BundleManifest(model_config=manifest.model_config, tasks=manifest.tasks, parent_version="v1"),
        )
    )


def column(dialog: ModelManager, index: int) -> list[str]:
    return [dialog.table.item(row, index).text() for row in range(dialog.table.rowCount())]


def test_versions_card_activate_roll_back_and_delete(qtbot, store, make_window):
    window = make_window(store)
    assert window.model_label.text() == "Active model: v1, knows: checker"
    add_child_of_v1(store)
    dialog = window.open_model_manager()
    assert column(dialog, 0) == ["v1", "v2"]
    assert column(dialog, 1) == ["● active", ""]
    assert column(dialog, 3) == ["checker", "checker"] and column(dialog, 6) == ["yes", "no"]
    assert dialog.selected_version() == "v1" and "checker" in dialog.card.toPlainText()
    assert not dialog.buttons["delete"].isEnabled()  # the active version cannot be deleted

    dialog.table.selectRow(1)
    assert "updated from v1" in dialog.card.toPlainText()
    with qtbot.waitSignal(window.active_model_changed, timeout=30_000):
        dialog.buttons["activate"].click()
    assert store.active_version() == "v2" and window.model_label.text().startswith("Active model: v2")
    assert column(dialog, 1) == ["", "● active"]

    assert "v1 is now the active model" in run(qtbot, dialog, dialog.roll_back)
    assert store.active_version() == "v1"
    assert "Deleted v2" in run(qtbot, dialog, dialog.delete, "v2")
    assert store.versions() == ["v1"] and column(dialog, 0) == ["v1"]
    assert history(dialog) == ["v1: rolled back", "v2 (deleted): activated", "v1: activated"]

    message = run(qtbot, dialog, dialog.delete, "v1")
    assert message.startswith("Nothing was changed.") and "active version" in message
    assert store.versions() == ["v1"]


def test_export_without_private_data_then_import_gives_a_version_that_cannot_learn(
    qtbot, store, empty_store, tmp_path
):
    dialog = manager_for(qtbot, store)
    archive = tmp_path / "v1-public.cffd"
    assert "Exported v1" in run(qtbot, dialog, dialog.export_version, "v1", archive, False)
    with zipfile.ZipFile(archive) as bundle:
        assert not any(name.startswith(("replay/", "validation/")) for name in bundle.namelist())
    other_lab = manager_for(qtbot, empty_store)
    assert "Imported v1-public.cffd as v1" in run(qtbot, other_lab, other_lab.import_bundle, archive)
    assert empty_store.active_version() is None and column(other_lab, 6) == ["no"]


def history(dialog: ModelManager) -> list[str]:
    """The activation history as shown, newest first, without the times."""
    return [dialog.history.item(row).text().split("  ", 1)[1] for row in range(dialog.history.count())]


def test_undo_activation_goes_back_to_the_version_active_before(qtbot, store):
    add_child_of_v1(store)
    dialog = manager_for(qtbot, store)
    undo = dialog.buttons["undo"]
    assert not undo.isEnabled() and undo.text() == "Undo activation"  # only v1 was ever active
    assert history(dialog) == ["v1: activated"]

    dialog.table.selectRow(1)
    assert "v2 is now the active model" in run(qtbot, dialog, dialog.buttons["activate"].click)
    assert undo.isEnabled() and undo.text() == "Undo activation (back to v1)" and "v1" in undo.toolTip()
    assert history(dialog) == ["v2: activated", "v1: activated"]

    message = run(qtbot, dialog, undo.click)
    assert message == "Undone: v1 is the active model again."
    assert store.active_version() == "v1" and column(dialog, 1) == ["● active", ""]
    assert history(dialog) == ["v1: undo", "v2: activated", "v1: activated"]
    assert undo.text() == "Undo activation (back to v2)"  # the version left is one click away


def test_importing_the_same_bundle_twice_names_the_version_that_holds_it(
    qtbot, store, untrained_bundle, monkeypatch
):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(untrained_bundle), ""))
    dialog = manager_for(qtbot, store)
    message = run(qtbot, dialog, dialog.buttons["import"].click)
    assert message == "Imported bundle as v2. Press 'Use this version' to analyse with it."
    assert column(dialog, 0) == ["v1", "v2"] and dialog.selected_version() == "v2"

    dialog.table.selectRow(0)
    message = run(qtbot, dialog, dialog.buttons["import"].click)
    assert message.startswith("bundle is already in the store as v2; nothing was added.")
    assert column(dialog, 0) == ["v1", "v2"] and store.versions() == ["v1", "v2"]
    assert dialog.selected_version() == "v2"  # the version that holds it is shown
    assert store.active_version() == "v1"


def _bundle_zip(store, path, extra_name: str, extra_data: bytes, listed: bool = False):
    """v1 as a .cffd file with one more member (listed in the manifest with its hash if ``listed``)."""
    source = store.path("v1")
    manifest = json.loads((source / "manifest.json").read_text())
    if listed:
        manifest["files"][extra_name] = hashlib.sha256(extra_data).hexdigest()
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(source.rglob("*")):
            if file.is_file() and file.name != "manifest.json":
                archive.write(file, file.relative_to(source).as_posix())
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr(extra_name, extra_data)
    return path


@pytest.mark.parametrize(
    ("member", "data", "listed", "reason"),
    [
        ("../../outside.json", b"{}", False, "the path leaves the bundle"),
        ("replay/cache.pkl", pickle.dumps({"a": 1}), True, "can carry executable code (pickle)"),
        ("notes.txt", pickle.dumps(len), True, "it is a Python pickle, which can run code"),
    ],
)
def test_a_malicious_bundle_is_refused_with_the_reason_and_nothing_changes(
    qtbot, store, tmp_path, member, data, listed, reason
):
    dialog = manager_for(qtbot, store)
    archive = _bundle_zip(store, tmp_path / "evil.cffd", member, data, listed)
    with qtbot.waitSignal(dialog.operation_failed, timeout=30_000) as failure:
        dialog.import_bundle(archive)
    assert reason in failure.args[0]
    assert dialog.message.isVisible() and reason in dialog.message.text()
    assert dialog.message.text().startswith("Nothing was changed.")
    assert store.versions() == ["v1"] and store.active_version() == "v1"
    assert list(store.staging_dir.iterdir()) == []
    assert not (tmp_path / "outside.json").exists()


def test_restore_training_faces_is_offered_for_a_shared_recipe_model_and_fails_cleanly(
    qtbot, store, tmp_path
):
    model, manifest = store.load("v1")
    recipe = (tmp_path / "no-photos").as_posix()
    manifest.contents = {"recipe": f'name = "x"\n[data]\nfaces = "{recipe}"\n', "training_mode": "joint"}
    shared = store.add(lambda staging: write_bundle(staging, model, manifest))
    dialog = manager_for(qtbot, store)
    dialog.refresh(select="v1")
    assert not dialog.buttons["restore"].isEnabled()  # v1 carries its faces already
    dialog.refresh(select=shared)
    assert dialog.buttons["restore"].isEnabled()
    versions = store.versions()
    message = run(qtbot, dialog, dialog.restore_training_faces, shared)
    assert (
        message.startswith("Nothing was changed.") and "not on this machine" in message and recipe in message
    )
    assert store.versions() == versions and store.active_version() == "v1"


def test_without_the_training_photos_restore_asks_for_the_analysts_own_faces(
    qtbot, store, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QFileDialog

    from tests.synthetic_media import write_face_folder

    model, manifest = store.load("v1")
    manifest.contents = {
        "recipe": f'name = "x"\n[data]\nfaces = "{(tmp_path / "no-photos").as_posix()}"\n',
        "training_mode": "joint",
    }
    shared = store.add(lambda staging: write_bundle(staging, model, manifest))
    dialog = manager_for(qtbot, store)
    dialog.refresh(select=shared)
    versions = store.versions()
    asked = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: asked.append(args) or "")
    dialog.buttons["restore"].click()
    assert len(asked) == 1 and "your own genuine faces" in asked[0][1]
    assert store.versions() == versions  # cancelled: nothing ran

    own = write_face_folder(tmp_path / "own", 4)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(own))
    message = run(qtbot, dialog, dialog.buttons["restore"].click)
    # Four faces are far too few: the message says how many more, and nothing changed.
    assert (
        message.startswith("Nothing was changed.")
        and "4 face image(s)" in message
        and "add 146 more" in message
    )
    assert store.versions() == versions and store.active_version() == "v1"
