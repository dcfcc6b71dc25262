"""The model an analysis uses: from a store version or a bundle folder, verified, with what the report says of it.

``load_analysis_model`` returns a fresh RSIA-Net instance (never one a trainer
holds) and its ``ModelInfo``; the bundle's decision calibration is applied by
``cffd_engine.calibration.calibrated_probability``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffd_engine.analysis.result import ModelInfo
from cffd_engine.analysis.spectrum import load_reference_spectrum
from cffd_engine.calibration import CALIBRATIONS
from cffd_engine.errors import CFFDError
from cffd_engine.model import RSIANet
from cffd_engine.store import BundleManifest, ModelStore, load_model, model_card, verify_bundle
from cffd_engine.store.bundle import WEIGHTS


def model_info(manifest: BundleManifest, bundle_dir: Path | str, source: str | None = None) -> ModelInfo:
    """What the report says of a verified bundle: identity, weights hash, decision rule, card, reference band."""
    bundle_dir = Path(bundle_dir)
    calibration = dict(manifest.decision.get("calibration") or {"method": "none"})
    method = calibration.get("method", "none")
    if method not in CALIBRATIONS:
        raise CFFDError(
            f"{bundle_dir}: the model's calibration method {method!r} is not known to this CFFD Studio "
            f"(known: {', '.join(CALIBRATIONS)}); update CFFD Studio or use another model version"
        )
    config = manifest.model_config
    return ModelInfo(
        source=source or str(bundle_dir),
        version=manifest.version,
        bundle_path=str(bundle_dir.resolve()),
        weights_sha256=manifest.files[WEIGHTS],
        preset=str(config.get("name", "custom")),
        input_size=int(config.get("input_size", 224)),
        threshold=manifest.threshold,
        calibration=calibration,
        tasks=[str(task.get("name", "?")) for task in manifest.tasks],
        limits=list(manifest.limits),
        card=model_card(manifest),
        created=manifest.created,
        engine_version=manifest.engine_version,
        reference=load_reference_spectrum(bundle_dir),
        heatmap_check=manifest.metrics.get("heatmap_check"),
    )


def load_analysis_model(
    spec: str | Path | None = None, store: Path | str | None = None, default_bundle: Path | None = None
) -> tuple[RSIANet, ModelInfo]:
    """(model, info) for ``spec``: a bundle folder, or a version in the store (default: the active one).

    An empty store is first seeded from ``default_bundle`` when one is given and exists (the
    shipped default model, as the window does on first start). The bundle is verified (every file's SHA-256) before its weights are read. Raises
    ``BundleError``/``CFFDError`` saying what to do when there is no such model.
    """
    if spec is not None and Path(spec).is_dir():
        bundle = Path(spec)
        manifest = verify_bundle(bundle)
        # The absolute folder, so that the reproduction command works from any working directory.
        return load_model(bundle, manifest, verify=False), model_info(
            manifest, bundle, str(bundle.absolute())
        )
    if spec is not None and Path(spec).is_file():
        raise CFFDError(
            f"{spec} is a file: the model is a version of the store (e.g. v3) or a bundle folder; "
            f"add a .cffd file to the store first with `cffd models import {spec}`, then name its version"
        )
    if spec is not None and ("/" in str(spec) or os.sep in str(spec) or str(spec).endswith(".cffd")):
        raise CFFDError(
            f"{spec}: no such model bundle folder; name a bundle folder, or a version of the store "
            "(`cffd models list` shows them)"
        )
    model_store = ModelStore(store)
    if spec is None and default_bundle is not None and default_bundle.exists() and not model_store.versions():
        model_store.ensure_default(default_bundle)
    version = str(spec) if spec is not None else model_store.active_version()
    if version is None:
        raise CFFDError(
            f"no model to analyse with: the store {model_store.root} has no active version. "
            "Name a model bundle folder with --model, or import one with `cffd models import`"
        )
    model, manifest = model_store.load(version)
    return model, model_info(manifest, model_store.path(version), version)
