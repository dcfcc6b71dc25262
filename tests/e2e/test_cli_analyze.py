"""``cffd analyze`` end to end: a batch with a corrupt file, the reports, and the reproduction command re-run.

Runs the command's own entry point in-process (``cffd analyze`` once the CLI
registers it), so the test pays the import of torch and mediapipe only once.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
import torch

from cffd_engine.cli.analyze import main
from cffd_engine.model import RSIANet, preset
from cffd_engine.store import DEFAULT_BUNDLE, BundleManifest, ModelStore, write_bundle
from tests import synthetic_media as sm


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.manual_seed(1)
    model = RSIANet(preset("lite", input_size=64))
    directory = tmp_path_factory.mktemp("models") / "bundle"
    write_bundle(directory, model, BundleManifest(model_config=model.config.to_dict()))
    return directory


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    sm.write_video_av(folder / "clip.mp4", sm.drifting_portrait_frames(16))
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(4000))
    return folder


def test_batch_report_and_reproduction(bundle, evidence, tmp_path, capsys):
    pdf = tmp_path / "report.pdf"
    argv = [str(evidence), "--model", str(bundle), "--report", str(pdf), "--frames", "8", "--threads", "1"]
    code = main([*argv, "--case-id", "K-7", "--examiner", "Tester"])
    out, err = capsys.readouterr()
    assert code == 1  # one input could not be analysed
    lines = out.splitlines()
    assert lines[0].startswith("broken.mp4: NOT APPLICABLE: the video is truncated or damaged")
    assert lines[1].startswith("clip.mp4: ") and "score" in lines[1]
    assert f"report: {pdf}" in out and "SHA-256" in out
    assert "1 of 2 input(s) could not be analysed" in err and "broken.mp4" in err
    assert "[1/2] broken.mp4" in err and "[2/2] clip.mp4" in err  # the progress bars
    assert pdf.read_bytes().startswith(b"%PDF") and (tmp_path / "report.json").exists()

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["case"]["case_id"] == "K-7"
    first = report["results"][1]
    command = shlex.split(report["reproduction"][1]["command"])
    assert command[:3] == ["cffd", "analyze", str(evidence / "clip.mp4")]
    again = tmp_path / "again.json"
    assert main([*command[2:], "--json", str(again), "--quiet"]) == 0
    repeated = json.loads(again.read_text())["results"][0]
    assert repeated["settings"] == first["settings"]
    assert repeated["evidence"]["sha256"] == first["evidence"]["sha256"]
    assert repeated["verdict"] == first["verdict"]
    for old, new in zip(first["tracks"], repeated["tracks"], strict=True):
        assert [s["frame_index"] for s in old["scores"]] == [s["frame_index"] for s in new["scores"]]
        assert np.allclose([s["fake_probability"] for s in old["scores"]], [s["fake_probability"] for s in new["scores"]], atol=1e-5)  # fmt: skip


def test_no_model_is_a_clear_error(evidence, tmp_path, capsys, monkeypatch):
    import cffd_engine.store

    monkeypatch.setattr(cffd_engine.store, "DEFAULT_BUNDLE", tmp_path / "no-default.cffd")
    assert main([str(evidence / "clip.mp4"), "--store", str(tmp_path / "store"), "--quiet"]) == 2
    assert "no active version" in capsys.readouterr().err


@pytest.mark.skipif(not DEFAULT_BUNDLE.exists(), reason=f"no default model at {DEFAULT_BUNDLE}")
def test_an_empty_store_is_seeded_with_the_default_model(evidence, tmp_path, capsys):
    store = tmp_path / "store"
    assert main([str(evidence / "clip.mp4"), "--store", str(store), "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert result["model"]["version"] == "v1"
    assert any("not validated on real deepfake" in limit for limit in result["model"]["limits"])
    assert ModelStore(store).active_version() == "v1"


def test_bad_option_is_a_clear_error(bundle, evidence, capsys):
    with pytest.raises(SystemExit) as refused:
        main([str(evidence / "clip.mp4"), "--model", str(bundle), "--top-k", "-1"])
    assert refused.value.code == 2
    assert "--top-k: must be a whole number of at least 0, got -1" in capsys.readouterr().err
