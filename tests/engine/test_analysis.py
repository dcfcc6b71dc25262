"""Analysis on real-face clips: a model trained here tells the swapped half of a video from the genuine half.

The evidence is made with the synthetic generators (``swap``: a foreign inner
face, aligned and blended in) from the second half of a clip on; the model is
a ``lite`` RSIA-Net at 64 px trained for 40 steps on two other clips. Kept
small so the module runs in well under a minute on two CPU cores.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cffd_engine.analysis import (
    LIKELY_MANIPULATED,
    NO_MANIPULATION_DETECTED,
    NOT_APPLICABLE,
    AnalysisResult,
    AnalysisSettings,
    Analyzer,
    analyze,
    analyze_many,
    compute_reference_spectrum,
    load_analysis_model,
    save_reference_spectrum,
)
from cffd_engine.analysis.explain import Explainer
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces
from cffd_engine.model import RSIANet, preset
from cffd_engine.model import device as device_module
from cffd_engine.store import BundleManifest, write_bundle
from tests import synthetic_media as sm

SIZE = 64
SWAP_FROM = 16  # first manipulated frame of the 32-frame evidence clip


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Two shared cores: one thread is faster than two fighting, and results do not depend on the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swap")
    train = [
        sm.write_swapped_video(folder, f"train{i}", seed=1 + i, phase=1.0 + 2 * i, amplitude=30 + 10 * i)
        for i in range(2)
    ]
    evidence, pristine = sm.write_swapped_video(folder, "evidence", start_frame=SWAP_FROM, amplitude=20)
    return SimpleNamespace(folder=folder, train=train, evidence=evidence, pristine=pristine)


def face_crops(path, size: int = SIZE) -> np.ndarray:
    return np.stack(
        [crop.image for crop in extract_faces(path, FaceExtractionSettings(crop_size=size)).crops]
    )


def train_tiny(real: np.ndarray, fake: np.ndarray, steps: int = 80) -> RSIANet:
    """A lite RSIA-Net at 64 px, trained from scratch with cross-entropy (flips every other step).

    80 steps: after 40 the genuine frames still scored 0.2 to 0.98, on which side of 0.5 depending on
    the CPU's kernels (an AVX2-only CPU flagged the pristine twin); after 80 they score below 0.06.
    """
    torch.manual_seed(0)
    model = RSIANet(preset("lite", input_size=SIZE))
    images = torch.from_numpy(np.concatenate([real, fake])).permute(0, 3, 1, 2).float() / 255
    labels = torch.tensor([0] * len(real) + [1] * len(fake))
    optimiser = torch.optim.AdamW(model.parameters(), 1e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for step in range(steps):
        index = torch.randint(0, len(images), (16,), generator=generator)
        batch = images[index].flip(3) if step % 2 else images[index]
        loss = torch.nn.functional.cross_entropy(model(batch).logits, labels[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def bundle(clips, tmp_path_factory):
    """The trained model as a bundle, with a reference spectrum of the training clips' real faces."""
    real = np.concatenate([face_crops(pristine) for _, pristine in clips.train])
    fake = np.concatenate([face_crops(manipulated) for manipulated, _ in clips.train])
    model = train_tiny(real, fake)
    directory = tmp_path_factory.mktemp("bundle") / "swap-detector"
    directory.mkdir()
    save_reference_spectrum(
        directory, compute_reference_spectrum(real, "pristine frames of the training clips")
    )
    manifest = BundleManifest(
        model_config=model.config.to_dict(),
        tasks=[{"name": "swap", "num_samples": len(real) + len(fake)}],
        limits=["Trained on one person for a test."],
    )
    write_bundle(directory, model, manifest)
    return directory


@pytest.fixture(scope="module")
def evidence_result(bundle, clips) -> AnalysisResult:
    model, info = load_analysis_model(bundle)
    # Level 3 (stride 16) is the layer the product explains at its 160 px input; at this test's
    # 64 px the automatic choice would fall to the shallower, edge-like level 2.
    settings = AnalysisSettings(cpu_threads=1, window_s=0.4, cam_level=3)
    return analyze(clips.evidence, settings, model, info)


