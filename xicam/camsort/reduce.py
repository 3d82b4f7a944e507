"""Dimensionality reduction after featurization: StandardScaler -> PCA (default 5 components) or FastICA.

Persisted with skops (a restricted, non-pickle loader) and only sklearn's own types accepted.
"""
from __future__ import annotations

import os
from pathlib import Path

from sklearn.decomposition import PCA, FastICA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .errors import CamsortError
from .model_files import load_skops

METHODS = ("pca", "ica")


def make_reducer(n_components: int = 5, method: str = "pca", random_state: int = 0) -> Pipeline:
    """A scaler + PCA/ICA pipeline; ``pipeline[-1].explained_variance_ratio_`` after fitting (PCA)."""
    if method == "pca":
        step = PCA(n_components=n_components, random_state=random_state)
    elif method == "ica":
        step = FastICA(n_components=n_components, random_state=random_state, max_iter=1000)
    else:
        raise CamsortError(f"unknown reducer {method!r}; choose one of {METHODS}")
    return Pipeline([("scale", StandardScaler()), (method, step)])


def save_reducer(reducer: Pipeline, path: str | os.PathLike) -> str:
    """Write the fitted reducer as a skops file; returns its file name."""
    from skops.io import dump

    dump(reducer, os.fspath(path))
    return Path(path).name


def load_reducer(path: str | os.PathLike) -> Pipeline:
    """Load a reducer written by :func:`save_reducer`."""
    reducer = load_skops(path)
    if not isinstance(reducer, Pipeline):
        raise CamsortError(f"{path}: expected a scikit-learn Pipeline, found {type(reducer).__name__}")
    return reducer
