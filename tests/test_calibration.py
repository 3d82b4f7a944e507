"""Temperature scaling reduces the calibration error of over-confident probabilities."""
from __future__ import annotations

import numpy as np

from xicam.camsort.calibration import apply_temperature, expected_calibration_error, fit_temperature


def test_temperature_fixes_overconfidence_and_keeps_ranking():
    rng = np.random.default_rng(0)
    n, k = 4000, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.0  # right about 60 % of the time ...
    p_true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    over = apply_temperature(p_true, 0.25)  # ... but reported as near-certain
    t = fit_temperature(over[:2000], y[:2000])
    fixed = apply_temperature(over[2000:], t)
    assert 3.0 < t < 5.5
    assert expected_calibration_error(fixed, y[2000:]) < 0.5 * expected_calibration_error(over[2000:], y[2000:])
    np.testing.assert_array_equal(fixed.argmax(1), over[2000:].argmax(1))
    np.testing.assert_allclose(fixed.sum(1), 1.0, rtol=1e-6)


def test_ece_of_perfect_calibration_is_small():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 20000)
    y = (rng.uniform(size=20000) > conf).astype(int)  # class 0 correct with probability conf
    proba = np.stack([conf, 1 - conf], 1)
    assert expected_calibration_error(proba, y) < 0.02


def test_probabilities_are_shown_rounded_down_so_none_reads_as_the_threshold_it_missed():
    from xicam.camsort.calibration import shown

    assert f"{shown(0.59995, 2):.0%}" == "59%" and f"{shown(0.59995, 3):.3f}" == "0.599"
    assert shown(0.29, 2) == 0.29 and shown(0.6, 2) == 0.6 and shown(1.0, 3) == 1.0  # exact values stay
    assert shown(0.99996, 3) == 0.999  # and nothing short of certain reads as 1.000
