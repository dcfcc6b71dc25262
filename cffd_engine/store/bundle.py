"""Model bundles: a folder with ``weights.safetensors``, ``manifest.json`` and the data a model learns from.

A bundle is trusted only after ``verify_bundle``: every file is listed in the manifest with
its SHA-256 and matches it, nothing else is there, nothing is a link, and no file is of a
kind that could carry code (pickles, torch archives). Weights load with safetensors only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from cffd_engine import __version__
from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json

if TYPE_CHECKING:  # the store is opened by the window before torch loads
    import torch

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
REPLAY_DIR = "replay"
VALIDATION_DIR = "validation"
PRIVATE_DIRS = (REPLAY_DIR, VALIDATION_DIR)  # photographs of people: may be left out of an export
ALLOWED_SUFFIXES = {".safetensors", ".json", ".png", ".jpg", ".jpeg", ".md", ".txt"}
CODE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".npy", ".npz", ".joblib", ".py", ".so"}
MAX_MANIFEST_BYTES = 16 << 20
UNCALIBRATED_THRESHOLD = 0.5  # P(fake) at least a half, where a manifest records no threshold


class BundleError(CFFDError):
    """A model bundle is malformed, tampered with, unsafe, or cannot do what was asked."""


@dataclass
class BundleManifest:
    """What a model version is, how it came to be and how well it does; serialised as manifest.json."""

    model_config: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)  # name, date, num_samples, data_description
    metrics: dict[str, Any] = field(default_factory=dict)  # task_names, accuracy[i][j], auc[i][j], ...
    decision: dict[str, Any] = field(default_factory=lambda: BundleManifest.decision_default())
    parent_version: str | None = None
    version: str | None = None
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    engine_version: str = __version__
    description: str = ""
    evaluation: str = ""
    limits: list[str] = field(default_factory=list)
    contents: dict[str, Any] = field(
        default_factory=lambda: {"replay_buffer": False, "validation_sets": False}
    )
    files: dict[str, str] = field(default_factory=dict)  # relative POSIX path -> SHA-256
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: Path | str = MANIFEST) -> BundleManifest:
        if not isinstance(data, dict):
            raise BundleError(f"{source}: the manifest is not a JSON object")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise BundleError(f"{source}: format_version is missing or not a number")
        if version > FORMAT_VERSION:
            raise BundleError(
                f"{source}: bundle format {version} is newer than this CFFD Studio understands "
                f"({FORMAT_VERSION}); update CFFD Studio"
            )
        known = {f for f in cls.__dataclass_fields__}
        expected_types = {
            "model_config": dict,
            "tasks": list,
            "metrics": dict,
            "decision": dict,
            "files": dict,
        }
        for key, kind in expected_types.items():
            if key in data and not isinstance(data[key], kind):
                raise BundleError(f"{source}: '{key}' must be a {kind.__name__}")
        if "model_config" not in data:
            raise BundleError(f"{source}: 'model_config' is missing")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.get("files", {}).items()):
            raise BundleError(f"{source}: 'files' must map paths to SHA-256 strings")
        problem = _field_problem(data)
        if problem:
            raise BundleError(f"{source}: {problem}; the manifest was damaged or not written by CFFD Studio")
        return cls(**{k: v for k, v in data.items() if k in known})

    @staticmethod
    def decision_default() -> dict[str, Any]:
        """An uncalibrated model's decision: P(fake) at least 0.5."""
        return {"threshold": UNCALIBRATED_THRESHOLD, "calibration": {"method": "none"}}

    @property
    def threshold(self) -> float:
        return decision_threshold(self.decision)

    @property
    def learnable(self) -> bool:
        """Whether a continual update can start from this version (it needs the replay buffer)."""
        return bool(self.contents.get("replay_buffer"))


def decision_threshold(decision: dict[str, Any]) -> float:
    """The verdict threshold on the calibrated P(fake) that a manifest's ``decision`` records."""
    return float(decision.get("threshold", UNCALIBRATED_THRESHOLD))


def _number(value: Any) -> bool:
    try:
        return isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _matrix(value: Any) -> bool:
    """A list of rows of numbers (None where a figure is missing), as metrics' accuracy and auc are."""
    return isinstance(value, list) and all(
        isinstance(row, list) and all(v is None or _number(v) for v in row) for row in value
    )


