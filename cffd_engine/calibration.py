"""A model's decision rule: calibrated probabilities and a threshold chosen for its false-alarm rate.

Both are fitted on held-out faces the model never trained on and recorded in the bundle's
manifest (``decision``), so every analysis states them:

- Temperature scaling (Guo et al., 2017) divides the logits by one number ``T``, chosen
  to minimise the negative log-likelihood of the held-out labels. A "0.9" then means
  about nine in ten on faces like the held-out ones; the order of any two faces is
  unchanged, so AUC is too.
- The threshold is the lowest (never below 0.5) at which at most ``false_alarm_goal``
  of the held-out genuine faces are called manipulated: how often the tool accuses a
  genuine face is the first thing an examiner must be able to state.

``raw_threshold`` gives the same threshold on the uncalibrated softmax probability,
which is what training and update evaluations compute.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit

from cffd_engine.model import FAKE
from cffd_engine.store.bundle import decision_threshold

CALIBRATIONS = ("none", "temperature")
FALSE_ALARM_GOAL = 0.05
TEMPERATURE_RANGE = (0.05, 50.0)
_THRESHOLD_STEP = 1e-4  # thresholds are recorded to four decimals, rounded up


def calibrated_probability(logits: torch.Tensor, calibration: dict) -> torch.Tensor:
    """P(fake) per row of ``logits`` under the bundle's calibration (``none`` or ``temperature``)."""
    logits = logits.float()
    if calibration.get("method", "none") == "temperature":
        logits = logits / float(calibration.get("temperature", 1.0))
    return torch.softmax(logits, dim=1)[:, FAKE]


def fit_temperature(margins: np.ndarray, labels: np.ndarray) -> float:
    """The T in ``TEMPERATURE_RANGE`` minimising the mean negative log-likelihood of sigmoid(margin / T)."""
    margins = np.asarray(margins, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if margins.size == 0 or labels.all() or not labels.any():
        raise ValueError("fitting a temperature needs held-out faces of both classes")
    signed = np.where(labels, margins, -margins)  # the margin towards the true class

    def nll(log_t: float) -> float:
        return float(np.logaddexp(0.0, -signed / math.exp(log_t)).mean())

    low, high = (math.log(v) for v in TEMPERATURE_RANGE)
    best = minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6})
    return round(math.exp(best.x), 4)


def false_alarm_threshold(genuine_probabilities: np.ndarray, goal: float = FALSE_ALARM_GOAL) -> float:
    """The lowest threshold (at least 0.5, a multiple of 1e-4) that calls at most ``goal`` of these genuine faces manipulated."""
    scores = np.sort(np.asarray(genuine_probabilities, dtype=np.float64))[::-1]
    if scores.size == 0:
        raise ValueError("choosing a threshold needs held-out genuine faces")
    allowed = math.floor(goal * scores.size + 1e-9)
    if allowed >= scores.size:
        return 0.5
    above = scores[allowed]  # the highest score that must fall below the threshold
    threshold = (math.floor(above / _THRESHOLD_STEP) + 1) * _THRESHOLD_STEP
    return round(min(1.0, max(0.5, threshold)), 4)


def raw_threshold(decision: dict) -> float:
    """The decision's threshold on the uncalibrated P(fake) (the same faces fall above it)."""
    threshold = decision_threshold(decision)
    calibration = decision.get("calibration") or {}
    if calibration.get("method", "none") != "temperature" or threshold in (0.0, 1.0):
        return threshold
    return float(expit(float(calibration.get("temperature", 1.0)) * logit(threshold)))


def rates(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """False-alarm rate on the genuine faces and detection rate on the manipulated ones at ``threshold``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    called = probabilities >= threshold
    genuine, manipulated = labels != FAKE, labels == FAKE
    return {
        "genuine": int(genuine.sum()),
        "manipulated": int(manipulated.sum()),
        "false_alarm_rate": round(float(called[genuine].mean()), 4) if genuine.any() else None,
        "detection_rate": round(float(called[manipulated].mean()), 4) if manipulated.any() else None,
    }


def fit_decision(
    margins: np.ndarray, labels: np.ndarray, described_as: str, goal: float = FALSE_ALARM_GOAL
) -> dict:
    """The manifest's ``decision`` fitted on held-out faces: their fake-minus-real logits and labels.

    ``described_as`` says in words which faces they are; it goes into the record with the counts
    and the rates the threshold gives on them.
    """
    margins = np.asarray(margins, dtype=np.float64)
    labels = np.asarray(labels)
    temperature = fit_temperature(margins, labels == FAKE)
    calibrated = expit(margins / temperature)
    threshold = false_alarm_threshold(calibrated[labels != FAKE], goal)
    return {
        "threshold": threshold,
        "calibration": {
            "method": "temperature",
            "temperature": temperature,
            "false_alarm_goal": goal,
            "fitted_on": described_as,
            "fitted": rates(calibrated, labels, threshold),
        },
    }
