"""RSIA-Net: shapes per preset, no dead branch, SFIA identity at 0, config round trip, toy learning."""

from __future__ import annotations

import json
import subprocess

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from cffd_engine.errors import AssetError
from cffd_engine.losses import HSCLoss
from cffd_engine.model import (
    PRESETS,
    LogitsOnly,
    ModelConfig,
    RSIANet,
    preset,
    recalibrate_batch_norm,
)
from cffd_engine.model.bench import ModelSpec, _lite_check, _worker, format_table
from cffd_engine.model.device import cpu_threads
from cffd_engine.model.folding import fold_batch_norms
from cffd_engine.model.sfia import SFIA

TINY = 64  # px: small enough for fast CPU tests, large enough for four levels (16, 8, 4, 2)


@pytest.fixture(autouse=True)
def one_cpu_thread():
    """One intra-op thread: on a busy 2-core machine, OpenMP spin-waits make two threads ~10x slower."""
    with cpu_threads(1):
        yield


def tiny_lite(**overrides) -> ModelConfig:
    return preset("lite", input_size=TINY, **overrides)


def set_residual_scales(model: torch.nn.Module, value: float) -> None:
    for module in model.modules():
        if isinstance(module, SFIA):
            torch.nn.init.constant_(module.spatial_scale, value)
            torch.nn.init.constant_(module.frequency_scale, value)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_gives_the_documented_output(name):
    torch.manual_seed(0)
    config = preset(name)
    model = RSIANet(config).eval()
    size = config.input_size
    batch = 1 if name == "full" else 2
    with torch.inference_mode():
        out = model(torch.rand(batch, 3, size, size))
    assert out.logits.shape == (batch, 2)
    assert out.embedding.shape == (batch, config.width)
    assert out.level_weights.shape == (batch, 4)
    torch.testing.assert_close(out.level_weights.sum(1), torch.ones(batch))
    for level, stride in enumerate((4, 8, 16, 32)):
        expected = (size // stride, size // stride)
        assert out.spatial_features[level].shape == (batch, model.spatial_channels[level], *expected)
        assert out.frequency_features[level].shape == (batch, model.frequency_channels[level], *expected)
        assert out.rsia_features[level].shape == (batch, config.width, *expected)
    assert torch.isfinite(out.logits).all()
    assert out.fake_probability.shape == (batch,)


def test_gradients_reach_both_backbones_every_block_and_the_heads():
    torch.manual_seed(0)
    model = RSIANet(tiny_lite())
    hscl = HSCLoss.for_model(model, projection_dim=16)
    x, y = torch.rand(4, 3, TINY, TINY), torch.tensor([0, 1, 0, 1])

    # At initialisation the residual scales are 0: they are what must receive gradient first.
    out = model(x)
    (F.cross_entropy(out.logits, y) + hscl(out.spatial_features, out.frequency_features, y).total).backward()
    for module in model.modules():
        if isinstance(module, SFIA):
            assert module.spatial_scale.grad.abs().sum() > 0
            assert module.frequency_scale.grad.abs().sum() > 0

    # Once the scales moved, every parameter tensor takes part: no dead branch.
    model.zero_grad()
    hscl.zero_grad()
    set_residual_scales(model, 0.1)
    out = model(x)
    (F.cross_entropy(out.logits, y) + hscl(out.spatial_features, out.frequency_features, y).total).backward()
    named = [*model.named_parameters(), *(("hscl." + n, p) for n, p in hscl.named_parameters())]
    dead = [
        n for n, p in named if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0
    ]
    assert dead == []
    blocks = ["spatial_backbone", "frequency_backbone", "faf", "classifier", "hscl.spatial_heads"]
    blocks += ["hscl.frequency_heads", *(f"sfia.{i}" for i in range(4)), *(f"rsia.{i}" for i in range(4))]
    for block in blocks:
        assert any(n.startswith(block + ".") for n, _ in named), f"no parameters checked in {block}"


@pytest.mark.parametrize(
    "backbone", ["efficientnet_lite0", "mobilenetv4_conv_small", "mobilenetv3_small_100"]
)
def test_the_early_layers_are_the_ones_that_make_the_finest_level(backbone):
    torch.manual_seed(0)
    model = RSIANet(tiny_lite(spatial_backbone=backbone, frequency_backbone=backbone)).eval()
    image = torch.rand(2, 3, TINY, TINY)
    branches = {
        "spatial": (model.spatial_backbone, image),
        "frequency": (model.frequency_backbone, model.frequency_transform(image)),
    }
    for name, (branch, x) in branches.items():
        with torch.no_grad():
            finest = branch(x)[0]
            for layer in branch.early_layers():
                x = layer(x)
        assert x.shape[-1] == TINY // 4 and torch.equal(x, finest), name
    early = model.early_layers()
    assert early == model.spatial_backbone.early_layers() + model.frequency_backbone.early_layers()
    assert sum(p.numel() for layer in early for p in layer.parameters()) < 0.05 * sum(
        p.numel() for p in model.parameters()
    )


@pytest.mark.parametrize("mode", ["cross", "channel"])
def test_sfia_with_zero_scale_returns_its_inputs(mode):
    torch.manual_seed(0)
    spatial, frequency = torch.randn(2, 8, 6, 6), torch.randn(2, 12, 6, 6)
    block = SFIA(8, 12, mode=mode, key_dim=4, max_tokens=4, scale_init=0.0)
    a_s, a_f = block(spatial, frequency)
    assert torch.equal(a_s, spatial) and torch.equal(a_f, frequency)
    set_residual_scales(block, 0.5)
    a_s, a_f = block(spatial, frequency)
    assert not torch.allclose(a_s, spatial) and not torch.allclose(a_f, frequency)


def test_untrained_model_passes_backbone_features_through_sfia():
    torch.manual_seed(0)
    model = RSIANet(tiny_lite()).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, TINY, TINY))
        a_s, a_f = model.sfia[2](out.spatial_features[2], out.frequency_features[2])
    assert torch.equal(a_s, out.spatial_features[2]) and torch.equal(a_f, out.frequency_features[2])


