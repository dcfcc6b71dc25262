"""Video in, verdict out: per-face probabilities, per-track and per-video verdicts, explanations.

``analyze(path, settings, model, model_info)`` gives an ``AnalysisResult``;
``load_analysis_model`` finds the model (store version or bundle folder).
Names are imported on first use, so ``cffd --help`` (which builds the
``cffd analyze`` options from ``settings``) does not load torch.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "Analyzer": "analyzer",
    "analyze": "analyzer",
    "analyze_many": "analyzer",
    "analyze_safely": "analyzer",
    "reproduce_command": "analyzer",
    "load_analysis_model": "models",
    "model_info": "models",
    "LIKELY_MANIPULATED": "result",
    "NO_MANIPULATION_DETECTED": "result",
    "NOT_APPLICABLE": "result",
    "AnalysisResult": "result",
    "Evidence": "result",
    "FrameScore": "result",
    "KeyFrame": "result",
    "ModelInfo": "result",
    "NotApplicable": "result",
    "Review": "result",
    "TrackResult": "result",
    "AnalysisSettings": "settings",
    "ReferenceSpectrum": "spectrum",
    "compute_reference_spectrum": "spectrum",
    "load_reference_spectrum": "spectrum",
    "save_reference_spectrum": "spectrum",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
