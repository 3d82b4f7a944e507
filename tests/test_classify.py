"""The five classifiers, tuning, and their safe persistence."""
from __future__ import annotations

import operator

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold, cross_val_score

from xicam.camsort.classify import CLASSIFIERS, auto_select, load_classifier, make_classifier, save_classifier, tune
from xicam.camsort.errors import CamsortError
from xicam.camsort.reduce import load_reducer, make_reducer, save_reducer

X, Y = make_classification(400, 12, n_informative=6, n_classes=5, n_clusters_per_class=1, random_state=0)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_probabilities_and_round_trip(name, tmp_path):
    model = make_classifier(name, random_state=1).fit(X[:300], Y[:300])
    proba = model.predict_proba(X[300:])
    assert proba.shape == (100, 5)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert [int(c) for c in model.classes_] == [0, 1, 2, 3, 4]
    assert (proba.argmax(1) == Y[300:]).mean() > 0.6
    spec = save_classifier(model, tmp_path / name)
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in (tmp_path / name).iterdir())
    again = load_classifier(tmp_path / name)
    np.testing.assert_allclose(again.predict_proba(X[300:]), proba, rtol=1e-6, atol=1e-7)
    assert spec["classes"] == [0, 1, 2, 3, 4]


def test_skops_refuses_foreign_types(tmp_path):
    from skops.io import dump
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=3).fit(X, Y)
    model.extra = operator.add  # a callable smuggled into the file: outside the allow-list
    save_classifier(model, tmp_path)
    dump(model, tmp_path / "model.skops")
    with pytest.raises(CamsortError, match="refusing to load untrusted types"):
        load_classifier(tmp_path)


def test_tuning_matches_or_beats_defaults():
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    default = cross_val_score(make_classifier("rf", random_state=0), X, Y, cv=folds, scoring="f1_macro").mean()
    tuned = tune("rf", X, Y, n_iter=4, cv=3, seed=0)
    assert tuned.cv_f1_ >= default - 1e-9


def test_auto_select_picks_the_best_cv_score():
    name, model, scores = auto_select(X, Y, names=("rf", "et"), cv=3, n_iter=2)
    assert scores[name] == max(scores.values()) and hasattr(model, "predict_proba")


def test_reducer_pca_and_round_trip(tmp_path):
    reducer = make_reducer(5).fit(X)
    z = reducer.transform(X)
    assert z.shape == (400, 5)
    ratio = reducer[-1].explained_variance_ratio_
    assert 0 < ratio.sum() <= 1 and np.all(np.diff(ratio) <= 1e-12)
    save_reducer(reducer, tmp_path / "r.skops")
    np.testing.assert_allclose(load_reducer(tmp_path / "r.skops").transform(X), z, rtol=1e-6)
    assert make_reducer(3, method="ica").fit(X).transform(X).shape == (400, 3)
