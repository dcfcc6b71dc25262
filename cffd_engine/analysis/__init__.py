"""Video in, verdict out: per-face probabilities, per-track and per-video verdicts, explanations.

``analyze(path, settings, model, model_info)`` gives an ``AnalysisResult``;
``load_analysis_model`` finds the model (store version or bundle folder).
Names are imported on first use, so ``cffd --help`` (which builds the
``cffd analyze`` options from ``settings``) does not load torch.
"""

from __future__ import annotations

from cffd_engine.lazy import lazy_names

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


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