def test_probabilities_separate_the_genuine_and_the_swapped_half(evidence_result):
    result = evidence_result
    assert result.verdict == LIKELY_MANIPULATED and result.not_applicable is None
    (track,) = result.tracks
    assert track.faces == 32
    # A real face: the face-mesh network agrees (the first crop and every tenth were checked).
    assert track.face_score > 0.9 and track.median_detection_score > 0.6 and track.not_assessed == ""
    genuine = np.array([s.fake_probability for s in track.scores if s.frame_index < SWAP_FROM])
    swapped = np.array([s.fake_probability for s in track.scores if s.frame_index >= SWAP_FROM])
    auc = float(np.mean(swapped[:, None] > genuine[None, :]))
    assert auc >= 0.95, (genuine.round(2), swapped.round(2))
    assert swapped.mean() - genuine.mean() > 0.5
    # The scoring stretch lies in the swapped half, and the key frames come from it.
    assert track.window_start_s >= (SWAP_FROM - 1) / 25
    assert all(key.frame_index >= SWAP_FROM for key in track.key_frames)


def test_heatmap_peaks_inside_the_face_box(evidence_result):
    keys = evidence_result.key_frames()
    assert len(keys) == 3
    assert all(key.peak_in_box for key in keys), [(key.heatmap_peak, key.box) for key in keys]
    # The heat is denser on the face box (the middle 1/1.3 of the crop) than around it.
    grid = np.mean([np.asarray(key.heatmap) for key in keys], axis=0)
    cells = np.arange(len(grid)) + 0.5
    inner = np.abs(cells - len(grid) / 2) <= len(grid) / 2 / 1.3
    on_face = inner[:, None] & inner[None, :]
    assert grid[on_face].mean() > grid[~on_face].mean(), grid.round(2)


def test_result_records_evidence_model_and_settings(evidence_result, clips, bundle):
    import hashlib

    result = evidence_result
    assert result.evidence.sha256 == hashlib.sha256(clips.evidence.read_bytes()).hexdigest()
    assert (
        result.model.weights_sha256
        == json.loads((bundle / "manifest.json").read_text())["files"]["weights.safetensors"]
    )
    assert result.model.preset == "lite" and result.model.reference is not None
    assert result.settings == AnalysisSettings(cpu_threads=1, window_s=0.4, cam_level=3)
    assert "--threads 1 --window 0.4" in result.command and str(bundle) in result.command
    assert result.media["codec"] == "h264" and result.decode["complete"]
    for key in result.key_frames():
        assert set(key.images) == {"frame", "crop", "spectrum"}
        assert all(png.startswith(b"\x89PNG") for png in key.images.values())
    data = json.loads(json.dumps(result.to_dict()))
    assert AnalysisResult.from_dict(data).to_dict() == data
    assert "images" not in json.dumps(data)


def test_bfloat16_analysis_agrees_with_float32_and_says_which_it_used(bundle, clips, monkeypatch):
    model, info = load_analysis_model(bundle)
    settings = AnalysisSettings(explain=False, cpu_threads=1)
    exact = analyze(clips.evidence, replace(settings, precision="float32"), model, info)
    # Forced on, so that the bfloat16 path runs on any CPU (emulated where it has no bfloat16 instructions).
    monkeypatch.setattr(device_module, "cpu_computes_bfloat16", lambda: True)
    fast = analyze(clips.evidence, settings, model, info)

    assert exact.environment["precision"] == "float32" and fast.environment["precision"] == "bfloat16"
    assert "--precision float32" in exact.command and "--precision" not in fast.command
    exact_p = [s.fake_probability for t in exact.tracks for s in t.scores]
    fast_p = [s.fake_probability for t in fast.tracks for s in t.scores]
    assert len(exact_p) == len(fast_p) > 10
    assert exact_p != fast_p  # bfloat16 really ran
    np.testing.assert_allclose(fast_p, exact_p, atol=0.02)
    assert fast.verdict == exact.verdict


def test_pristine_twin_is_not_flagged(bundle, clips):
    model, info = load_analysis_model(bundle)
    result = analyze(clips.pristine, AnalysisSettings(explain=False, cpu_threads=1), model, info)
    assert result.verdict == NO_MANIPULATION_DETECTED
    assert result.tracks[0].key_frames == []


def test_the_evidence_is_probed_once(bundle, clips, monkeypatch):
    from cffd_engine.analysis import analyzer
    from cffd_engine.media import frames, video

    probed = []

    def counting_probe(path):
        probed.append(str(path))
        return video.probe(path)

    monkeypatch.setattr(analyzer, "probe", counting_probe)
    monkeypatch.setattr(frames, "probe", counting_probe)
    model, info = load_analysis_model(bundle)
    result = analyze(clips.pristine, AnalysisSettings(explain=False, cpu_threads=1), model, info)
    assert result.frames_read > 0 and result.media["frame_count"] == result.frames_read
    assert probed == [str(clips.pristine)]


