"""Manipulated videos and their pristine twins, the built-in demo, the contact sheet and the CLI wiring."""

from __future__ import annotations

import argparse
import json

import av
import numpy as np
import pytest

from cffd_engine.cli import synth as synth_cli
from cffd_engine.data.synth.base import Face
from cffd_engine.data.synth.demo import SEGMENT_S, ensure_demo_videos, make_demo_videos
from cffd_engine.data.synth.separability import paired_accuracy, roc_auc, verdict
from cffd_engine.data.synth.sheet import SheetSettings, contact_sheet
from cffd_engine.data.synth.videos import envelope, manipulate_video, smooth_tracks
from cffd_engine.media.faces import FaceLandmarker
from tests.synthetic_media import altered_portrait, face_variants, write_face_folder


def _frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def test_video_is_manipulated_only_in_the_time_range(portrait_video, tmp_path):
    out = tmp_path / "forged.mp4"
    result = manipulate_video(portrait_video, out, "reenact", start_s=0.3, end_s=0.6, seed=1, ramp_s=0.0)
    assert out.is_file() and (tmp_path / "forged_pristine.mp4").is_file()
    sidecar = json.loads((tmp_path / "forged.json").read_text())
    assert sidecar["family"] == "reenact" and sidecar["params"] == result.params
    # 25 frames/s: frames 8 to 15 lie in [0.3 s, 0.6 s].
    assert result.manipulated_frames == list(range(8, 16))
    fake, real = _frames(out), _frames(result.pristine)
    assert len(fake) == len(real) == 20
    for index in range(20):
        gap = _difference(fake[index], real[index])
        if index in result.manipulated_frames:
            assert gap > 0.2, index
        elif index < 8:
            assert gap == 0, index  # before any change the two encodes are the same


def test_video_swap_needs_a_donor_and_a_face_in_range(portrait_video, tmp_path):
    with pytest.raises(ValueError, match="donor"):
        manipulate_video(portrait_video, tmp_path / "x.mp4", "swap")
    with pytest.raises(ValueError, match="empty"):
        manipulate_video(portrait_video, tmp_path / "x.mp4", "blend", start_s=2.0, end_s=1.0)


def test_video_swap_with_a_donor_photo(portrait_video, tmp_path):
    import cv2

    donor = tmp_path / "donor.png"
    cv2.imwrite(str(donor), cv2.cvtColor(altered_portrait(), cv2.COLOR_RGB2BGR))
    result = manipulate_video(
        portrait_video, tmp_path / "swap.mp4", "swap", donor=donor, end_s=0.2, ramp_s=0.0
    )
    assert result.donor == str(donor) and result.manipulated_frames == list(range(6))


def test_envelope_and_smoothing():
    assert envelope(0.5, 1.0, 2.0, 0.25) == 0.0
    assert envelope(1.125, 1.0, 2.0, 0.25) == pytest.approx(0.5)
    assert envelope(1.5, 1.0, 2.0, 0.25) == 1.0
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 200, (478, 3)).astype(np.float32)
    base[:, 0] += np.linspace(0, 60, 478)  # spread the eyes apart so the IOD is sensible
    noisy = [base + rng.normal(0, 1.0, base.shape).astype(np.float32) for _ in range(12)]
    track = noisy[:5] + [None] + noisy[5:]
    smoothed = smooth_tracks(track)
    assert smoothed[5] is None
    jitter_before = np.std([p[0, 0] for p in noisy[5:]])
    jitter_after = np.std([p[0, 0] for p in smoothed[6:]])
    assert jitter_after < 0.7 * jitter_before


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_videos(tmp_path_factory.mktemp("demo"))


def test_demo_videos_differ_only_in_the_reenacted_segment(demo):
    sidecar = json.loads(demo.sidecar.read_text())
    assert sidecar["family"] == "reenact" and sidecar["segment_s"] == list(SEGMENT_S)
    real, fake = _frames(demo.pristine), _frames(demo.manipulated)
    assert len(real) == len(fake) == sidecar["frame_count"] == 150
    assert real[0].shape == (480, 640, 3)
    changed = set(sidecar["manipulated_frames"])
    assert min(changed) >= SEGMENT_S[0] * 25 and max(changed) <= SEGMENT_S[1] * 25
    assert _difference(real[20], fake[20]) == 0  # before the segment
    assert _difference(real[75], fake[75]) > 1.0  # in the middle of it
    # A slow pan and zoom: consecutive frames are close, the first and last far apart.
    assert _difference(real[0], real[1]) < 8 < _difference(real[0], real[-1])


def test_ensure_demo_reuses_current_files(demo):
    before = demo.manipulated.stat().st_mtime_ns
    again = ensure_demo_videos(demo.pristine.parent)
    assert again == demo and demo.manipulated.stat().st_mtime_ns == before


def test_contact_sheet_has_a_row_per_face_and_a_column_per_family():
    with FaceLandmarker(max_faces=1) as landmarker:
        faces = [
            Face(image, landmarker.landmarks(image)[0], f"{i}") for i, image in enumerate(face_variants(2))
        ]
    settings = SheetSettings(faces=None, out=None, count=2, cell=96)
    sheet = contact_sheet(faces, settings)
    # real + 5 families + the half-width mouth zoom, each with a 4 px gap, under a 28 px label.
    assert sheet.shape == (2 * (96 + 28 + 4), 6 * (96 + 4) + 48 + 4, 3)


