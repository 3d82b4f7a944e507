"""Featurizers: shapes, determinism, finite values, correct statistics, separation of techniques, persistence."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import RandomForestClassifier

from xicam.camsort.features import FEATURIZERS, load_featurizer, make_featurizer, save_featurizer
from xicam.camsort.training import simulated_set


@pytest.fixture(scope="module")
def train_test():
    """Simulated techniques + negatives at 64 px: train on one seed, test on another."""
    X, y = simulated_set(60, seed=101, size=64, negatives=30)
    Xt, yt = simulated_set(30, seed=202, size=64, negatives=15)
    return X, y.astype(str), Xt, yt.astype(str)


def _held_out_accuracy(featurizer, train_test) -> float:
    X, y, Xt, yt = train_test
    labels = {c: i for i, c in enumerate(sorted(set(y)))}
    yi = np.array([labels[v] for v in y])
    F, Ft = featurizer.fit(X, yi).transform(X), featurizer.transform(Xt)
    clf = RandomForestClassifier(300, random_state=0).fit(F, yi)
    return float((clf.predict(Ft) == np.array([labels[v] for v in yt])).mean())


def test_histogram_features_are_the_documented_statistics():
    rng = np.random.default_rng(0)
    X = rng.beta(2, 5, (3, 32, 32)).astype(np.float32)
    F = make_featurizer("hist").fit(X).transform(X)
    assert F.shape == (3, 7) and F.dtype == np.float32
    flat = X.reshape(3, -1)
    np.testing.assert_allclose(F[:, 0], flat.mean(1), rtol=1e-5)
    np.testing.assert_allclose(F[:, 3], flat.var(1), rtol=1e-4)
    np.testing.assert_allclose(F[:, 4], stats.skew(flat, axis=1), rtol=1e-3)
    np.testing.assert_allclose(F[:, 5], stats.kurtosis(flat, axis=1), rtol=1e-3)
    np.testing.assert_allclose(F[:, 6], 1 - 1 / (1 + flat.var(1)), rtol=1e-4)
    p = np.histogram(flat[0], bins=256, range=(0, 1))[0] / flat.shape[1]
    np.testing.assert_allclose(F[0, 2], (p**2).sum(), rtol=1e-4)
    np.testing.assert_allclose(F[0, 1], -(p[p > 0] * np.log2(p[p > 0])).sum(), rtol=1e-4)


def test_glcm_shape_names_and_determinism():
    X = np.random.default_rng(1).random((4, 32, 32)).astype(np.float32)
    g = make_featurizer("glcm", distances=(1, 3))
    F = g.fit(X).transform(X)
    assert F.shape == (4, 6 * 2 * 4) and np.isfinite(F).all()
    assert len(g.get_feature_names_out()) == F.shape[1]
    np.testing.assert_array_equal(F, make_featurizer("glcm", distances=(1, 3)).fit(X).transform(X))


def test_texture_features_separate_techniques_on_another_seed(train_test):
    """Chance is 0.2 (five classes); global intensity statistics see no geometry, so on the wide simulated
    domain they stay weak (with 300 frames per class at 128 px: hist 0.45, GLCM 0.49 on native frames of
    another seed, see docs/results.md); this 60-per-class, 64 px set must still beat chance by 1.4x.
    (Measured on 2026-12-01 with scikit-learn 1.9.1: hist 0.31, GLCM 0.42; an earlier install gave
    hist just above 0.33, so the bar sits below the weaker featurizer's run-to-run spread.)"""
    assert _held_out_accuracy(make_featurizer("hist"), train_test) > 0.28
    assert _held_out_accuracy(make_featurizer("glcm"), train_test) > 0.28


def test_lenet_features_shape_determinism_separation_and_round_trip(train_test, tmp_path):
    net = make_featurizer("lenet-fast", epochs=8, patience=3, seed=3)
    accuracy = _held_out_accuracy(net, train_test)
    X = train_test[2][:16]
    F = net.transform(X)
    assert F.shape == (16, 192) and F.dtype == np.float32 and np.isfinite(F).all()
    np.testing.assert_array_equal(F, net.transform(X))
    # the compiled predict step computes what the network computes called eagerly, in batches or not
    eager = np.asarray(net.features_model(net.network_input(X), training=False))
    np.testing.assert_allclose(F, eager, rtol=1e-5, atol=1e-5)
    net.inference_batch = 5
    np.testing.assert_allclose(net.transform(X), eager, rtol=1e-5, atol=1e-5)
    spec = save_featurizer(net, tmp_path)
    again = load_featurizer(spec, tmp_path)
    np.testing.assert_allclose(again.transform(X), F, atol=1e-5)
    # 8 epochs on 270 frames at 64 px: 0.42-0.48 over repeated runs (weak exposures down to 0.2 counts
    # per pixel); the bar, 1.8x chance, asks for separation, not for one lucky training run
    assert accuracy > 0.36, accuracy


def test_paper_lenet_architecture():
    from xicam.camsort.features.lenet import build_lenet

    model = build_lenet("lenet", 256)
    convs = [l for l in model.layers if type(l).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [64, 64, 48] and all(c.kernel_size == (3, 3) for c in convs)
    assert model.get_layer("fc1").units == 192 and model.get_layer("fc2").units == 64
    assert {"hist", "glcm", "lenet", "lenet-fast"} <= set(FEATURIZERS)
