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
