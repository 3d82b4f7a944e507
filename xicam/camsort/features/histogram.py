"""The paper's 7 histogram features, defined on the image's intensity distribution.

For each preprocessed image (values in [0, 1]) with grey-level histogram p over L bins:
mean = sum(z p), variance = sum((z - mean)^2 p), skewness and kurtosis are the standardised third
and fourth moments (excess kurtosis), energy (uniformity) = sum(p^2), entropy = -sum(p log2 p),
roughness R = 1 - 1 / (1 + variance) (Gonzalez & Woods' smoothness measure). The camSortXS
script computed some of these on the histogram's bin counts rather than on intensities, which
measures the shape of a list of counts, not of the image; here every moment is of intensities.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

NAMES = ("mean", "entropy", "energy", "variance", "skewness", "kurtosis", "roughness")


class HistogramFeatures(TransformerMixin, BaseEstimator):
    """(N, H, W) images in [0, 1] -> (N, 7) histogram features; vectorised over the batch."""

    def __init__(self, bins: int = 256):
        self.bins = bins

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "HistogramFeatures":
        self.n_features_in_ = 1
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32).reshape(len(X), -1)
        levels = np.minimum((X * self.bins).astype(np.int64), self.bins - 1)
        offsets = (np.arange(len(X)) * self.bins)[:, None]
        counts = np.bincount((levels + offsets).ravel(), minlength=len(X) * self.bins).reshape(len(X), self.bins)
        p = counts / X.shape[1]
        mean = X.mean(1)
        centred = X - mean[:, None]
        variance = (centred**2).mean(1)
        std = np.sqrt(np.maximum(variance, 1e-12))
        skewness = (centred**3).mean(1) / std**3
        kurtosis = (centred**4).mean(1) / std**4 - 3
        energy = (p**2).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy = -np.where(p > 0, p * np.log2(p), 0).sum(1)
        roughness = 1 - 1 / (1 + variance)
        return np.stack([mean, entropy, energy, variance, skewness, kurtosis, roughness], 1).astype(np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"hist_{n}" for n in NAMES], dtype=object)
