"""Grey-level co-occurrence texture features (contrast, correlation, energy, homogeneity, ASM,
entropy) over chosen pixel distances and 4 angles, via scikit-image."""
from __future__ import annotations

import numpy as np
from skimage.feature import graycomatrix, graycoprops
from sklearn.base import BaseEstimator, TransformerMixin

PROPS = ("contrast", "correlation", "energy", "homogeneity", "ASM", "entropy")
ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)


class GLCMFeatures(TransformerMixin, BaseEstimator):
    """(N, H, W) images in [0, 1] -> (N, 6 * len(distances) * 4) GLCM properties."""

    def __init__(self, distances: tuple[int, ...] = (1,), levels: int = 32):
        self.distances = distances
        self.levels = levels

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "GLCMFeatures":
        self.n_features_in_ = 1
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        q = np.minimum((np.asarray(X) * self.levels).astype(np.uint8), self.levels - 1)
        return np.stack([self._one(img) for img in q]).astype(np.float32)

    def _one(self, img: np.ndarray) -> np.ndarray:
        m = graycomatrix(img, list(self.distances), list(ANGLES), levels=self.levels, symmetric=True, normed=True)
        return np.concatenate([graycoprops(m, p).ravel() for p in PROPS])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"glcm_{p}_d{d}_a{int(np.degrees(a))}" for p in PROPS for d in self.distances
                         for a in ANGLES], dtype=object)
