import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch

from cffd_engine.model import ModelConfig, RSIANet, create_model
from cffd_engine.store import (
    DEFAULT_BUNDLE,
    BundleError,
    BundleManifest,
    ImportedBundle,
    ModelStore,
    load_model,
    model_card,
    verify_bundle,
    write_bundle,
)
from cffd_engine.store.bundle import WEIGHTS


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("lite", input_size=64).eval()


@pytest.fixture(scope="module")
def other_model(model):
    """``model`` with other weights (its classifier nudged): a different version for the store."""
    other = RSIANet(model.config).eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other.classifier.bias.add_(torch.tensor([0.5, -0.5]))
    return other


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def manifest_for(model, **fields):
    return BundleManifest(
        model_config=model.config.to_dict(), tasks=[{"name": "blend", "num_samples": 10}], **fields
    )


def make_bundle(path, model, with_replay=True, **fields):
    replay = path.parent / f"{path.name}-replay"
    if with_replay:
        replay.mkdir(parents=True, exist_ok=True)
        (replay / "index.json").write_text('{"samples": []}')
    write_bundle(path, model, manifest_for(model, **fields), {"replay": replay} if with_replay else None)
    return path


def logits(model, images):
    with torch.no_grad():
        return model(images).logits


def test_round_trip_gives_identical_outputs(tmp_path, model, images):
    bundle = make_bundle(tmp_path / "b", model)
    manifest = verify_bundle(bundle)
    assert manifest.contents["replay_buffer"] and set(manifest.files) == {WEIGHTS, "replay/index.json"}
    torch.testing.assert_close(logits(load_model(bundle), images), logits(model, images), rtol=0, atol=0)


def test_a_model_made_by_name_keeps_its_preset_and_overrides_through_a_bundle(tmp_path):
    model = create_model("lite", input_size=96).eval()
    assert model.config.name == "lite" and model.config.input_size == 96
    assert model.config.to_dict()["overrides"] == {"input_size": 96}
    bundle = make_bundle(tmp_path / "b", model)
    manifest = verify_bundle(bundle)
    assert manifest.model_config["name"] == "lite" and manifest.model_config["overrides"] == {
        "input_size": 96
    }
    loaded = load_model(bundle)
    assert loaded.config.name == "lite" and loaded.config.overrides == {"input_size": 96}
    assert "preset 'lite' with input_size=96," in model_card(manifest)


def test_a_config_saved_before_overrides_were_recorded_still_loads(tmp_path):
    with zipfile.ZipFile(DEFAULT_BUNDLE) as shipped:
        saved = json.loads(shipped.read("manifest.json"))["model_config"]
    assert "overrides" not in saved  # the shipped default model predates the field
    config = ModelConfig.from_dict(saved)
    assert config.name == "lite0" and config.overrides == {}
    assert ModelConfig.load(config.save(tmp_path / "config.json")) == config


def test_one_tampered_byte_in_the_weights_is_detected_and_named(tmp_path, model):
    bundle = make_bundle(tmp_path / "b", model)
    weights = bundle / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="'weights.safetensors' was modified"):
        load_model(bundle)


def _add_listed_file(bundle, name, content: bytes):
    (bundle / name).parent.mkdir(parents=True, exist_ok=True)
    (bundle / name).write_bytes(content)
    manifest = json.loads((bundle / "manifest.json").read_text())
    import hashlib

    manifest["files"][name] = hashlib.sha256(content).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("extra/state.pkl", pickle.dumps({"a": 1}), "pickle"),
        ("extra/notes.txt", pickle.dumps(os.getcwd), "pickle"),
        ("weights.pt", b"PK\x03\x04 torch zip", "pickle"),
        ("run.py", b"print('hi')", "executable"),
    ],
)
def test_bundles_with_code_carrying_files_are_refused(tmp_path, model, name, content, reason):
    bundle = make_bundle(tmp_path / "b", model)
    _add_listed_file(bundle, name, content)
    with pytest.raises(BundleError, match=reason):
        verify_bundle(bundle)


