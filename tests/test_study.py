"""The study runs every combination, writes Table III and its files, and resumes without redoing work."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from xicam.camsort import TECHNIQUES, study
from xicam.camsort.datasets import group_split, write_dataset
from xicam.camsort.errors import CamsortError


def test_study_writes_results_and_resumes(tmp_path, monkeypatch):
    write_dataset(tmp_path / "data", 16, seed=8, size=128)
    out = tmp_path / "results"
    calls = []
    real = study.run_combination
    monkeypatch.setattr(study, "run_combination", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    study.run_study(tmp_path / "data", out, ["hist", "glcm"], ["rf", "et"], ["BL", "BLA"], folds=3, size=64,
                    log=lambda *_: None)
    assert len(calls) == 8
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 * (3 + 1)
    summary = [r for r in rows if r["fold"] == "mean"]
    assert all(-1 <= float(r["kappa"]) <= 1 for r in summary) and all(0 <= float(r["accuracy"]) <= 1 for r in summary)
    table = (out / "table3.md").read_text().splitlines()
    assert len(table) == 2 + 4 and "±" in table[2]
    for name in ("kappa_boxplots.png", "confusion_best.png", "report.md"):
        assert (out / name).stat().st_size > 0
    # second run: every combination is done, nothing is recomputed
    calls.clear()
    study.run_study(tmp_path / "data", out, ["hist", "glcm"], ["rf", "et"], ["BL", "BLA"], folds=3, size=64,
                    log=lambda *_: None)
    assert calls == []
    # a new classifier is the only new work
    study.run_study(tmp_path / "data", out, ["hist"], ["rf", "lightgbm"], ["BL"], folds=3, size=64,
                    log=lambda *_: None)
    assert calls == ["lightgbm"]
    # resuming with other parameters would mix two studies in one table: refused, nothing run
    calls.clear()
    with pytest.raises(CamsortError, match=r"results: this study was run with folds 3 \(now 5\), n_components 5 "
                                           r"\(now 16\); resume it with the same parameters or give another --out"):
        study.run_study(tmp_path / "data", out, ["hist"], ["rf"], ["BL"], folds=5, size=64, n_components=16,
                        log=lambda *_: None)
    assert calls == []


def test_study_passes_the_pca_components_to_every_combination(tmp_path, monkeypatch):
    write_dataset(tmp_path / "data", 16, seed=8, size=128)
    seen = []
    real = study.run_combination
    monkeypatch.setattr(study, "run_combination", lambda *a, **k: seen.append(k["n_components"]) or real(*a, **k))
    study.run_study(tmp_path / "data", tmp_path / "pca3", ["hist"], ["rf", "et"], ["BL"], folds=3, size=64,
                    n_components=3, log=lambda *_: None)
    assert seen == [3, 3]
    recorded = json.loads((tmp_path / "pca3" / study.PARAMETERS).read_text())
    assert recorded["n_components"] == 3 and recorded["fine_tune_turns"] == ["BLA"]
    assert "Scaler -> PCA(3) -> classifier, stratified 3-fold" in (tmp_path / "pca3" / "report.md").read_text()


def test_run_combination_scores_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    F = rng.normal(size=(120, 10)) + y[:, None] * 2.0
    records = study.run_combination(F, y, "rf", folds=3)
    assert len(records) == 3 and min(r["accuracy"] for r in records) > 0.9


def test_pretrained_lenet_is_the_shipped_network_frozen(tmp_path):
    """``lenet-pretrained`` featurizes with the default model's network as shipped: no training on the study's half."""
    from xicam.camsort.sorter import load_cached

    write_dataset(tmp_path / "data", 24, seed=3, size=128)
    shipped = load_cached().featurizer
    before = [w.copy() for w in shipped.model_.get_weights()]
    out = tmp_path / "results"
    study.run_study(tmp_path / "data", out, [study.PRETRAINED], ["rf"], ["UB"], folds=2, size=128, log=lambda *_: None)
    assert all(np.array_equal(a, b) for a, b in zip(before, shipped.model_.get_weights()))
    X, labels, groups = study._images(tmp_path / "data", out, 128)
    _, eval_idx = group_split(labels, groups, 0.5, 0)
    cached = np.load(out / "features" / f"{study.PRETRAINED}.npy")
    np.testing.assert_allclose(cached, shipped.transform(X[eval_idx]), atol=1e-5)
    assert f"| {study.PRETRAINED} | UB | rf |" in (out / "table3.md").read_text()


def test_finetuned_lenet_starts_from_the_shipped_network_and_leaves_it_unchanged(tmp_path):
    """``lenet-finetuned`` trains a copy of the shipped network on the study's half; the shipped model stays as
    it was."""
    from xicam.camsort.sorter import load_cached

    write_dataset(tmp_path / "data", 24, seed=4, size=128)
    X, labels, groups = study._images(tmp_path / "data", tmp_path / "results", 128)
    fit_idx, _ = group_split(labels, groups, 0.5, 0)
    y = np.array([TECHNIQUES.index(t) for t in labels])
    shipped = load_cached().featurizer
    before = [w.copy() for w in shipped.model_.get_weights()]
    tuned = study.fitted_featurizer(study.FINETUNED, X[fit_idx], y[fit_idx], seed=0)
    assert tuned is not shipped and tuned.learning_rate == study.FINETUNE_LEARNING_RATE
    assert tuned.augment is False and shipped.augment is True  # the study's frames as recorded
    assert study.fitted_featurizer(study.FINETUNED, X[fit_idx][:8], y[fit_idx][:8], seed=0, with_turns=True).augment
    assert len(tuned.history_["loss"]) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(before, shipped.model_.get_weights()))
    after = tuned.model_.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))  # it trained
    # it started from the shipped weights: far closer to them than a fresh network is
    fresh = study.fitted_featurizer("lenet-fast", X[fit_idx][:8], y[fit_idx][:8], seed=0).model_.get_weights()
    def distance(ws):
        return sum(float(np.abs(a - b).sum()) for a, b in zip(before, ws))
    assert distance(after) < 0.2 * distance(fresh)


def test_ensemble_finetuned_lenets_put_each_shipped_networks_features_side_by_side(tmp_path):
    """``lenet-ensemble-finetuned`` fine-tunes a copy of every network of the shipped ensemble; the
    classifier sees their FC1 features side by side, one block per network."""
    from xicam.camsort.ensemble import member_dirs
    from xicam.camsort.sorter import DEFAULT_MODEL_DIR

    write_dataset(tmp_path / "data", 16, seed=5, size=128)
    X, labels, groups = study._images(tmp_path / "data", tmp_path / "results", 128)
    fit_idx, eval_idx = group_split(labels, groups, 0.5, 0)
    y = np.array([TECHNIQUES.index(t) for t in labels])
    union = study.fitted_featurizer(study.ENSEMBLE_FINETUNED, X[fit_idx], y[fit_idx], seed=0)
    networks = member_dirs(DEFAULT_MODEL_DIR)
    assert len(networks) == 3 and [name for name, _ in union.transformer_list] == [n.name for n in networks]
    F = union.transform(X[eval_idx])
    assert F.shape == (len(eval_idx), 3 * 192) and np.isfinite(F).all()
    blocks = np.split(F, 3, axis=1)
    assert not np.allclose(blocks[0], blocks[1]) and not np.allclose(blocks[1], blocks[2])  # three networks
    assert all(len(f.history_["loss"]) >= 1 for _, f in union.transformer_list)  # each was trained further
