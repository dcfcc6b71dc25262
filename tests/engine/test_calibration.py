"""A model's decision rule: temperature fitted on held-out faces, a threshold for the false-alarm goal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit

from cffd_engine.calibration import (
    calibrated_probability,
    false_alarm_threshold,
    fit_decision,
    fit_temperature,
    raw_threshold,
)


def overconfident_margins(n: int, temperature: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), reported as margins temperature * z: a model too sure by that factor."""
    rng = np.random.default_rng(seed)
    true_margin = rng.normal(0.0, 2.0, n)
    labels = rng.random(n) < expit(true_margin)
    return true_margin * temperature, labels


def test_the_temperature_of_an_overconfident_model_is_found_and_is_the_likelihood_optimum():
    margins, labels = overconfident_margins(40_000, 3.0)
    fitted = fit_temperature(margins, labels)
    assert fitted == pytest.approx(3.0, rel=0.05)
    grid = np.linspace(1.0, 6.0, 501)  # an independent search of the same objective
    nll = [np.mean(np.logaddexp(0, -np.where(labels, margins, -margins) / t)) for t in grid]
    assert fitted == pytest.approx(grid[int(np.argmin(nll))], abs=0.011)


def test_a_temperature_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        fit_temperature(np.array([1.0, 2.0]), np.array([True, True]))


def test_the_threshold_is_the_lowest_that_meets_the_false_alarm_goal():
    genuine = np.random.default_rng(1).uniform(0.0, 1.0, 200)
    threshold = false_alarm_threshold(genuine, 0.05)
    assert (genuine >= threshold).sum() <= 10  # at most 5% of 200
    assert (genuine >= threshold - 1e-4).sum() > 10  # one step lower would exceed it
    assert threshold == round(threshold, 4)


def test_the_threshold_never_goes_below_one_half():
    assert false_alarm_threshold(np.full(50, 0.1), 0.05) == 0.5
    assert false_alarm_threshold(np.array([0.2, 0.3]), 1.0) == 0.5


def test_the_raw_threshold_separates_the_same_faces_as_the_calibrated_one():
    margins = np.random.default_rng(2).normal(0.0, 4.0, 5000)
    decision = {"threshold": 0.8, "calibration": {"method": "temperature", "temperature": 2.5}}
    calibrated = (
        calibrated_probability(
            torch.tensor(np.stack([np.zeros_like(margins), margins], axis=1)), decision["calibration"]
        )
        .double()
        .numpy()
    )
    np.testing.assert_allclose(calibrated, expit(margins / 2.5), rtol=1e-5)
    raw = expit(margins)
    away = np.abs(calibrated - 0.8) > 1e-5  # float32 softmax: leave out faces on the line itself
    np.testing.assert_array_equal((calibrated >= 0.8)[away], (raw >= raw_threshold(decision))[away])
    assert raw_threshold({"threshold": 0.7, "calibration": {"method": "none"}}) == 0.7


def test_a_fitted_decision_records_what_it_was_fitted_on_and_meets_its_goal():
    margins, labels = overconfident_margins(4000, 2.0, seed=3)
    margins = margins + 1.5  # and biased towards "fake": 0.5 would raise many false alarms
    decision = fit_decision(margins, labels.astype(int), "test faces")
    calibration = decision["calibration"]
    assert calibration["method"] == "temperature" and calibration["fitted_on"] == "test faces"
    calibrated = expit(margins / calibration["temperature"])
    genuine = calibrated[~labels]
    assert (genuine >= 0.5).mean() > 0.05
    assert calibration["fitted"]["false_alarm_rate"] == pytest.approx(
        (genuine >= decision["threshold"]).mean(), abs=1e-4
    )
    assert calibration["fitted"]["false_alarm_rate"] <= 0.05
    assert (
        calibration["fitted"]["genuine"] == (~labels).sum()
        and calibration["fitted"]["manipulated"] == labels.sum()
    )
