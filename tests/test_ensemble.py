"""A deep ensemble trained by a recipe: seeded members, averaged probabilities, one verified model directory."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss

from xicam.camsort import CLASSES, NOT_SCATTERING, UNSURE
from xicam.camsort.calibration import apply_temperature, fit_temperature
from xicam.camsort.adapt import CALIBRATION_FRACTION, adapt, simulated_mix
from xicam.camsort.ensemble import Ensemble
from xicam.camsort.errors import CamsortError
from xicam.camsort.model_files import write_checksums
from xicam.camsort.preprocess import structure_index
from xicam.camsort.sorter import NOISE_STRUCTURE, Sorter, calibration_split, label_indices
from xicam.camsort.training import (DEFAULT_RECIPE, _held_out_frames, held_out_set, member_calibration_set,
                                    member_recipe, pooled_calibration_set, simulated_set, train_default)

RECIPE = {"per_class": 40, "seed": 31, "negatives": 20, "featurizer": "glcm", "featurizer_params": {},
          "classifier": "et", "n_components": 8, "size": 64, "held_out_per_class": 8, "members": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble") / "model"
    _held_out_frames.cache_clear()
    model, report = train_default(root, **RECIPE)
    # each member's held-out set is simulated once; the ensemble is scored on member 1's again
    assert _held_out_frames.cache_info()[:2] == (1, 2)  # (hits, misses)
    return root, model, report


@pytest.fixture
def saved(trained, tmp_path):
    """A private copy of the saved ensemble, free to be damaged by a test."""
    return trained[1].save(tmp_path / "model")


def test_recipe_trains_members_from_successive_seeds(trained):
    root, model, report = trained
    assert isinstance(model, Ensemble) and len(model.members) == 2
    assert [m.info["seed"] for m in model.members] == [31, 32]
    assert all("members" not in m.info["recipe"] and "held_out" in m.info for m in model.members)
    assert report["n"] == 4 * 8 + 4 and model.info["held_out"] is report and model.info["members"] == 2
    # 40 frames per class and texture features score native-size frames weakly, but above chance (0.22);
    # averaging probabilities never loses log-likelihood against the members' mean (the log loss is convex)
    assert report["top1_accuracy"] > 0.3
    X, y = held_out_set({**RECIPE, "seed": 31})
    truth = [CLASSES.index(label) for label in y]
    members_loss = [log_loss(truth, m.predict_proba(X), labels=range(len(CLASSES))) for m in model.members]
    assert log_loss(truth, model.raw_proba(X), labels=range(len(CLASSES))) <= np.mean(members_loss) + 1e-9
    config = json.loads((root / "config.json").read_text())
    assert config["format"] == "camsort-ensemble" and config["members"] == ["member-1", "member-2"]
    assert json.loads((root / "member-2" / "config.json").read_text())["format"] == "camsort-model"


def test_loaded_ensemble_averages_its_members(trained):
    root, model, _ = trained
    X, _ = simulated_set(6, seed=77, size=64, negatives=2)
    again = Sorter.load(root)
    assert isinstance(again, Ensemble) and again.threshold == model.threshold
    proba = again.predict_proba(X)
    assert again.temperature == model.temperature != 1.0
    mean = np.mean([m.predict_proba(X) for m in again.members], axis=0)
    np.testing.assert_allclose(proba, apply_temperature(mean, again.temperature))
    assert (proba.argmax(1) == mean.argmax(1)).all()  # a temperature never changes the top class
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-6)
    per_member = [m.predict_proba(X) for m in again.members]
    noise = structure_index(X) < NOISE_STRUCTURE  # frames that recorded no pattern: NOT_SCATTERING outright
    for i, (outcome, p) in enumerate(zip(again.decide(X), proba)):
        assert outcome["top"] == (NOT_SCATTERING if noise[i] else CLASSES[p.argmax()])
        assert (outcome["label"] == UNSURE) == (not noise[i] and p.max() < again.threshold)
        assert outcome["members"] == [(CLASSES[q[i].argmax()], pytest.approx(q[i].max())) for q in per_member]


def test_the_ensemble_fits_its_own_temperature_on_its_members_calibration_frames(trained):
    """The mean of calibrated members is calibrated once more, on every member's held-out calibration split
    (made again from its seed: the very frames each member fitted its own temperature on)."""
    model, recipe = trained[1], {**DEFAULT_RECIPE, **RECIPE}
    X, y_idx = pooled_calibration_set(recipe)
    assert len(X) == 2 * round(0.2 * (4 * 40 + 20))
    for k, member in enumerate(model.members, 1):
        Xk, yk = member_calibration_set(member_recipe(recipe, k))
        assert member.temperature == pytest.approx(fit_temperature(member.raw_proba(Xk), yk), rel=1e-6)
    mean = model.raw_proba(X)
    assert model.temperature == pytest.approx(fit_temperature(mean, y_idx), rel=1e-6)
    nll = [log_loss(y_idx, apply_temperature(mean, t), labels=range(len(CLASSES))) for t in (1.0, model.temperature)]
    assert nll[1] < nll[0]
    assert model.info["calibration"]["n_calibration"] == len(X)


def test_an_adapted_ensemble_fits_its_temperature_again_on_the_adaptations_calibration_frames(trained):
    model = trained[1]
    X_user, y_user = simulated_set(6, seed=90, size=64)
    X_sim, y_sim = simulated_mix(20, 0, 64)
    adapted = adapt(model, X_user, y_user, simulated=(X_sim, y_sim), seed=0)
    X, y_idx = np.concatenate([X_user, X_sim]), label_indices(np.concatenate([y_user, y_sim]))
    _, cal = calibration_split(y_idx, CALIBRATION_FRACTION, 0)
    assert adapted.temperature == pytest.approx(fit_temperature(adapted.raw_proba(X[cal]), y_idx[cal]), rel=1e-6)
    assert adapted.info["calibration"]["n_calibration"] == len(cal) and "held_out" not in adapted.info


def test_an_ensemble_saved_without_a_temperature_loads_with_none(saved):
    """Model folders written before ensembles had a temperature of their own load unchanged."""
    config = json.loads((saved / "config.json").read_text())
    del config["temperature"]
    (saved / "config.json").write_text(json.dumps(config))
    write_checksums(saved)
    X, _ = simulated_set(3, seed=78, size=64)
    old = Sorter.load(saved)
    assert old.temperature == 1.0
    np.testing.assert_allclose(old.predict_proba(X), np.mean([m.predict_proba(X) for m in old.members], axis=0),
                               atol=1e-6)


@pytest.mark.parametrize("where", ["", "member-2"])
@pytest.mark.parametrize("temperature", [0, -1.5, "hot", None])
def test_a_temperature_that_is_no_positive_number_is_refused(saved, where, temperature):
    config_file = saved / where / "config.json"
    config = json.loads(config_file.read_text())
    config["temperature"] = temperature
    config_file.write_text(json.dumps(config))
    write_checksums(saved / where)
    write_checksums(saved)
    with pytest.raises(CamsortError, match=rf"{where or 'model'}: temperature .* is not a positive number"):
        Sorter.load(saved)


def test_a_tampered_member_file_is_refused_with_its_path(saved):
    target = saved / "member-2" / "reducer.skops"
    target.write_bytes(target.read_bytes() + b"\0")
    with pytest.raises(CamsortError, match=r"member-2/reducer\.skops: checksum mismatch"):
        Sorter.load(saved)


def test_a_file_slipped_into_a_member_is_refused(saved):
    (saved / "member-1" / "extra.keras").write_bytes(b"PK")
    with pytest.raises(CamsortError, match=r"member-1/extra\.keras: file not listed"):
        Sorter.load(saved)


def test_members_outside_the_model_directory_are_refused(saved):
    config = json.loads((saved / "config.json").read_text())
    config["members"] = ["member-1", "../elsewhere"]
    (saved / "config.json").write_text(json.dumps(config))
    write_checksums(saved)
    with pytest.raises(CamsortError, match="not a list of sub-folder names"):
        Sorter.load(saved)


def test_an_ensemble_is_not_a_member(trained):
    model = trained[1]
    with pytest.raises(CamsortError, match="single sorters"):
        Ensemble([model.members[0], model])


def test_an_interrupted_training_resumes_with_the_members_it_finished(tmp_path, monkeypatch):
    from xicam.camsort import training

    trained_seeds = []
    real_train_member = training.train_member

    def stop_at_the_second_member(recipe):
        if trained_seeds:
            raise KeyboardInterrupt("wall-time limit")
        trained_seeds.append(recipe["seed"])
        return real_train_member(recipe)

    monkeypatch.setattr(training, "train_member", stop_at_the_second_member)
    with pytest.raises(KeyboardInterrupt):
        train_default(tmp_path / "model", **RECIPE)
    assert not (tmp_path / "model").exists() and (tmp_path / ".model.members" / "member-1" / "config.json").is_file()

    def counting(recipe):
        trained_seeds.append(recipe["seed"])
        return real_train_member(recipe)

    monkeypatch.setattr(training, "train_member", counting)
    model, _ = train_default(tmp_path / "model", **RECIPE)
    assert trained_seeds == [31, 32]  # the first member was not trained again
    assert [m.info["seed"] for m in Sorter.load(tmp_path / "model").members] == [31, 32]
    assert not (tmp_path / ".model.members").exists()


def test_a_damaged_kept_member_is_trained_again(trained, tmp_path, monkeypatch):
    from xicam.camsort import training

    kept = trained[1].members[0].save(tmp_path / ".model.members" / "member-1")
    (kept / "reducer.skops").write_bytes(b"half-written")
    seeds = []
    real_train_member = training.train_member
    monkeypatch.setattr(training, "train_member",
                        lambda recipe: seeds.append(recipe["seed"]) or real_train_member(recipe))
    train_default(tmp_path / "model", **RECIPE)
    assert seeds == [31, 32]


def test_members_trained_apart_are_assembled_without_training_them_again(tmp_path, monkeypatch, capsys):
    """One member per cluster job (``camsort train --default --member K``), then one assembly run."""
    from xicam.camsort import training
    from xicam.camsort.cli import main

    member = training.train_default_member(2, tmp_path / "model", **RECIPE)
    assert member.info["seed"] == 32 and (tmp_path / ".model.members" / "member-2" / "config.json").is_file()
    seeds = []
    real_train_member = training.train_member
    monkeypatch.setattr(training, "train_member",
                        lambda recipe: seeds.append(recipe["seed"]) or real_train_member(recipe))
    model, _ = train_default(tmp_path / "model", **RECIPE)
    assert seeds == [31] and [m.info["seed"] for m in model.members] == [31, 32]
    with pytest.raises(CamsortError, match="member 3 does not exist: the recipe has members 1 to 2"):
        training.train_default_member(3, tmp_path / "model", **RECIPE)
    assert main(["train", "--simulate", "4", "--member", "1", "--out", str(tmp_path / "x")]) == 1
    assert "--member K needs --default" in capsys.readouterr().err
