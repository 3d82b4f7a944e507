"""Probability calibration for the sorter: temperature scaling and the expected calibration error.

Tree ensembles give over- or under-confident probabilities; one temperature ``T`` fitted on
held-out data (p ∝ p_raw^(1/T)) fixes most of it, keeps the ranking of classes, and is a single
number that is stored in the model's JSON config (no pickled calibrator).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

EPS = 1e-6


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities by a temperature: rows of ``p^(1/T)`` renormalised to sum to 1."""
    logp = np.log(np.clip(proba, EPS, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out labels ``y`` (indices)."""
    y = np.asarray(y, dtype=int)

    def nll(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(proba, float(np.exp(log_t))), y)

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def negative_log_likelihood(proba: np.ndarray, y: np.ndarray) -> float:
    """The mean negative log-probability of the true classes ``y`` (indices): what a temperature minimises."""
    y = np.asarray(y, dtype=int)
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], EPS, 1.0))))


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y, dtype=int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(ece)


def shown(p: float, decimals: int) -> float:
    """``p`` rounded down to ``decimals`` places, as camsort displays probabilities: one just below the
    threshold (0.59995 against 0.6) must not read as the threshold itself next to an ``UNSURE``."""
    scale = 10 ** decimals
    return math.floor(p * scale + 1e-9) / scale  # 1e-9: 0.29 * 100 is 28.999999999999996