def _field_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the types of the fields the store, the model card and the analysis read; None if fine."""
    for key in ("created", "engine_version", "description", "evaluation"):
        if not isinstance(data.get(key, ""), str):
            return f"'{key}' must be text"
    for key in ("version", "parent_version"):
        if not isinstance(data.get(key), str | None):
            return f"'{key}' must be text or null"
    if not isinstance(data.get("contents", {}), dict):
        return "'contents' must be an object"
    if not all(isinstance(task, dict) for task in data.get("tasks", [])):
        return "'tasks' must be a list of objects"
    limits = data.get("limits", [])
    if not isinstance(limits, list) or not all(isinstance(limit, str) for limit in limits):
        return "'limits' must be a list of text"
    decision = data.get("decision", {})
    threshold = decision.get("threshold", UNCALIBRATED_THRESHOLD)
    if not _number(threshold) or not 0 <= threshold <= 1:
        return "'decision.threshold' must be a number from 0 to 1"
    calibration = decision.get("calibration", {})
    if not isinstance(calibration, dict):
        return "'decision.calibration' must be an object"
    temperature = calibration.get("temperature", 1.0)
    if not _number(temperature) or temperature <= 0:  # logits are divided by it
        return "'decision.calibration.temperature' must be a positive number"
    metrics = data.get("metrics", {})
    if not isinstance(metrics.get("task_names"), list | None):
        return "'metrics.task_names' must be a list"
    for key in ("accuracy", "auc"):
        if not _matrix(metrics.get(key, [])):
            return f"'metrics.{key}' must be a list of rows of numbers"
    if not isinstance(metrics.get("updates", []), list):
        return "'metrics.updates' must be a list"
    test = metrics.get("test") or {}
    if not isinstance(test, dict) or not all(
        isinstance(figures, dict)
        and all(figures.get(k) is None or _number(figures[k]) for k in ("accuracy", "auc"))
        for figures in test.values()
    ):
        return "'metrics.test' must map task names to their figures"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_member_name(name: str, source: Path | str) -> PurePosixPath:
    """A bundle-relative path, refused if absolute, escaping (``..``), or of a kind that could hold code."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise BundleError(f"{source}: refused '{name}': absolute or non-portable path")
    path = PurePosixPath(name)
    if any(part in ("..", "") for part in path.parts) or path.is_absolute():
        raise BundleError(f"{source}: refused '{name}': the path leaves the bundle")
    suffix = path.suffix.lower()
    if suffix in CODE_SUFFIXES:
        raise BundleError(f"{source}: refused '{name}': {suffix} files can carry executable code (pickle)")
    if suffix not in ALLOWED_SUFFIXES:
        raise BundleError(f"{source}: refused '{name}': unexpected file type {suffix or '(none)'}")
    return path


def _refuse_code_content(path: Path, name: str, source: Path | str) -> None:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise BundleError(f"{source}: refused '{name}': it is a Python pickle, which can run code")
    if head[:2] == b"PK" and not name.endswith((".png", ".jpg", ".jpeg")):
        raise BundleError(f"{source}: refused '{name}': it is an archive (e.g. a torch pickle file)")


def bundle_files(directory: Path) -> list[str]:
    """Every file under ``directory`` except the manifest, as sorted POSIX paths; refuses links."""
    names = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        for entry in [*dirs, *files]:
            if (Path(root) / entry).is_symlink():
                raise BundleError(
                    f"{directory}: refused '{entry}': symbolic links are not allowed in a bundle"
                )
        for name in files:
            relative = (Path(root) / name).relative_to(directory).as_posix()
            if relative != MANIFEST:
                names.append(relative)
    return sorted(names)


def read_manifest(directory: Path) -> BundleManifest:
    path = directory / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise BundleError(f"{directory}: not a model bundle ({MANIFEST} is missing)")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}: the manifest is implausibly large")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # deep nesting: RecursionError
        raise BundleError(f"{path}: the manifest is not valid JSON ({exc})") from exc
    return BundleManifest.from_dict(data, path)


