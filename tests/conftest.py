import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests import synthetic_media  # noqa: E402

SHARED_DATA = Path(
    os.environ.get("CFFD_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


def pytest_collection_modifyitems(config, items):
    have_data = SHARED_DATA.is_dir()
    try:
        import torch

        have_cuda = torch.cuda.is_available()
    except Exception:
        have_cuda = False
    for item in items:
        if "data" in item.keywords and not have_data:
            item.add_marker(
                pytest.mark.skip(reason=f"shared face data not found at {SHARED_DATA} (set CFFD_SHARED_DATA)")
            )
        if "gpu" in item.keywords and not have_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA.resolve()


@pytest.fixture(scope="session")
def portrait():
    return synthetic_media.portrait_rgb()


@pytest.fixture(scope="session")
def portrait_video(tmp_path_factory) -> Path:
    """A 20-frame 640x480 mp4v video of the real portrait sliding right."""
    path = tmp_path_factory.mktemp("evidence") / "portrait.mp4"
    return synthetic_media.write_video(path, synthetic_media.moving_face_frames())


@pytest.fixture(scope="module")
def untrained_bundle(tmp_path_factory) -> Path:
    """An untrained lite RSIA-Net at 64 px as a bundle folder: for tests about handling files, not verdicts."""
    import torch

    from cffd_engine.model import RSIANet, preset
    from cffd_engine.store import BundleManifest, write_bundle

    torch.manual_seed(1)
    model = RSIANet(preset("lite", input_size=64))
    directory = tmp_path_factory.mktemp("models") / "bundle"
    write_bundle(directory, model, BundleManifest(model_config=model.config.to_dict()))
    return directory