def test_saved_config_and_weights_rebuild_an_identical_model(tmp_path):
    torch.manual_seed(0)
    config = tiny_lite(frequency_mode="block", fusion_residual="previous", sfia_mode="channel")
    original = RSIANet(config)
    set_residual_scales(original, 0.3)
    config.save(tmp_path / "model.json")
    save_file({k: v.contiguous() for k, v in original.state_dict().items()}, tmp_path / "weights.safetensors")

    torch.manual_seed(1)  # a different initialisation, overwritten by the saved weights
    rebuilt = RSIANet(ModelConfig.load(tmp_path / "model.json"))
    rebuilt.load_state_dict(load_file(tmp_path / "weights.safetensors"))
    assert rebuilt.config == config
    x = torch.rand(3, 3, TINY, TINY)
    original.eval(), rebuilt.eval()
    with torch.no_grad():
        a, b = original(x), rebuilt(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.embedding, b.embedding)
    for fa, fb in zip(a.rsia_features, b.rsia_features, strict=True):
        assert torch.equal(fa, fb)
    stored = json.loads((tmp_path / "model.json").read_text())
    assert stored["frequency_mode"] == "block" and stored["msfe_dilations"] == [3, 5, 7]


def test_config_refuses_what_cannot_build_a_model(tmp_path):
    with pytest.raises(ValueError, match="unknown ModelConfig field"):
        ModelConfig.from_dict({"widht": 32})
    with pytest.raises(ValueError, match="sfia_mode"):
        ModelConfig(sfia_mode="sideways")
    with pytest.raises(ValueError, match="unknown RSIA-Net preset"):
        preset("huge")
    with pytest.raises(ValueError, match="feature strides"):
        RSIANet(tiny_lite(out_indices=(0, 1, 2, 3)))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        ModelConfig.load(bad)


@pytest.mark.parametrize(
    "option",
    [
        {"frequency_mode": "block"},
        {"sfia_mode": "channel"},
        {"msfe_conv": "deformable"},
        {"msfe_depthwise": False},
        {"frm_resize": "bilinear"},
        {"fusion_residual": "previous"},
        {"fusion_residual": "none"},
        {"band_edges": (0.25, 0.75)},
    ],
    ids=lambda option: "-".join(f"{k}={v}" for k, v in option.items()),
)
def test_each_interpretation_option_builds_and_trains(option):
    torch.manual_seed(0)
    model = RSIANet(tiny_lite(**option))
    set_residual_scales(model, 0.1)
    out = model(torch.rand(2, 3, TINY, TINY))
    F.cross_entropy(out.logits, torch.tensor([0, 1])).backward()
    assert torch.isfinite(out.logits).all()
    assert model.classifier.weight.grad is not None


def test_logits_only_gives_the_logits_and_bad_input_is_refused():
    torch.manual_seed(0)
    model = RSIANet(tiny_lite(channels_last=True)).eval()
    x = torch.rand(5, 3, TINY, TINY)
    with torch.no_grad():
        torch.testing.assert_close(LogitsOnly(model)(x), model(x).logits)
    with pytest.raises(ValueError, match="RGB"):
        model(torch.rand(1, 1, TINY, TINY))


