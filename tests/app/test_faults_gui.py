"""The model manager over a store on a read-only disk: each change refused, the store folder named, nothing lost."""

from __future__ import annotations

from app.model_manager import ModelManager
from tests.app.test_model_manager import add_child_of_v1, manager_for, run
from tests.mounts import read_only


def test_the_model_manager_says_a_read_only_store_cannot_change(qtbot, store, tmp_path):
    add_child_of_v1(store)
    archive = store.export("v1", tmp_path / "v1.cffd")
    dialog: ModelManager = manager_for(qtbot, store)
    with read_only(store.root):
        for operation, argument in ((dialog.activate, "v2"), (dialog.import_bundle, archive)):
            message = run(qtbot, dialog, operation, argument)
            assert message.startswith("Nothing was changed.") and str(store.root) in message
            assert "read-only" in message and "remount it read-write" in message
        assert store.versions() == ["v1", "v2"] and store.active_version() == "v1"
        assert dialog.table.rowCount() == 2
    store.verify("v1")
    store.verify("v2")