def test_unlisted_files_and_symlinks_are_refused(tmp_path, model):
    bundle = make_bundle(tmp_path / "b", model)
    (bundle / "stray.json").write_text("{}")
    with pytest.raises(BundleError, match="not recorded"):
        verify_bundle(bundle)
    (bundle / "stray.json").unlink()
    (bundle / "replay" / "link.json").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match="symbolic link"):
        verify_bundle(bundle)


def _zip_with(path, bundle, extra: zipfile.ZipInfo | None = None, extra_data: bytes = b"x"):
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(bundle.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(bundle).as_posix())
        if extra is not None:
            archive.writestr(extra, extra_data)
    return path


def _symlink_info(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16) | 0
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (zipfile.ZipInfo("/etc/cron.d/evil.json"), "absolute"),
        (zipfile.ZipInfo("../../outside.json"), "leaves the bundle"),
        (zipfile.ZipInfo("replay/../../x.json"), "leaves the bundle"),
        (_symlink_info("replay/evil.json"), "symbolic link"),
        (zipfile.ZipInfo("replay/cache.pkl"), "pickle"),
    ],
)
def test_malicious_archives_are_refused_and_leave_the_store_unchanged(tmp_path, model, member, reason):
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(make_bundle(tmp_path / "good", model)).version)
    archive = _zip_with(tmp_path / "evil.cffd", tmp_path / "good", member)
    with pytest.raises(BundleError, match=reason):
        store.import_bundle(archive)
    assert store.versions() == ["v1"] and store.active_version() == "v1"
    assert list(store.staging_dir.iterdir()) == []
    assert not (tmp_path / "outside.json").exists()


def test_rollback_restores_the_earlier_versions_exact_outputs(tmp_path, model, images):
    store = ModelStore(tmp_path / "store")
    store.activate(store.add(lambda staging: write_bundle(staging, model, manifest_for(model))))
    before = logits(store.load()[0], images)
    updated = RSIANet(model.config)
    updated.load_state_dict(model.state_dict())
    with torch.no_grad():
        updated.classifier.bias.add_(torch.tensor([0.5, -0.5]))
    store.activate(
        store.add(lambda staging: write_bundle(staging, updated, manifest_for(updated, parent_version="v1")))
    )
    assert store.active_version() == "v2"
    assert not torch.equal(logits(store.load()[0], images), before)
    assert store.rollback() == "v1"
    torch.testing.assert_close(logits(store.load()[0], images), before, rtol=0, atol=0)
    with pytest.raises(BundleError, match="no earlier version"):
        store.rollback()


def test_the_active_version_cannot_be_deleted_but_others_can(tmp_path, model, other_model):
    store = ModelStore(tmp_path / "store")
    first = store.import_bundle(make_bundle(tmp_path / "a", model)).version
    second = store.import_bundle(make_bundle(tmp_path / "b", other_model)).version
    store.activate(second)
    with pytest.raises(BundleError, match="active version"):
        store.delete(second)
    store.delete(first)
    assert store.versions() == ["v2"]


def test_export_without_private_data_analyses_but_cannot_learn(tmp_path, model, images):
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(make_bundle(tmp_path / "a", model)).version)
    exported = store.export("v1", tmp_path / "shared.cffd", include_private_data=False)
    with zipfile.ZipFile(exported) as archive:
        assert not any(name.startswith("replay/") for name in archive.namelist())
    other = ModelStore(tmp_path / "other-lab")
    version = other.import_bundle(exported).version
    manifest = other.verify(version)
    assert not manifest.learnable and "left out" in manifest.contents["omitted"]
    torch.testing.assert_close(logits(other.load(version)[0], images), logits(model, images), rtol=0, atol=0)
    card = model_card(manifest)
    assert "cannot be updated" in card
    config = model.config
    assert f"{config.spatial_backbone} (photo) and {config.frequency_backbone} (bands) backbones" in card