def test_video_without_a_face_is_not_applicable(bundle, tmp_path):
    frames = [np.full((240, 320, 3), 40 + 5 * i, np.uint8) for i in range(10)]
    video = sm.write_video_av(tmp_path / "empty_room.mp4", frames)
    model, info = load_analysis_model(bundle)
    result = analyze(video, AnalysisSettings(), model, info)
    assert result.verdict == NOT_APPLICABLE and result.analysed
    assert result.not_applicable.code == "no_face"
    assert "no face was found in the 10 frame(s)" in result.not_applicable.reason
    assert result.video_probability is None and result.tracks == []


def test_faces_too_small_are_counted_not_judged(bundle, portrait_video):
    model, info = load_analysis_model(bundle)
    settings = AnalysisSettings(max_frames=5)
    settings.detector.min_face_size = 400
    result = analyze(portrait_video, settings, model, info)
    assert result.not_applicable.code == "faces_too_small"
    assert result.faces_too_small == 5 and "smaller than 400 px" in result.not_applicable.reason


def test_batch_goes_on_past_bad_files(bundle, portrait_video, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(2000))
    missing = tmp_path / "gone.mp4"
    model, info = load_analysis_model(bundle)
    seen = []
    results = analyze_many(
        [corrupt, portrait_video, missing], AnalysisSettings(max_frames=6, explain=False), model, info,
        on_result=seen.append,
    )  # fmt: skip
    assert [r.evidence.name for r in results] == [
        "corrupt.mp4",
        "portrait.mp4",
        "gone.mp4",
    ] and seen == results
    assert [r.analysed for r in results] == [False, True, False]
    assert results[0].not_applicable.code == "unreadable" and "damaged" in results[0].not_applicable.reason
    assert results[0].evidence.sha256 is not None  # hashed at intake even though it cannot be decoded
    assert "no such file" in results[2].not_applicable.reason
    assert results[1].verdict != NOT_APPLICABLE and results[1].frames_read == 6


def test_truncated_video_is_analysed_with_a_warning(bundle, tmp_path):
    whole = sm.write_video_av(tmp_path / "whole.mp4", sm.drifting_portrait_frames(40), faststart=True)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])
    model, info = load_analysis_model(bundle)
    result = analyze(truncated, AnalysisSettings(explain=False), model, info)
    assert result.analysed and result.tracks
    assert not result.decode["complete"]
    assert any("damaged" in warning for warning in result.warnings)


def test_cancel_stops_reader_and_inference(bundle, clips):
    model, info = load_analysis_model(bundle)
    job = JobControl(lambda fraction, message: job.cancel() if fraction > 0.3 else None)
    # By identity, not by count: a reader an earlier test abandoned may end meanwhile.
    before = set(threading.enumerate())
    with pytest.raises(Cancelled):
        analyze(clips.evidence, AnalysisSettings(batch_size=2, queue_frames=2), model, info, job)
    assert set(threading.enumerate()) <= before


def test_explainer_leaves_the_inference_model_alone(bundle):
    model, _ = load_analysis_model(bundle)
    before = {name: p.clone() for name, p in model.state_dict().items()}
    explainer = Explainer(model)
    maps = explainer.heatmaps(np.random.default_rng(0).integers(0, 255, (2, SIZE, SIZE, 3), dtype=np.uint8))
    assert maps.shape == (2, SIZE, SIZE) and 0 <= maps.min() and maps.max() <= 1
    assert explainer.model is not model
    assert not any(module._forward_hooks for module in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())
    assert explainer.level == 2  # at 64 px the deepest level with an 8 x 8 map
    explainer.close()


def test_analyzer_reuses_detector_and_explainer(bundle, portrait_video):
    model, info = load_analysis_model(bundle)
    with Analyzer(AnalysisSettings(max_frames=4, explain_top_k=1), model, info) as analyzer:
        first = analyzer.analyze(portrait_video)
        detector, explainer = analyzer._detector, analyzer._explainer
        second = analyzer.analyze(portrait_video)
        assert analyzer._detector is detector and analyzer._explainer is explainer
    assert [s.fake_probability for s in first.tracks[0].scores] == [
        s.fake_probability for s in second.tracks[0].scores
    ]


def test_model_from_the_store_is_named_by_version(bundle, tmp_path):
    from cffd_engine.analysis import reproduce_command
    from cffd_engine.store import ModelStore

    store = ModelStore(tmp_path / "store")
    version = store.import_bundle(bundle).version
    store.activate(version)
    _, info = load_analysis_model(None, store.root)
    assert (info.version, info.source) == (version, version)
    assert info.bundle_path == str(store.path(version).resolve())
    command = reproduce_command(tmp_path / "clip.mp4", AnalysisSettings(), info)
    assert command.endswith(f"--model {version} --store {store.root}")
