"""Labelled folders, the paper's dataset variants, group-aware splits and the intake catalog."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort import TECHNIQUES
from xicam.camsort.datasets import (TABLE1_TRAIN, group_split, read_labelled_folder, ub_counts, variant_indices,
                                    write_dataset)
from xicam.camsort.errors import CamsortError
from xicam.camsort.io import read_pattern


def test_write_read_round_trip_and_resume(tmp_path):
    labels = write_dataset(tmp_path, 2, seed=3, size=128)
    table = read_labelled_folder(tmp_path)
    assert sorted(table["technique"]) == sorted(t for t in TECHNIQUES for _ in range(2))
    p = read_pattern(table["path"][0])
    assert max(p.shape) < 2 * 128 and p.metadata["technique"] == table["technique"][0]  # binned read-out
    before = {path: open(path, "rb").read() for path in table["path"]}
    write_dataset(tmp_path, 2, seed=3, size=128)  # resumable: existing frames kept as they are
    assert {path: open(path, "rb").read() for path in table["path"]} == before
    assert labels.name == "labels.csv" and (tmp_path / "catalog.yml").is_file()


def test_folder_names_label_real_data_without_csv(tmp_path):
    import tifffile

    for t in ("SAXS", "GIWAXS"):
        (tmp_path / t).mkdir()
        tifffile.imwrite(tmp_path / t / "x.tif", np.ones((5, 5), np.int32))
    assert sorted(read_labelled_folder(tmp_path)["technique"]) == ["GIWAXS", "SAXS"]
    with pytest.raises(CamsortError, match="no labelled frames"):
        read_labelled_folder(tmp_path / "SAXS")


def test_ub_bl_bla_proportions_as_table1():
    counts = ub_counts(2824)
    assert counts == {t: TABLE1_TRAIN[t] for t in TECHNIQUES}
    labels = np.array([t for t in TECHNIQUES for _ in range(2000)])
    ub, _ = variant_indices(labels, "UB")
    got = {t: int((labels[ub] == t).sum()) for t in TECHNIQUES}
    assert got["GISAXS"] == 2000 and abs(got["WAXS"] / got["GISAXS"] - 373 / 1756) < 0.01
    bl, turns = variant_indices(labels, "BL")
    assert {t: int((labels[bl] == t).sum()) for t in TECHNIQUES} == {t: 2000 for t in TECHNIQUES}
    bla, turns = variant_indices(labels[:1000 * 0 + 8000], "BLA")
    assert len(bla) == 4 * len(bl) and sorted(set(turns)) == [0, 1, 2, 3]


def test_group_split_never_shares_a_group():
    labels = np.array([t for t in TECHNIQUES for _ in range(30)])
    groups = np.arange(len(labels)) // 3  # three frames per sample
    train, test = group_split(labels, groups, 0.5, seed=1)
    assert not set(groups[train]) & set(groups[test])
    assert set(labels[test]) == set(TECHNIQUES)


def test_intake_catalog_opens_dataset(tmp_path):
    import intake

    write_dataset(tmp_path, 1, seed=4, size=64)
    source = intake.open_catalog(str(tmp_path / "catalog.yml")).patterns
    frame_table = source.read()
    assert list(frame_table["technique"]) == list(TECHNIQUES)
    assert source.read_partition(2).ndim == 2


def test_contact_sheet_renders_rows_and_real_frames(tmp_path):
    from xicam.camsort.cli import main
    from tests.conftest import REAL_DIR

    write_dataset(tmp_path / "data", 2, seed=6, size=128)
    out = tmp_path / "sheet.png"
    args = ["contact-sheet", str(tmp_path / "data"), "--out", str(out), "--per-class", "2"]
    assert main(args + (["--real", str(REAL_DIR)] if REAL_DIR.is_dir() else [])) == 0
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 300 and image[..., :3].std() > 0.05


def test_beamline_dataset_fixes_each_techniques_set_up(tmp_path):
    """``--beamline als733``: per technique one detector, energy, q-range and mounting; the beam sits at
    the same fraction of the frame for the transmission set-ups; samples and exposures still vary."""
    import json

    from xicam.camsort.simulate.beamlines import BEAMLINES, setup

    write_dataset(tmp_path, 3, seed=5, size=128, beamline="als733")
    table = read_labelled_folder(tmp_path)
    params = [json.loads(row) for row in _label_params(tmp_path)]
    for technique in TECHNIQUES:
        mine = [p for p, t in zip(params, table["technique"]) if t == technique]
        fixed = BEAMLINES["als733"][technique]
        assert {p["detector"].split("/")[0] for p in mine} == {fixed["detector"]}
        assert {(p["energy_kev"], p["q_max"], p["rotate"]) for p in mine} == {(10.0, fixed["q_max"], 0)}
        assert len({round(p["peak_counts"]) for p in mine}) == 3  # exposures are not fixed
        if "beam_fraction" in fixed:
            shape = read_pattern(next(p for p, t in zip(table["path"], table["technique"]) if t == technique)).shape
            assert {(round(p["beam_row"] / shape[0], 3), round(p["beam_col"] / shape[1], 3)) for p in mine} == \
                {tuple(round(f, 3) for f in fixed["beam_fraction"])}
    assert setup(None, "SAXS") == {}
    with pytest.raises(CamsortError, match="unknown beamline 'nsls'"):
        setup("nsls", "SAXS")


def test_a_detector_dataset_puts_every_frame_on_that_detector_even_one_no_training_set_holds(tmp_path):
    """``camsort simulate --detector``: held-out geometries for an honest test of a model."""
    import json

    from xicam.camsort.cli import main
    from xicam.camsort.simulate.detector import DETECTOR_WEIGHTS, UNSEEN_DETECTORS, choose_detector

    rng = np.random.default_rng(0)
    assert {choose_detector(rng).name for _ in range(2000)} == set(DETECTOR_WEIGHTS)  # never an unseen one
    assert main(["simulate", "--out", str(tmp_path / "d"), "--per-class", "2", "--seed", "1",
                 "--detector", "hypix3000"]) == 0
    table = read_labelled_folder(tmp_path / "d")
    assert sorted(table["technique"]) == sorted(t for t in TECHNIQUES for _ in range(2))
    shape = UNSEEN_DETECTORS["hypix3000"].shape  # or turned: some mounts are rotated
    assert {read_pattern(p).shape for p in table["path"]} <= {shape, shape[::-1]}
    assert {json.loads(row)["detector"] for row in _label_params(tmp_path / "d")} == {"hypix3000"}
    with pytest.raises(CamsortError, match="a beamline or a detector, not both"):
        write_dataset(tmp_path / "e", 1, seed=1, beamline="als733", detector="pilatus6m")


def _label_params(root):
    import csv

    with open(root / "labels.csv", newline="") as fh:
        return [row["params"] for row in csv.DictReader(fh)]
