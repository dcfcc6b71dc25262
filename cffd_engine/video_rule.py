"""The default rule that forms a video's verdict from its faces: the stretch it scores, and why, in words.

It lies below both parts that need it: the analysis applies it (``AnalysisSettings.window_s``
defaults to ``WINDOW_S``; ``analysis.verdict`` scores the stretches) and the store's model card
states it. The store may not import the analysis, which imports the store.
"""

from __future__ import annotations

WINDOW_S = 1.0  # seconds of consecutive judged faces: chosen by measurement, see ``video_rule``


def video_rule(window_s: float = WINDOW_S) -> str:
    """How a video's verdict is formed from its faces (the analysis's default stretch ``window_s``), and why."""
    return (
        "each face track is scored by its most suspicious stretch, the highest mean fake probability over "
        f"{window_s:g} s of consecutive judged faces (the analysis's default), and the video by "
        "its most suspicious assessed track. The rule was chosen by measurement for the default model "
        "(docs/detector-2026-12-03.md) among the mean, the median, top-k means and longer stretches, on videos "
        "made from real footage by `cffd synth video` and their untouched twins: on the stage clip's videos and "
        "the demo it ranked manipulated above untouched with a video AUC of 0.98 (a top-10% mean: 0.88) and kept "
        "the genuine clip furthest below the threshold; a top-10% mean caught more at the face threshold but "
        "raised the genuine clip to within 0.02 of it."
    )