def test_cli_sheet_writes_the_png(tmp_path, monkeypatch):
    import cv2

    monkeypatch.setenv("CFFD_SYNTH_CACHE", str(tmp_path / "cache"))
    faces = write_face_folder(tmp_path / "faces", 4)
    parser = argparse.ArgumentParser()
    synth_cli.add_arguments(parser)
    out = tmp_path / "sheet.png"
    args = parser.parse_args(
        ["sheet", "--faces", str(faces), "--out", str(out), "--count", "2", "--cell", "64"]
    )
    assert synth_cli.run(args) == 0
    assert cv2.imread(str(out)).shape == (2 * (64 + 28 + 4), 6 * (64 + 4) + 32 + 4, 3)


def test_separability_verdicts():
    tasks = ["a", "b"]
    assert verdict(tasks, [[0.99, 0.6], [0.7, 0.9]]) == "ok"
    assert verdict(tasks, [[0.99, 0.97], [0.96, 0.98]]).startswith("too easy")
    assert verdict(tasks, [[0.99, 0.6], [0.7, 0.75]]).startswith("broken") and "b" in verdict(
        tasks, [[0.99, 0.6], [0.7, 0.75]]
    )
    labels = np.array([0, 0, 1, 1])
    assert roc_auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_paired_accuracy_compares_each_fake_with_its_own_real():
    rng = np.random.default_rng(3)
    scores = rng.random(40)
    scores[10:12] = 0.5  # one tied pair
    labels = np.tile([0, 1], 20)
    expected = 0.0
    for real, fake in zip(scores[0::2], scores[1::2], strict=True):
        expected += 1.0 if fake > real else 0.5 if fake == real else 0.0
    assert paired_accuracy(labels, scores) == pytest.approx(expected / 20)
    # Every fake above its own real, yet no single threshold separates the classes.
    scores = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.4])
    assert paired_accuracy(np.array([0, 1, 0, 1, 0, 1]), scores) == 1.0
    with pytest.raises(ValueError, match="each real sample directly followed by its fake"):
        paired_accuracy(np.array([0, 0, 1, 1]), np.zeros(4))


def test_the_check_can_start_its_detectors_from_imagenet_weights(tmp_path):
    import timm
    import torch
    from safetensors.torch import save_file

    from cffd_engine.data.synth.separability import SeparabilitySettings, fresh_detector
    from cffd_engine.errors import AssetError
    from cffd_engine.model import preset

    torch.manual_seed(0)
    lite, files, stems = preset("lite"), {}, {}
    for branch in ("spatial", "frequency"):
        source = timm.create_model(getattr(lite, f"{branch}_backbone"), pretrained=False)
        files[branch] = str(tmp_path / f"{branch}.safetensors")
        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, files[branch])
        stems[branch] = source.state_dict()["conv_stem.weight"]
    settings = SeparabilitySettings(
        tmp_path, spatial_weights=files["spatial"], frequency_weights=files["frequency"]
    )
    model = fresh_detector(settings, 64)
    assert model.config.input_size == 64
    torch.testing.assert_close(model.spatial_backbone.body.conv_stem.weight, stems["spatial"])
    torch.testing.assert_close(
        model.frequency_backbone.body.conv_stem.weight, stems["frequency"].repeat(1, 4, 1, 1) / 4
    )
    scratch = fresh_detector(SeparabilitySettings(tmp_path), 64).spatial_backbone.body.conv_stem.weight
    assert not torch.allclose(scratch, stems["spatial"])
    with pytest.raises(AssetError, match="not found"):
        fresh_detector(SeparabilitySettings(tmp_path, spatial_weights=str(tmp_path / "none.safetensors")), 64)


def test_cli_parses_every_command(tmp_path, monkeypatch):
    monkeypatch.setenv(synth_cli.ENV_SHARED_DATA, str(tmp_path))  # no UTKFace there: --faces becomes required
    parser = argparse.ArgumentParser(prog="cffd synth")
    synth_cli.add_arguments(parser)
    args = parser.parse_args(
        ["build", "--faces", "f", "--out", "o", "--methods", "blend,swap", "--per-task", "20"]
    )
    assert args.synth_command == "build" and args.per_task == 20
    args = parser.parse_args(["video", "--in", "v.mp4", "--method", "swap", "--donor", "d.jpg", "--from", "2s", "--to", "1:06", "--out", "x.mp4"])  # fmt: skip
    assert (args.start, args.end) == (2.0, 66.0)
    assert parser.parse_args(["demo"]).synth_command == "demo"
    assert parser.parse_args(["separability", "--sequence", "s"]).epochs == 6
    args = parser.parse_args(["separability", "--sequence", "s", "--spatial-weights", "a.safetensors"])
    assert (args.spatial_weights, args.frequency_weights) == ("a.safetensors", None)
    with pytest.raises(SystemExit):
        parser.parse_args(["sheet", "--out", "x.png"])
    bad = parser.parse_args(["build", "--faces", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert synth_cli.run(bad) == 2
