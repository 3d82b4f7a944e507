"""A fitted Sorter: calibrated decisions, a versioned model directory that round-trips and refuses tampering."""
from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

from xicam.camsort import CLASSES, NOT_SCATTERING, UNSURE
from xicam.camsort.errors import CamsortError
from xicam.camsort.sorter import Sorter
from xicam.camsort.training import simulated_set


@pytest.fixture(scope="module")
def data():
    return simulated_set(40, seed=21, size=64, negatives=40)


@pytest.fixture(scope="module")
def sorter(data):
    X, y = data
    return Sorter.train(X, y, featurizer="glcm", classifier="et", n_components=8, size=64, seed=0)


def test_decisions_are_calibrated_probabilities(sorter, data):
    X, _ = data
    out = sorter.decide(X[:20])
    for o in out:
        assert abs(sum(o["probabilities"]) - 1) < 1e-6 and len(o["probabilities"]) == len(CLASSES)
        assert o["label"] in (*CLASSES, UNSURE)
        assert (o["label"] == UNSURE) == (max(o["probabilities"]) < sorter.threshold)
        top = max(o["probabilities"])
        assert o["confidence"] == ("low" if top < sorter.threshold else "high" if top >= 0.95 else "medium")
    stats = sorter.info["calibration"]
    assert 0 <= stats["ece_after"] <= 1 and sorter.temperature > 0


def test_confidence_is_high_from_0_95_medium_when_sorted_below_and_low_when_unsure(sorter, data):
    """A frame sorted at 0.66 with the networks split is no "high" confidence outcome; above a threshold set
    beyond 0.95 every sorted frame is high."""
    X, _ = data
    images = X[:3]
    proba = np.array([[0.97, 0.01, 0.01, 0.005, 0.005], [0.66, 0.3, 0.02, 0.01, 0.01], [0.5, 0.4, 0.05, 0.03, 0.02]])
    assert [o["confidence"] for o in sorter._outcomes(proba.copy(), images)] == ["high", "medium", "low"]
    strict = copy.copy(sorter)
    strict.threshold = 0.97
    assert [o["confidence"] for o in strict._outcomes(proba.copy(), images)] == ["high", "low", "low"]


def test_blank_and_constant_images_are_not_scattering(sorter):
    blank = np.zeros((2, 64, 64), np.float32)
    blank[1] += 0.5
    assert [o["label"] for o in sorter.decide(blank)] == [NOT_SCATTERING] * 2


def test_round_trip_identical_predictions(sorter, data, tmp_path):
    X, _ = data
    sorter.save(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").rglob("*") if p.is_file())
    assert "config.json" in files and "SHA256SUMS.json" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]
    again = Sorter.load(tmp_path / "model")
    np.testing.assert_allclose(again.predict_proba(X), sorter.predict_proba(X), atol=1e-6)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format"] == "camsort-model" and config["classes"] == list(CLASSES)
    # where it came from, by the digest of its checksum manifest (what `camsort sort` records in a sorted folder)
    digest = hashlib.sha256((tmp_path / "model" / "SHA256SUMS.json").read_bytes()).hexdigest()
    assert sorter.origin is None and again.origin == {"path": str((tmp_path / "model").resolve()), "sha256": digest}


def test_tampered_model_is_refused_with_the_file_named(sorter, tmp_path):
    root = sorter.save(tmp_path / "model")
    target = root / "classifier" / "model.skops"
    target.write_bytes(target.read_bytes() + b"\0")
    with pytest.raises(CamsortError, match=r"model\.skops: checksum mismatch"):
        Sorter.load(root)


def test_save_refuses_foreign_folder(sorter, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CamsortError, match="not a camsort model"):
        sorter.save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_mirroring_sorter_averages_both_views_and_round_trips(data, tmp_path):
    """``mirror``: the raw probabilities are the mean of the image's and its mirror image's, so the answer
    cannot depend on which way the detector's image was stored left to right; the flag is saved."""
    X, y = data
    mirrored = Sorter.train(X, y, featurizer="glcm", classifier="et", n_components=8, size=64, seed=0, mirror=True)
    views = [Sorter(mirrored.featurizer, mirrored.reducer, mirrored.classifier, "et").raw_proba(v)
             for v in (X, X[:, :, ::-1])]
    np.testing.assert_allclose(mirrored.raw_proba(X), (views[0] + views[1]) / 2, atol=1e-12)
    assert not np.allclose(views[0], views[1])  # the check above is not empty
    np.testing.assert_allclose(mirrored.predict_proba(X[:, :, ::-1]), mirrored.predict_proba(X), atol=1e-12)
    assert mirrored.info["calibration"]["n_calibration"] == round(0.2 * len(y))
    again = Sorter.load(mirrored.save(tmp_path / "model"))
    assert again.mirror and json.loads((tmp_path / "model" / "config.json").read_text())["mirror"] is True
    np.testing.assert_allclose(again.predict_proba(X), mirrored.predict_proba(X), atol=1e-6)