def test_the_card_states_how_the_threshold_was_fitted_and_its_false_alarm_rates():
    from cffd_engine.analysis.settings import AnalysisSettings
    from cffd_engine.calibration import fit_decision

    margins = torch.linspace(-4, 4, 40).numpy()
    labels = (torch.arange(40) >= 20).int().numpy()
    decision = fit_decision(margins, labels, "held-out test faces")
    manifest = BundleManifest(model_config={"name": "lite"}, decision=decision)
    manifest.metrics["test_decision"] = {
        "threshold": decision["threshold"], "genuine_faces": 400, "false_alarm_rate": 0.0425,
        "detection_rate": {"blend": 0.61, "swap": 0.875},
    }  # fmt: skip
    card = model_card(manifest)
    assert f"at least {decision['threshold']:.2f}" in card
    assert f"temperature {decision['calibration']['temperature']:g}" in card
    assert "at most 5.0% of 20 held-out genuine faces manipulated (held-out test faces" in card
    assert "On the 400 genuine test faces, never used to fit it, 4.2% were called manipulated" in card
    assert "blend 61.0%, swap 87.5%" in card
    assert "not calibrated" in model_card(BundleManifest(model_config={"name": "lite"}))
    # The video-level rule, with the analysis's own default window.
    assert (
        f"- Video verdict: each face track is scored by its most suspicious stretch, the highest mean fake "
        f"probability over {AnalysisSettings().window_s:g} s of consecutive judged faces" in card
    )


WRITER = textwrap.dedent(
    """
    import sys, torch
    from cffd_engine.store import BundleManifest, ModelStore, write_bundle
    store = ModelStore(sys.argv[1])
    model = torch.nn.Linear(1024, 1024)
    print("ready", flush=True)
    while True:
        store.add(lambda staging: write_bundle(staging, model, BundleManifest(model_config={"name": "linear"})))
    """
)


def test_killing_a_writer_at_random_moments_never_breaks_the_store(tmp_path, model):
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(make_bundle(tmp_path / "a", model)).version)
    rng = random.Random(7)
    for _ in range(5):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store.root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.getcwd(),
        )
        assert writer.stdout.readline().strip() == "ready"
        subprocess.run(["sleep", f"{rng.uniform(0.02, 0.6):.3f}"], check=True)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        reopened = ModelStore(store.root)
        assert reopened.active_version() == "v1"
        for version in reopened.versions():
            reopened.verify(version)  # every committed version is complete
        assert all(row.problem is None for row in reopened.list())
        reopened.clean_staging()
    assert len(ModelStore(store.root).versions()) > 1  # the writer did commit versions between kills