def test_local_imagenet_weights_are_used_and_never_downloaded(tmp_path):
    torch.manual_seed(0)
    lite = preset("lite")
    stems, paths = [], []
    for backbone in (lite.spatial_backbone, lite.frequency_backbone):
        source = timm.create_model(backbone, pretrained=False)
        paths.append(tmp_path / f"{backbone}.safetensors")
        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, paths[-1])
        stems.append(source.state_dict()["conv_stem.weight"])
    model = RSIANet(tiny_lite(spatial_weights=str(paths[0]), frequency_weights=str(paths[1])))
    torch.testing.assert_close(model.spatial_backbone.body.conv_stem.weight, stems[0])
    # The 12-channel frequency stem starts from the RGB filters (timm's adaptation), not at random.
    frequency_stem = model.frequency_backbone.body.conv_stem.weight
    assert frequency_stem.shape[1] == 12
    torch.testing.assert_close(frequency_stem, stems[1].repeat(1, 4, 1, 1) * 0.25)
    with pytest.raises(AssetError, match="not found"):
        RSIANet(tiny_lite(spatial_weights=str(tmp_path / "missing.safetensors")))


def toy_faces(n: int, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random textures; the "fake" half carries a blended-in, smoothed square patch."""
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=generator)
    base = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    images = (0.7 * base + 0.3 * torch.rand(n, 3, size, size, generator=generator)).clamp(0, 1)
    labels = torch.arange(n) % 2
    smooth = F.avg_pool2d(images, 5, stride=1, padding=2, count_include_pad=False)
    side = size // 2
    for i in range(n):
        if labels[i]:
            r, c = torch.randint(0, size - side + 1, (2,), generator=generator).tolist()
            images[i, :, r : r + side, c : c + side] = smooth[i, :, r : r + side, c : c + side]
    return images, labels


def test_lite_learns_a_toy_forgery_task_on_the_cpu():
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(3)
    model = RSIANet(tiny_lite())
    hscl = HSCLoss.for_model(model, projection_dim=32)
    optimizer = torch.optim.Adam([*model.parameters(), *hscl.parameters()], lr=2e-3)
    test_x, test_y = toy_faces(64, TINY, generator)
    model.train()
    for _ in range(30):
        x, y = toy_faces(16, TINY, generator)
        out = model(x)
        terms = hscl(out.spatial_features, out.frequency_features, y)
        loss = F.cross_entropy(out.logits, y) + 0.1 * terms.total
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # Thirty steps are too few for the running BN averages to catch up with the weights.
    recalibrate_batch_norm(model, [toy_faces(16, TINY, generator)[0] for _ in range(4)])
    model.eval()
    with torch.no_grad():
        accuracy = (model(test_x).logits.argmax(1) == test_y).float().mean().item()
    assert accuracy >= 0.75, f"lite reached only {accuracy:.2f} on the toy task (chance is 0.5)"


def test_benchmark_worker_and_table():
    spec = ModelSpec("rsianet", "lite", TINY)
    infer = _worker(spec, "infer", threads=1, repeats=1, train_batch=2, channels_last=True)
    train = _worker(spec, "train", threads=1, repeats=1, train_batch=2, channels_last=True)
    assert infer["input_size"] == TINY and 1 < infer["params_m"] < 10
    # FLOPs grow with the pixel count: about 4x from 64 to 128 px (checked against a second count).
    bigger = _worker(ModelSpec("rsianet", "lite", 2 * TINY), "infer", 1, 1, 2, True)
    assert 3.0 < bigger["gflops_per_face"] / infer["gflops_per_face"] < 5.0
    assert infer["infer_ms_per_face_b32"] > 0 and train["train_ms_per_face"] > 0
    row = {
        "model": "rsianet-lite",
        "kind": "rsianet",
        "input_size": TINY,
        "params_m": infer["params_m"],
        "gflops_per_face": infer["gflops_per_face"],
        "infer_ms_per_face_b1": infer["infer_ms_per_face_b1"],
        "infer_ms_per_face_b32": 5.0,
        "train_ms_per_face": train["train_ms_per_face"],
        "train_batch": 2,
        "peak_rss_infer_mb": infer["peak_rss_mb"],
        "peak_rss_train_mb": train["peak_rss_mb"],
        "rss_delta_infer_mb": infer["rss_delta_mb"],
        "rss_delta_train_mb": train["rss_delta_mb"],
    }
    reference = {**row, "model": "efficientnet_b4", "infer_ms_per_face_b32": 80.0}
    report = {
        "environment": {
            "cpu": "test",
            "threads": 1,
            "torch": torch.__version__,
            "channels_last": True,
            "load_average_before": [0.0],
            "load_average_after": [0.0],
        },
        "results": [row, reference],
        "lite_check": _lite_check([row, reference]),
    }
    assert report["lite_check"]["speedup_vs_efficientnet_b4"] == 16.0
    table = format_table(report)
    assert table.splitlines()[0].startswith("| model |") and "| rsianet-lite | 64 |" in table
    assert "16.0x faster" in table


def test_benchmark_workers_run_with_the_users_wait_policy_not_the_commands(monkeypatch):
    """``cffd`` sleeps idle OpenMP threads by default; the model benchmark times the library's own default."""
    from cffd_engine import omp
    from cffd_engine.model import bench

    seen = {}

    def fake_run(command, env, **kwargs):
        seen["policy"] = env.get("OMP_WAIT_POLICY")
        return subprocess.CompletedProcess(command, 0, stdout="{}\n", stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # as the cffd command sets it
    spec = ModelSpec("rsianet", "lite", TINY)
    cases = [
        (None, False, None),
        (None, True, "PASSIVE"),
        ("ACTIVE", False, "ACTIVE"),
        ("ACTIVE", True, "PASSIVE"),
    ]
    for user, passive, expected in cases:
        monkeypatch.setattr(omp, "USER_OMP_WAIT_POLICY", user)
        bench._run_worker(spec, "infer", 1, 1, 2, True, passive)
        assert seen["policy"] == expected, (user, passive)
        assert bench.omp_wait_policy(passive) == (expected or "default")


def test_the_pretrained_preset_starts_both_branches_from_the_verified_imagenet_asset():
    from cffd_engine.backbone_weights import imagenet_state_dict

    config = preset("lite0", input_size=TINY)
    assert (config.spatial_weights, config.frequency_weights) == ("imagenet", "imagenet")
    imagenet = imagenet_state_dict("tf_efficientnet_lite0")
    model = RSIANet(config)
    spatial = model.spatial_backbone.body.state_dict()
    deep = "blocks.6.0.conv_pwl.weight"  # the last block: not only the stem was loaded
    torch.testing.assert_close(spatial["conv_stem.weight"], imagenet["conv_stem.weight"])
    torch.testing.assert_close(spatial[deep], imagenet[deep])
    frequency = model.frequency_backbone.body.state_dict()
    torch.testing.assert_close(
        frequency["conv_stem.weight"], imagenet["conv_stem.weight"].repeat(1, 4, 1, 1) * 0.25
    )
    torch.testing.assert_close(frequency[deep], imagenet[deep])


def test_a_stored_model_never_reads_the_weights_it_started_from(tmp_path):
    from cffd_engine.store import BundleManifest, load_model, write_bundle

    lite = preset("lite")
    start = tmp_path / "start.safetensors"
    source = timm.create_model(lite.spatial_backbone, pretrained=False)
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, start)
    model = RSIANet(tiny_lite(spatial_weights=str(start))).eval()
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    write_bundle(bundle, model, BundleManifest(model_config=model.config.to_dict()))
    start.unlink()  # as on another machine: the starting weights are not there
    loaded = load_model(bundle)
    x = torch.rand(2, 3, TINY, TINY)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x).logits, model(x).logits)


