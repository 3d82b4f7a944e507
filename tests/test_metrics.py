"""Metrics agree with scikit-learn and with a hand computation; CV records and summaries are complete."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.datasets import make_classification

from xicam.camsort.metrics import METRICS, cross_validate, scores, summarise


def test_kappa_and_accuracy_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    s = scores(y, p)
    # po = 6/8; pe = (4*4 + 4*4) / 64 = 0.5; kappa = (0.75 - 0.5) / 0.5
    assert s["accuracy"] == 0.75 and abs(s["kappa"] - 0.5) < 1e-12
    assert abs(s["mcc"] - 0.5) < 1e-12 and abs(s["f1"] - 0.75) < 1e-12


def test_cross_validation_records_and_summary():
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    records = cross_validate(lambda: RandomForestClassifier(50, random_state=0), X, y, k=5)
    assert len(records) == 5 and all(np.array(r["confusion"]).sum() == 40 for r in records)
    summary = summarise(records)
    for m in METRICS:
        assert 0 <= summary[f"{m}_std"] <= summary[f"{m}_mean"] <= 1
    assert summary["accuracy_mean"] > 0.7


def test_copies_of_one_frame_never_span_training_and_test():
    """BLA holds four turns of every frame; rotation-invariant features make them identical rows. Split
    row by row, a forest recognises the copies (a leak that scores noise as signal); split by group,
    noise scores chance."""
    from xicam.camsort.study import run_combination

    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(120, 6)), 4, axis=0)
    y = np.repeat(rng.integers(0, 4, 120), 4)
    groups = np.repeat(np.arange(120), 4)
    forest = lambda *train: RandomForestClassifier(50, random_state=0)  # noqa: E731
    leaky = summarise(cross_validate(forest, X, y, k=5))["accuracy_mean"]
    honest = summarise(cross_validate(forest, X, y, k=5, groups=groups))["accuracy_mean"]
    assert leaky > 0.9 and honest < 0.45, (leaky, honest)
    tuned = summarise(run_combination(X, y, "rf", folds=3, tune_iter=2, groups=groups))["accuracy_mean"]
    assert tuned < 0.45
