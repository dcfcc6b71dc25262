"""Versioned model bundles: safe loading, the store with its active version, rollback, import/export."""

from cffd_engine.store.bundle import BundleError, BundleManifest, load_model, verify_bundle, write_bundle
from cffd_engine.store.card import model_card
from cffd_engine.store.versions import DEFAULT_BUNDLE, Activation, ImportedBundle, ModelStore, VersionInfo

__all__ = [
    "Activation",
    "BundleError",
    "DEFAULT_BUNDLE",
    "BundleManifest",
    "ImportedBundle",
    "ModelStore",
    "VersionInfo",
    "load_model",
    "model_card",
    "verify_bundle",
    "write_bundle",
]
