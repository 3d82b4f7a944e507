"""The study's seven metrics (accuracy, recall, precision, F1, Cohen's kappa, MCC, time), k-fold summaries."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import (accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, matthews_corrcoef,
                             precision_score, recall_score)
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

METRICS = ("accuracy", "recall", "precision", "f1", "kappa", "mcc")


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The six quality metrics (recall, precision and F1 macro-averaged over classes)."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
        "precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "kappa": float(cohen_kappa_score(y_true, y_pred)),
        "mcc": float(matthews_corrcoef(y_true, y_pred)),
    }


def cross_validate(make_model: Callable[..., Any], X: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0,
                   groups: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Stratified k-fold: one record per fold with the six metrics, fit/predict seconds and the confusion.

    With ``groups`` (the source frame of BLA's rotated copies) a group never spans training and test
    rows (StratifiedGroupKFold), and ``make_model`` is called with the training rows' indices.
    """
    records = []
    labels = np.unique(y)
    splitter = (StratifiedKFold(k, shuffle=True, random_state=seed) if groups is None
                else StratifiedGroupKFold(k, shuffle=True, random_state=seed))
    for fold, (tr, te) in enumerate(splitter.split(X, y, groups)):
        model = make_model() if groups is None else make_model(tr)
        t0 = time.perf_counter()
        model.fit(X[tr], y[tr])
        t1 = time.perf_counter()
        pred = model.predict(X[te])
        t2 = time.perf_counter()
        records.append({"fold": fold, **scores(y[te], pred), "fit_s": t1 - t0, "predict_s": t2 - t1,
                        "confusion": confusion_matrix(y[te], pred, labels=labels).tolist()})
    return records


def summarise(records: list[dict[str, Any]]) -> dict[str, float]:
    """Mean and standard deviation over folds of every metric and time."""
    out: dict[str, float] = {}
    for key in (*METRICS, "fit_s", "predict_s"):
        values = np.array([r[key] for r in records], float)
        out[f"{key}_mean"], out[f"{key}_std"] = float(values.mean()), float(values.std())
    return out