def test_cli_lists_imports_activates_and_rolls_back(tmp_path, model, other_model, capsys):
    from cffd_engine.cli import main

    store_dir = tmp_path / "store"
    make_bundle(tmp_path / "a", model)
    make_bundle(tmp_path / "b", other_model, parent_version="v1")
    assert main(["models", "--store", str(store_dir), "import", str(tmp_path / "a"), "--activate"]) == 0
    assert main(["models", "--store", str(store_dir), "import", str(tmp_path / "b"), "--activate"]) == 0
    assert main(["models", "--store", str(store_dir), "rollback"]) == 0
    capsys.readouterr()
    assert main(["models", "--store", str(store_dir), "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("* v1") and listing[1].startswith("  v2")
    assert main(["models", "--store", str(store_dir), "delete", "v1"]) == 2
    assert "active version" in capsys.readouterr().err


def test_the_models_command_on_a_fresh_store_holds_the_shipped_model(tmp_path, capsys):
    from cffd_engine.cli import main

    store_dir = tmp_path / "fresh"
    assert main(["models", "--store", str(store_dir), "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("* v1") and "tasks: blend, swap, reenact, texture" in listing[0]
    assert "(no replay buffer: cannot learn)" in listing[0]  # until its training faces are restored


# Undoing an activation, and the history of activations ---------------------------------------


def store_with_versions(tmp_path, *models) -> ModelStore:
    """A store holding one version per model (v1, v2, ...), none of them active."""
    store = ModelStore(tmp_path / "store")
    for model in models:
        store.add(lambda staging, model=model: write_bundle(staging, model, manifest_for(model)))
    return store


def third_model(model):
    third = RSIANet(model.config).eval()
    third.load_state_dict(model.state_dict())
    with torch.no_grad():
        third.classifier.bias.add_(torch.tensor([-0.5, 0.5]))
    return third


def test_undo_goes_back_to_the_version_active_before_and_the_history_keeps_every_change(
    tmp_path, model, other_model
):
    import datetime as dt

    store = store_with_versions(tmp_path, model, other_model)
    assert store.activation_history() == [] and store.undo_target() is None
    store.activate("v1")
    store.activate("v2")
    assert store.undo_target() == "v1"
    assert store.undo_activation() == "v1"
    assert store.active_version() == "v1"
    reread = ModelStore(store.root).activation_history()  # from the file, by a store opened afresh
    assert [(entry.version, entry.action) for entry in reread] == [
        ("v1", "activated"),
        ("v2", "activated"),
        ("v1", "undo"),
    ]
    assert reread == store.activation_history()
    times = [dt.datetime.fromisoformat(entry.time) for entry in reread]
    assert all(time.utcoffset() == dt.timedelta(0) for time in times) and times == sorted(times)
    on_disk = json.loads(store.history_file.read_text())
    assert on_disk[-1] == {"version": "v1", "time": reread[-1].time, "action": "undo"}
    # Undoing the undo goes back again: the version active before is always one click away.
    assert store.undo_target() == "v2"


def test_undo_with_nothing_to_undo_is_refused_naming_the_store(tmp_path, model):
    store = store_with_versions(tmp_path, model)
    with pytest.raises(BundleError, match="no earlier active version"):
        store.undo_activation()
    store.activate("v1")
    before = (store.pointer.read_bytes(), store.history_file.read_bytes())
    with pytest.raises(BundleError, match="no earlier active version") as caught:
        store.undo_activation()
    assert str(store.root) in str(caught.value)
    assert (store.pointer.read_bytes(), store.history_file.read_bytes()) == before


def test_undo_skips_a_version_deleted_since_and_the_history_still_names_it(tmp_path, model, other_model):
    store = store_with_versions(tmp_path, model, other_model, third_model(model))
    for version in ("v1", "v2", "v3"):
        store.activate(version)
    store.delete("v2")
    assert store.undo_target() == "v1"
    assert store.undo_activation() == "v1"
    assert [entry.version for entry in store.activation_history()] == ["v1", "v2", "v3", "v1"]


def test_a_store_from_before_the_history_keeps_its_active_version_one_undo_away(tmp_path, model, other_model):
    store = store_with_versions(tmp_path, model, other_model)
    store.pointer.write_text('{"version": "v1"}')  # as an older CFFD Studio left it: no history file
    assert store.activation_history() == [] and store.undo_target() is None
    store.activate("v2")
    assert [(entry.version, entry.action) for entry in store.activation_history()] == [
        ("v1", "was active"),
        ("v2", "activated"),
    ]
    assert store.undo_activation() == "v1"


def test_a_damaged_history_reads_as_empty_and_the_next_activation_starts_it_again(
    tmp_path, model, other_model
):
    store = store_with_versions(tmp_path, model, other_model)
    store.activate("v1")
    store.history_file.write_text('[{"version": "v1"}, "not an entry"')  # cut short
    assert store.activation_history() == [] and store.undo_target() is None
    store.history_file.write_text('[{"version": 1, "time": "x", "action": "activated"}, "odd"]')
    assert store.activation_history() == []  # entries not as the store writes them are left out
    store.activate("v2")
    assert [entry.version for entry in store.activation_history()] == ["v1", "v2"]
    assert store.undo_activation() == "v1"


def test_a_failed_activation_leaves_the_pointer_and_the_history_as_they_were(
    tmp_path, model, other_model, monkeypatch
):
    import errno

    from cffd_engine import fileio

    store = store_with_versions(tmp_path, model, other_model)
    store.activate("v1")
    before = (store.pointer.read_bytes(), store.history_file.read_bytes())
    weights = store.path("v2") / WEIGHTS
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    weights.write_bytes(bytes(damaged))
    with pytest.raises(BundleError, match="was modified or damaged"):
        store.activate("v2")
    assert (store.pointer.read_bytes(), store.history_file.read_bytes()) == before

    store.delete("v2")
    intact = store.add(lambda staging: write_bundle(staging, other_model, manifest_for(other_model)))
    write_beside = fileio._write_beside

    def disk_full_for_the_history(path, data):
        if path == store.history_file:
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_beside(path, data)

    monkeypatch.setattr(fileio, "_write_beside", disk_full_for_the_history)
    with pytest.raises(BundleError, match="could not record the active version") as caught:
        store.activate(intact)
    assert str(store.pointer) in str(caught.value) and "No space left" in str(caught.value)
    assert (store.pointer.read_bytes(), store.history_file.read_bytes()) == before
    assert sorted(path.name for path in store.root.iterdir()) == sorted(
        ["active.json", "activations.json", "staging", "versions"]
    )  # no temporary file left behind


# Importing a bundle whose weights are already stored --------------------------------------------


def test_importing_the_same_weights_again_adds_nothing_and_names_the_version(tmp_path, model, other_model):
    store = ModelStore(tmp_path / "store")
    bundle = make_bundle(tmp_path / "a", model)
    assert store.import_bundle(bundle) == ImportedBundle("v1", already_stored=False)
    assert store.import_bundle(bundle) == ImportedBundle("v1", already_stored=True)
    # The same weights in another form (exported, without the replay buffer) are the same model.
    exported = store.export("v1", tmp_path / "v1.cffd", include_private_data=False)
    assert store.import_bundle(exported) == ImportedBundle("v1", already_stored=True)
    assert store.versions() == ["v1"] and list(store.staging_dir.iterdir()) == []
    assert store.activation_history() == []  # importing activates nothing

    assert store.import_bundle(make_bundle(tmp_path / "b", other_model)) == ImportedBundle("v2", False)
    assert store.versions() == ["v1", "v2"]


def test_the_same_weights_with_the_replay_buffer_a_stored_copy_lacks_become_a_version_that_can_learn(
    tmp_path, model
):
    store = ModelStore(tmp_path / "store")
    full = make_bundle(tmp_path / "a", model)
    without_faces = make_bundle(tmp_path / "b", model, with_replay=False)
    assert store.import_bundle(without_faces) == ImportedBundle("v1", already_stored=False)
    assert not store.manifest("v1").learnable
    assert store.import_bundle(full) == ImportedBundle("v2", already_stored=False)
    assert store.manifest("v2").learnable
    assert store.import_bundle(without_faces) == ImportedBundle("v1", already_stored=True)


def test_a_stored_version_whose_weights_were_damaged_does_not_count_as_holding_them(tmp_path, model):
    store = ModelStore(tmp_path / "store")
    bundle = make_bundle(tmp_path / "a", model)
    store.import_bundle(bundle)
    weights = store.path("v1") / WEIGHTS
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    weights.write_bytes(bytes(damaged))  # the manifest still records the good hash
    assert store.import_bundle(bundle) == ImportedBundle("v2", already_stored=False)
    store.verify("v2")


def test_cli_import_twice_undo_and_history(tmp_path, model, other_model, capsys):
    from cffd_engine.cli import main

    store_dir = tmp_path / "store"
    models = ["models", "--store", str(store_dir)]
    make_bundle(tmp_path / "a", model)
    make_bundle(tmp_path / "b", other_model)
    assert main([*models, "import", str(tmp_path / "a"), "--activate"]) == 0
    assert capsys.readouterr().out.strip() == f"imported {tmp_path / 'a'} as v1 (active)"
    assert main([*models, "import", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'a'} is already in the store as v1; nothing added"
    assert ModelStore(store_dir).versions() == ["v1"]

    assert main([*models, "undo"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "no earlier active version" in error and "Traceback" not in error

    assert main([*models, "import", str(tmp_path / "b"), "--activate"]) == 0
    capsys.readouterr()
    assert main([*models, "undo"]) == 0
    assert capsys.readouterr().out.strip() == "active: v1"
    assert ModelStore(store_dir).active_version() == "v1"
    assert main([*models, "delete", "v2"]) == 0
    capsys.readouterr()
    assert main([*models, "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["v1", "activated"],
        ["v2", "activated", "(deleted)"],
        ["v1", "undo"],
    ]
