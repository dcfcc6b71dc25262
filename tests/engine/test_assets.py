import hashlib
import shutil
import zipfile

import pytest

from cffd_engine import assets
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
