"""Saving labelled frames as a labelled folder: what adapt, evaluate and train read, with nothing lost."""
from __future__ import annotations

import hashlib
from pathlib import Path

import fabio
import h5py
import numpy as np
import pytest

from xicam.camsort import CLASSES
from xicam.camsort.datasets import read_labelled_folder
from xicam.camsort.errors import CamsortError
from xicam.camsort.io import read_pattern
from xicam.camsort.labelled_folder import read_record, recorded_labels, save_labelled_frames


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sources(tmp_path):
    """An EDF with its header text file, a 3-frame HDF5 stack and a file that is not a frame."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    fabio.edfimage.EdfImage(data=rng.poisson(5, (40, 50)).astype(np.int32)).write(str(src / "a.edf"))
    (src / "a.txt").write_text("Motors: 1\nSample Alpha Stage: 0.12\n")
    with h5py.File(src / "stack.h5", "w") as fh:
        fh["entry/data/data"] = rng.poisson(9, (3, 30, 30)).astype(np.uint16)
    (src / "broken.tif").write_bytes(b"not a tiff")
    return src


def test_labelled_frames_are_saved_as_a_folder_the_readers_take_and_originals_are_untouched(tmp_path, sources):
    before = {p.name: _sha(p) for p in sources.iterdir()}
    out = tmp_path / "labelled"
    edf, h5, broken = (str(sources / n) for n in ("a.edf", "stack.h5", "broken.tif"))
    labelled = [(edf, None, None, "GISAXS"), (h5, None, 0, "SAXS"), (h5, None, 2, "NOT_SCATTERING"),
                (broken, None, None, "WAXS")]
    summary = save_labelled_frames(labelled, out)
    assert (summary.written, summary.moved, summary.kept) == (3, 0, 0)
    assert len(summary.errors) == 1 and summary.errors[0].startswith(broken)
    assert _sha(out / "GISAXS" / "a.edf") == before["a.edf"]
    assert (out / "GISAXS" / "a.txt").read_text() == (sources / "a.txt").read_text()  # the header goes along
    for frame, label in ((0, "SAXS"), (2, "NOT_SCATTERING")):
        saved = read_pattern(out / label / f"stack_frame{frame:05d}.tif")
        original = read_pattern(h5, frame=frame)
        assert saved.stored.dtype == original.stored.dtype and np.array_equal(saved.stored, original.stored)
    assert {p.name: _sha(p) for p in sources.iterdir()} == before

    table = read_labelled_folder(out, CLASSES)
    assert sorted(zip((Path(p).name for p in table["path"]), table["technique"])) == [
        ("a.edf", "GISAXS"), ("stack_frame00000.tif", "SAXS"), ("stack_frame00002.tif", "NOT_SCATTERING")]
    assert read_record(out)[(h5, "", "2")]["label"] == "NOT_SCATTERING"
    assert recorded_labels(out) == {str((out / "GISAXS" / "a.edf").resolve()): "GISAXS",  # for the GUI to load
                                    str((out / "SAXS" / "stack_frame00000.tif").resolve()): "SAXS",
                                    str((out / "NOT_SCATTERING" / "stack_frame00002.tif").resolve()): "NOT_SCATTERING"}
    assert recorded_labels(sources) == {} and recorded_labels(sources / "a.edf") == {}


def test_saving_again_adds_new_frames_skips_saved_ones_and_moves_relabelled_ones(tmp_path, sources):
    out = tmp_path / "labelled"
    edf, h5 = str(sources / "a.edf"), str(sources / "stack.h5")
    save_labelled_frames([(edf, None, None, "GISAXS"), (h5, None, 1, "SAXS")], out)
    (out / "SAXS" / "someone_elses.tif").write_bytes(b"kept")
    summary = save_labelled_frames([(edf, None, None, "SAXS"), (h5, None, 1, "SAXS"), (h5, None, 2, "SAXS")], out)
    assert (summary.written, summary.moved, summary.kept, summary.errors) == (1, 1, 1, [])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "SAXS/a.edf", "SAXS/a.txt", "SAXS/someone_elses.tif", "SAXS/stack_frame00001.tif",
        "SAXS/stack_frame00002.tif", "labelled_frames.csv"]
    assert not (out / "GISAXS").exists() or not any((out / "GISAXS").iterdir())
    assert {row["label"] for row in read_record(out).values()} == {"SAXS"} and len(read_record(out)) == 3


def test_a_hand_edited_record_never_makes_saving_delete_outside_the_label_folders(tmp_path, sources):
    out = tmp_path / "labelled"
    edf = str(sources / "a.edf")
    save_labelled_frames([(edf, None, None, "GISAXS")], out)
    precious = tmp_path / "precious.edf"
    precious.write_bytes(b"keep me")
    record = (out / "labelled_frames.csv").read_text().replace("GISAXS/a.edf", "../precious.edf")
    (out / "labelled_frames.csv").write_text(record)
    assert recorded_labels(out) == {}  # a row pointing out of the label folders labels nothing
    (tmp_path / "GISAXS").mkdir()
    (tmp_path / "GISAXS" / "a.edf").write_bytes(b"elsewhere")  # nor one into another folder's label folder
    (out / "labelled_frames.csv").write_text(record.replace("../precious.edf", "../GISAXS/a.edf"))
    assert recorded_labels(out) == {}
    (out / "labelled_frames.csv").write_text(record)
    save_labelled_frames([(edf, None, None, "SAXS")], out)
    assert precious.read_bytes() == b"keep me" and (out / "SAXS" / "a.edf").is_file()


def test_an_unknown_label_or_a_file_as_the_folder_is_refused_by_name(tmp_path, sources):
    with pytest.raises(CamsortError, match="a.edf: unknown label 'SAXS '; choose one of SAXS, WAXS"):
        save_labelled_frames([(str(sources / "a.edf"), None, None, "SAXS ")], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(CamsortError, match="file: not a folder"):
        save_labelled_frames([(str(sources / "a.edf"), None, None, "SAXS")], tmp_path / "file")
