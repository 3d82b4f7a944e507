"""Adapting the shipped model to an instrument it misreads, with a few labelled frames of it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xicam.camsort import TECHNIQUES
from xicam.camsort.adapt import adapt, labelled_frames
from xicam.camsort.cli import EXIT_ERROR, EXIT_PARTIAL, main
from xicam.camsort.io import write_tiff
from xicam.camsort.preprocess import preprocess
from xicam.camsort.simulate import simulate
from xicam.camsort.sorter import Sorter

from tests.conftest import glowing_waxs


@pytest.fixture(scope="module")
def adapted(cnn_sorter, tmp_path_factory):
    """The shipped model adapted on 16 such frames, written to a labelled folder and read as a user's."""
    root = tmp_path_factory.mktemp("own") / "frames"
    (root / "WAXS").mkdir(parents=True)
    for seed in range(16):
        write_tiff(root / "WAXS" / f"ceo2_{seed:03d}.tif", glowing_waxs(seed))
    X, y, skipped = labelled_frames(root, cnn_sorter.size)
    assert X.shape == (16, cnn_sorter.size, cnn_sorter.size) and set(y) == {"WAXS"} and not skipped
    return adapt(cnn_sorter, X, y, simulated_per_class=60, seed=3)


def test_an_adapted_model_reads_its_instruments_frames_it_misread(cnn_sorter, adapted):
    X = np.stack([preprocess(glowing_waxs(seed), cnn_sorter.size) for seed in range(100, 116)])
    before = [o["top"] for o in cnn_sorter.decide(X)]
    after = [o["label"] for o in adapted.decide(X)]
    assert before.count("SAXS") >= 12  # the shipped model calls most of them SAXS
    assert after.count("WAXS") >= 14, after  # frames it never saw, of the same instrument


def test_adapting_keeps_the_networks_and_the_other_instruments(cnn_sorter, adapted):
    assert len(adapted.members) == len(cnn_sorter.members)
    for new, old in zip(adapted.members, cnn_sorter.members):
        assert new.featurizer is old.featurizer and new.classifier is not old.classifier
        assert new.info["adapted"]["user_frames"] == 16 and "held_out" not in new.info
    X = np.stack([preprocess(simulate(t, 500 + i, long_side=256).data, cnn_sorter.size)
                  for i in range(10) for t in TECHNIQUES])
    truth = [t for _ in range(10) for t in TECHNIQUES]
    base = np.mean([o["top"] == t for o, t in zip(cnn_sorter.decide(X), truth)])
    kept = np.mean([o["top"] == t for o, t in zip(adapted.decide(X), truth)])
    assert kept >= base - 0.1, (base, kept)
    proba = adapted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_cli_adapt_writes_a_verified_model_and_names_unreadable_files(tmp_path, capsys):
    root = tmp_path / "own"
    for technique in ("SAXS", "NOT_SCATTERING"):
        (root / technique).mkdir(parents=True)
    write_tiff(root / "SAXS" / "agb.tif", simulate("SAXS", 1, long_side=256).data)
    write_tiff(root / "NOT_SCATTERING" / "dark.tif", np.random.default_rng(0).poisson(300, (200, 180)))
    (root / "SAXS" / "broken.tif").write_text("not a frame")
    code = main(["adapt", "--data", str(root), "--out", str(tmp_path / "model"), "--simulated", "20"])
    out, err = capsys.readouterr()
    assert code == EXIT_PARTIAL and "broken.tif: not a TIFF file" in err and err.count("\n") == 1
    report = json.loads(out)
    assert report["frames"] == {"SAXS": 1, "NOT_SCATTERING": 1} and report["skipped_files"] == 1
    model = Sorter.load(tmp_path / "model")  # checksums verified
    assert model.members[0].info["adapted"]["data"] == str(root)
    assert main(["adapt", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "m2")]) == EXIT_ERROR
    assert "not a folder" in capsys.readouterr().err
    assert not Path(tmp_path / "m2").exists()