def verify_bundle(directory: Path | str) -> BundleManifest:
    """The bundle's manifest, after checking every file's name, kind and SHA-256; else BundleError."""
    directory = Path(directory)
    if directory.is_symlink() or not directory.is_dir():
        raise BundleError(f"{directory}: not a model bundle folder")
    manifest = read_manifest(directory)
    present = bundle_files(directory)
    for name in present:
        check_member_name(name, directory)
    unexpected = sorted(set(present) - set(manifest.files))
    if unexpected:
        raise BundleError(f"{directory}: files not recorded in the manifest: {', '.join(unexpected[:5])}")
    missing = sorted(set(manifest.files) - set(present))
    if missing:
        raise BundleError(
            f"{directory}: files recorded in the manifest are missing: {', '.join(missing[:5])}"
        )
    if WEIGHTS not in manifest.files:
        raise BundleError(f"{directory}: the bundle has no {WEIGHTS}")
    for name, expected in manifest.files.items():
        path = directory / name
        _refuse_code_content(path, name, directory)
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"{directory}: '{name}' was modified or damaged (SHA-256 {actual[:16]}..., "
                f"manifest says {expected[:16]}...); restore the bundle from a trusted copy"
            )
    return manifest


def write_bundle(
    directory: Path,
    model: torch.nn.Module,
    manifest: BundleManifest,
    data_dirs: dict[str, Path] | None = None,
) -> BundleManifest:
    """Write a complete bundle into the empty or new ``directory``: weights, data folders, manifest last.

    ``data_dirs`` maps bundle folder names (``replay``, ``validation``) to folders to copy in.
    The manifest's ``files`` and ``contents`` are filled in here. Callers write into a staging
    folder and rename it into place, so a reader never sees a half-written bundle.
    """
    from safetensors.torch import save

    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    # Through atomic_write_bytes, not safetensors' save_file: on a full disk that raises an error
    # naming no file and of no OSError kind, which the store cannot tell from a bug.
    atomic_write_bytes(directory / WEIGHTS, save(state, metadata={"format": "pt"}))
    for folder, source in (data_dirs or {}).items():
        for file in sorted(Path(source).rglob("*")):
            if file.is_file():
                target = directory / folder / file.relative_to(source)
                atomic_write_bytes(target, file.read_bytes())
    names = bundle_files(directory)
    for name in names:
        check_member_name(name, directory)
    manifest.files = {name: sha256_file(directory / name) for name in names}
    manifest.contents = {
        "replay_buffer": any(n.startswith(f"{REPLAY_DIR}/") for n in names),
        "validation_sets": any(n.startswith(f"{VALIDATION_DIR}/") for n in names),
        **{k: v for k, v in manifest.contents.items() if k not in ("replay_buffer", "validation_sets")},
    }
    atomic_write_json(directory / MANIFEST, manifest.to_dict())
    for file in directory.rglob("*"):
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
    return manifest


def check_model_config(manifest: BundleManifest, source: Path | str):
    """The bundle's ``ModelConfig``, if this engine can build it (known fields, values and timm backbones).

    Cheap (nothing is built): the store runs it on import, so a model it cannot load is refused
    before it becomes a version. Raises BundleError naming ``source``.
    """
    # Through the model package, which keeps torch from loading triton on a machine without a GPU
    # before timm is first imported (timm brings torchvision, and it torch._dynamo).
    from cffd_engine.model import ModelConfig
    from cffd_engine.model.backbones import is_backbone

    try:
        config = ModelConfig.from_dict(manifest.model_config)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{source}: the model configuration is invalid ({exc})") from exc
    for name in (config.spatial_backbone, config.frequency_backbone):
        if not is_backbone(name):
            raise BundleError(
                f"{source}: the model configuration asks for the backbone {name!r}, which this CFFD Studio "
                "does not have; update CFFD Studio, or ask the model's authors which version made it"
            )
    return config


def load_model(directory: Path | str, manifest: BundleManifest | None = None, verify: bool = True):
    """The RSIA-Net stored in a bundle (eval mode, CPU), weights checked before they are read."""
    from safetensors.torch import load_file

    from cffd_engine.model import RSIANet

    directory = Path(directory)
    manifest = verify_bundle(directory) if verify or manifest is None else manifest
    # The stored weights replace whatever the backbones would start from: do not read it.
    config = check_model_config(manifest, directory).replace(spatial_weights=None, frequency_weights=None)
    try:
        model = RSIANet(config)
    except (RuntimeError, ValueError) as exc:  # e.g. a backbone whose levels RSIA-Net cannot use
        raise BundleError(f"{directory}: the configured model cannot be built ({exc})") from exc
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS)), strict=True)
    except (RuntimeError, OSError) as exc:
        raise BundleError(f"{directory}: the weights do not fit the configured model ({exc})") from exc
    return model.eval()
