"""Non-scattering images: every kind is drawn, reproducibly, as finite non-negative 2-D frames, and as
detectors would record them; `camsort train` takes and records how many are laid out so."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort.cli import main
from xicam.camsort.negatives import KINDS, not_scattering_batch
from xicam.camsort.sorter import Sorter


def test_every_kind_reproducible_and_valid():
    a, b = not_scattering_batch(len(KINDS), seed=5), not_scattering_batch(len(KINDS), seed=5)
    assert len(a) == len(KINDS)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        assert x.ndim == 2 and min(x.shape) >= 200 and np.isfinite(x).all() and x.min() >= 0
    assert not np.array_equal(a[2], not_scattering_batch(len(KINDS), seed=6)[2])


def test_negatives_laid_out_on_detectors_carry_their_module_gaps():
    """Training negatives on binned detector layouts: not every gap-free non-square image is a negative."""
    from xicam.camsort.simulate.detector import DETECTORS, binned

    placed = not_scattering_batch(28, seed=5, on_detectors=1.0, long_side=300)
    layouts = {}
    for det in DETECTORS.values():
        det = binned(det, max(1, max(det.shape) // 300))
        layouts[det.shape] = det
    with_gaps = 0
    for after in placed:
        assert after.shape in layouts, f"{after.shape} is no binned training detector"
        gaps = layouts[after.shape].gap_mask()
        if gaps.any():
            assert len(np.unique(after[gaps])) == 1 and after[gaps][0] in (-1, 0)
            with_gaps += 1
        assert np.isfinite(after).all() and after[~gaps].min() >= 0
    assert with_gaps >= 10  # Pilatus and Eiger layouts dominate the draw, as in training frames
    half = not_scattering_batch(200, seed=5, on_detectors=0.5)
    moved = sum(not np.array_equal(a, b) for a, b in zip(not_scattering_batch(200, seed=5), half))
    assert 70 <= moved <= 130


def test_cli_train_takes_the_training_set_shares_and_records_them(tmp_path, capsys):
    out = tmp_path / "model"
    args = ["train", "--simulate", "12", "--featurizer", "hist", "--classifier", "rf", "--components", "4",
            "--size", "64", "--negatives", "8", "--out", str(out)]
    assert main(args + ["--roi-share", "0.3", "--negatives-on-detectors", "1"]) == 0
    model = Sorter.load(out)
    assert model.info["roi_share"] == 0.3 and model.info["negatives_on_detectors"] == 1.0
    assert model.mirror  # as the shipped model: each frame and its mirror image
    assert main(args[:-1] + [str(tmp_path / "single"), "--no-mirror"]) == 0
    assert not Sorter.load(tmp_path / "single").mirror
    with pytest.raises(SystemExit) as exit_:
        main(args + ["--roi-share", "1.5"])
    assert exit_.value.code == 2 and "a probability in [0, 1] is needed, not '1.5'" in capsys.readouterr().err
