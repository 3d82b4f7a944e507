"""The five classifiers of the study behind one interface, their tuning search, and safe persistence.

Labels are integer indices into CLASSES. Each classifier exposes ``predict_proba`` with one column
per class seen in training (``classes_``). Models are saved in their library's own format
(skops for scikit-learn forests, LightGBM text, XGBoost JSON, CatBoost cbm): none is unpickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold, cross_val_score

from .errors import CamsortError

CLASSIFIERS = ("rf", "et", "lightgbm", "xgboost", "catboost")
N_JOBS = int(os.environ.get("CAMSORT_THREADS", "2"))
"""Threads each classifier uses; dask workers set ``CAMSORT_THREADS`` to their own thread count."""


def make_classifier(name: str, random_state: int = 0, **params: Any):
    """A new classifier by name, quiet and sized for a small machine."""
    if name == "rf":
        return RandomForestClassifier(**{"n_estimators": 300, "n_jobs": N_JOBS, **params}, random_state=random_state)
    if name == "et":
        return ExtraTreesClassifier(**{"n_estimators": 300, "n_jobs": N_JOBS, **params}, random_state=random_state)
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**{"n_estimators": 200, "verbose": -1, "n_jobs": N_JOBS, **params},
                              random_state=random_state)
    if name == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(**{"n_estimators": 200, "n_jobs": N_JOBS, "tree_method": "hist", **params},
                             random_state=random_state)
    if name == "catboost":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(**{"iterations": 300, "verbose": 0, "thread_count": N_JOBS,
                                     "allow_writing_files": False, **params}, random_seed=random_state)
    raise CamsortError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}")


SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": randint(100, 600), "max_depth": [None, 8, 16, 32], "min_samples_leaf": randint(1, 5),
           "max_features": ["sqrt", "log2", None]},
    "et": {"n_estimators": randint(100, 600), "max_depth": [None, 8, 16, 32], "min_samples_leaf": randint(1, 5),
           "max_features": ["sqrt", "log2", None]},
    "lightgbm": {"n_estimators": randint(50, 400), "learning_rate": loguniform(0.01, 0.3),
                 "num_leaves": randint(7, 63), "min_child_samples": randint(5, 40), "subsample": uniform(0.6, 0.4)},
    "xgboost": {"n_estimators": randint(50, 400), "learning_rate": loguniform(0.01, 0.3), "max_depth": randint(2, 8),
                "subsample": uniform(0.6, 0.4), "colsample_bytree": uniform(0.5, 0.5)},
    "catboost": {"iterations": randint(100, 500), "learning_rate": loguniform(0.01, 0.3), "depth": randint(3, 8)},
}
"""Hyper-parameter distributions searched by :func:`tune`."""


def tune(name: str, X: np.ndarray, y: np.ndarray, n_iter: int = 10, cv: int = 5, seed: int = 0):
    """Randomized search over :data:`SEARCH_SPACES` maximising macro-F1 under stratified k-fold CV.

    Returns the refitted best estimator; the default configuration is always one of the candidates,
    so tuning never does worse than defaults on the search's own CV.
    """
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    search = RandomizedSearchCV(make_classifier(name, random_state=seed), SEARCH_SPACES[name], n_iter=n_iter,
                                scoring="f1_macro", cv=folds, random_state=seed, n_jobs=1, refit=False)
    search.fit(X, y)
    default = cross_val_score(make_classifier(name, random_state=seed), X, y, cv=folds, scoring="f1_macro").mean()
    best = search.best_params_ if search.best_score_ > default else {}
    model = make_classifier(name, random_state=seed, **best).fit(X, y)
    model.cv_f1_ = float(max(search.best_score_, default))
    return model


def auto_select(X: np.ndarray, y: np.ndarray, names: tuple[str, ...] = CLASSIFIERS, cv: int = 5, seed: int = 0,
                n_iter: int = 5) -> tuple[str, Any, dict[str, float]]:
    """Tune every named classifier and return (best name, fitted model, CV macro-F1 per name)."""
    scores, models = {}, {}
    for name in names:
        models[name] = tune(name, X, y, n_iter=n_iter, cv=cv, seed=seed)
        scores[name] = models[name].cv_f1_
    best = max(scores, key=scores.get)
    return best, models[best], scores


class BoosterClassifier:
    """predict_proba over a LightGBM Booster loaded from its text model file."""

    def __init__(self, booster, classes: list[int]):
        self.booster, self.classes_ = booster, np.asarray(classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(self.booster.predict(X))
        return p if p.ndim == 2 else np.stack([1 - p, p], 1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]


def save_classifier(model: Any, folder: str | os.PathLike) -> dict[str, Any]:
    """Write the classifier in its library's format into ``folder``; returns its JSON description."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kind = type(model).__name__
    classes = [int(c) for c in model.classes_]
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier"):
        from skops.io import dump

        dump(model, os.fspath(folder / "model.skops"))
        file = "model.skops"
    elif kind in ("LGBMClassifier", "BoosterClassifier"):
        booster = model.booster_ if kind == "LGBMClassifier" else model.booster
        booster.save_model(os.fspath(folder / "model.txt"))
        file = "model.txt"
    elif kind == "XGBClassifier":
        model.save_model(os.fspath(folder / "model.json"))
        file = "model.json"
    elif kind == "CatBoostClassifier":
        model.save_model(os.fspath(folder / "model.cbm"), format="cbm")
        file = "model.cbm"
    else:
        raise CamsortError(f"cannot save classifier of type {kind}")
    spec = {"kind": kind, "file": file, "classes": classes}
    (folder / "classifier.json").write_text(json.dumps(spec))
    return spec


def load_classifier(folder: str | os.PathLike):
    """Load a classifier written by :func:`save_classifier` (no unpickling)."""
    folder = Path(folder)
    try:
        spec = json.loads((folder / "classifier.json").read_text())
    except (OSError, ValueError) as exc:
        raise CamsortError(f"{folder / 'classifier.json'}: unreadable classifier description ({exc})") from None
    path = folder / spec["file"]
    kind = spec["kind"]
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier"):
        from .model_files import load_skops

        model = load_skops(path, allowed=("sklearn.tree._tree.Tree",))
        if type(model).__name__ != kind:
            raise CamsortError(f"{path}: expected {kind}, found {type(model).__name__}")
        return model
    if kind in ("LGBMClassifier", "BoosterClassifier"):
        import lightgbm

        return BoosterClassifier(lightgbm.Booster(model_file=os.fspath(path)), spec["classes"])
    if kind == "XGBClassifier":
        from xgboost import XGBClassifier

        model = XGBClassifier()
        model.load_model(os.fspath(path))
        return model
    if kind == "CatBoostClassifier":
        from catboost import CatBoostClassifier

        return CatBoostClassifier().load_model(os.fspath(path), format="cbm")
    raise CamsortError(f"{folder}: unknown classifier kind {kind!r}")