def randomise_batch_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Running statistics and affine parameters far from their initial 0/1, so folding them is not trivial."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.2)


def test_folding_a_batch_norm_matches_normalising_after_the_convolution():
    torch.manual_seed(0)
    block = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.ReLU()
    )
    randomise_batch_norms(block)
    block.eval()
    x = torch.rand(2, 3, 9, 9)
    conv, norm = block[0], block[1]
    # Independent computation: eval-mode batch norm written out by hand after the convolution.
    z = F.conv2d(x, conv.weight)
    expected = torch.relu(
        (z - norm.running_mean[:, None, None])
        / torch.sqrt(norm.running_var[:, None, None] + norm.eps)
        * norm.weight[:, None, None]
        + norm.bias[:, None, None]
    )
    assert fold_batch_norms(block) == 1
    assert isinstance(block[1], torch.nn.Identity) and block[0].bias is not None
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_the_inference_copy_folds_batch_norms_gives_the_same_logits_and_refuses_training():
    torch.manual_seed(0)
    model = RSIANet(tiny_lite(channels_last=True))
    randomise_batch_norms(model)
    model.eval()
    x = torch.rand(3, 3, TINY, TINY)
    with torch.no_grad():
        expected = model(x).logits
    norms_before = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())

    fast = model.prepare_for_inference("cpu")

    assert fast is not model and fast.inference_only and not fast.training
    norms_after = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert norms_before > 10 and norms_after == 0
    with torch.no_grad():
        torch.testing.assert_close(fast(x).logits, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match="inference only"):
        fast.train()
    # The model it was made from keeps its batch norms and can still be trained.
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == norms_before
    model.train()
    assert model.training
