"""The model card: what a model version is, in plain words, generated from its manifest."""

from __future__ import annotations

from typing import Any

from cffd_engine.store.bundle import BundleManifest
from cffd_engine.video_rule import video_rule


def heatmap_words(check: dict | None, level: int) -> str | None:
    """What the heatmap check (``analysis.heatmap_check``, kept in ``metrics["heatmap_check"]``) found at
    Grad-CAM level ``level``, in one sentence; None when it was not measured there."""
    figures = {
        family: levels[f"level {level}"]
        for family, levels in ((check or {}).get("figures") or {}).items()
        if f"level {level}" in levels and levels[f"level {level}"].get("faces")
    }
    if not figures:
        return None
    hit = sum(f["pointing"] * f["faces"] for f in figures.values()) / sum(
        f["faces"] for f in figures.values()
    )
    chance = sum(f["region_share"] * f["faces"] for f in figures.values()) / sum(
        f["faces"] for f in figures.values()
    )
    return (
        f"In tests on known manipulations ({check.get('measured_on', 'synthetic forgeries of held-out photos')}), "
        f"the heat map's peak at level {level} fell inside the manipulated region {_percent(hit)} of the time ("
        + ", ".join(f"{family} {_percent(f['pointing'])}" for family, f in figures.items())
        + f"); a point placed at random would fall inside {_percent(chance)} of the time."
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def decision_words(decision: dict, test_decision: dict | None = None) -> str:
    """How the threshold and the probabilities were fitted, and the false-alarm rate they give, in words."""
    calibration = decision.get("calibration") or {}
    if calibration.get("method", "none") != "temperature":
        return "Its probabilities are not calibrated (no temperature or threshold was fitted)."
    fitted = calibration.get("fitted") or {}
    words = (
        f"Probabilities are calibrated (temperature {calibration.get('temperature', 1.0):g}) and the threshold is "
        f"the lowest, not under 0.50, that calls at most {_percent(calibration.get('false_alarm_goal'))} of "
        f"{fitted.get('genuine', '?')} held-out genuine faces manipulated ({calibration.get('fitted_on', 'held-out faces')}; "
        f"on them: {_percent(fitted.get('false_alarm_rate'))} false alarms, {_percent(fitted.get('detection_rate'))} "
        "of manipulated faces detected)."
    )
    if test_decision:
        detection = test_decision.get("detection_rate") or {}
        words += (
            f" On the {test_decision.get('genuine_faces', '?')} genuine test faces, never used to fit it, "
            f"{_percent(test_decision.get('false_alarm_rate'))} were called manipulated; detected per family: "
            + ", ".join(f"{name} {_percent(rate)}" for name, rate in detection.items())
            + "."
        )
    return words


def task_lines(manifest: BundleManifest) -> list[str]:
    """Each task learned, in order, in words: its name, date, faces and data, for the card and the welcome panel.

    A task's ``num_samples`` counts its training and validation faces together; the validation count,
    where recorded (``metrics["validation_counts"]``), splits it. The recorded description keeps its own
    words (for the shipped models: the make-up of the faces trained on).
    """
    names = manifest.metrics.get("task_names") or [task.get("name") for task in manifest.tasks]
    held_out = dict(zip(names, manifest.metrics.get("validation_counts") or [], strict=False))
    lines = []
    for task in manifest.tasks:
        name, total = task.get("name", "?"), task.get("num_samples")
        held = held_out.get(name)
        if total is None:
            faces = "faces not recorded"
        elif held is None:
            faces = f"{total} faces for training and validation"
        else:
            faces = f"{total} faces: {total - held} trained on and {held} held out for validation"
        line = f"{name} ({task.get('date', 'date not recorded')}): {faces}."
        lines.append(line + (f" Data: {task['data_description']}." if task.get("data_description") else ""))
    return lines


def overrides_words(config: dict[str, Any]) -> str:
    """The fields a model's config changed from its preset, as words (' with input_size=96'; none: '')."""
    overrides = config.get("overrides") or {}
    return " with " + ", ".join(f"{key}={value}" for key, value in overrides.items()) if overrides else ""


def model_card(manifest: BundleManifest) -> str:
    """A Markdown model card: identity, training data in order, evaluation, decision rule, limits."""
    lines = _identity_lines(manifest)
    lines += ["", "## What it was trained on, in order"]
    lines += [f"{index}. {line}" for index, line in enumerate(task_lines(manifest), start=1)] or [
        "Nothing recorded."
    ]
    lines += ["", "## How well it does", *_evaluation_lines(manifest)]
    lines += ["", "## Known limits", *_limit_lines(manifest)]
    return "\n".join(lines) + "\n"


def _identity_lines(manifest: BundleManifest) -> list[str]:
    """The card's title, description and what the model is: architecture, origin and how it decides."""
    # Imported here: the model package pulls in torch and timm, which opening the store must not.
    from cffd_engine.model.backbones import cam_level_for

    config = manifest.model_config
    spatial, frequency = config.get("spatial_backbone", "?"), config.get("frequency_backbone", "?")
    backbones = (
        f"{spatial} backbones"
        if spatial == frequency
        else f"{spatial} (photo) and {frequency} (bands) backbones"
    )
    return [
        f"# Model {manifest.version or '(not in a store)'}",
        "",
        manifest.description or "An RSIA-Net face-forgery detector.",
        "",
        f"- Architecture: RSIA-Net, preset '{config.get('name', 'custom')}'{overrides_words(config)}, "
        f"{backbones}, {config.get('input_size', '?')} px face crops",
        f"- Created {manifest.created} by CFFD Studio {manifest.engine_version}"
        + (f", updated from {manifest.parent_version}" if manifest.parent_version else ""),
        f"- Decision: a face is called manipulated when its fake probability is at least {manifest.threshold:.2f}. "
        + decision_words(manifest.decision, manifest.metrics.get("test_decision")),
        f"- Video verdict: {video_rule()}",
        "- Heat maps: "
        + (
            heatmap_words(
                manifest.metrics.get("heatmap_check"), cam_level_for(int(config.get("input_size", 224)))
            )
            or "not checked against known manipulations for this model."
        ),
    ]


def _evaluation_lines(manifest: BundleManifest) -> list[str]:
    """Accuracy on each task's held-out faces after the last update, and on its test faces where measured."""
    lines = []
    names = manifest.metrics.get("task_names") or [t.get("name", "?") for t in manifest.tasks]
    matrix = manifest.metrics.get("accuracy") or []
    if matrix and names:
        final = matrix[-1]
        lines.append("Accuracy on each task's held-out faces after the last update:")
        lines += [f"- {name}: {_percent(value)}" for name, value in zip(names, final, strict=False)]
        if len(matrix) > 1:
            lines += ["", "The full accuracy matrix (row: after task i, column: task j) is in the manifest."]
    else:
        lines.append("No evaluation recorded.")
    if manifest.evaluation:
        lines += ["", manifest.evaluation]
    test = manifest.metrics.get("test") or {}
    if test:
        lines += ["", "On each task's test faces (neither trained on nor used to choose the model):"]
        lines += [
            f"- {name}: accuracy {_percent(figures.get('accuracy'))}, AUC "
            + ("n/a" if figures.get("auc") is None else f"{figures['auc']:.3f}")
            + f" ({figures.get('count', '?')} faces)"
            for name, figures in test.items()
        ]
    return lines


def _limit_lines(manifest: BundleManifest) -> list[str]:
    """The model's recorded limits, and whether this copy can learn a new forgery method."""
    lines = [f"- {limit}" for limit in manifest.limits] or ["- None recorded."]
    if not manifest.learnable:
        lines.append(
            "- This copy carries no replay buffer: it can analyse evidence but cannot be updated "
            "with a new forgery method"
            + (
                " until its training faces are rebuilt, from the photos it was trained on or from your own "
                "genuine faces (`cffd models restore-data [--faces FOLDER]`)."
                if manifest.contents.get("recipe")
                else "."
            )
        )
    return lines
