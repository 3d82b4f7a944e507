"""The sort job's guarantees, whatever the model: lossless, never overwriting, resumable, batch-tolerant.

The model here is a deterministic test double (label by a pixel statistic) so that each assertion
is about the job; the default model's accuracy is tested in test_default_model.py.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import fabio
import h5py
import numpy as np
import pytest
import tifffile

from xicam.camsort import CLASSES, TECHNIQUES, manifest, sortjob
from xicam.camsort.errors import CamsortError
from xicam.camsort.sortjob import SortJob, SortSummary, sort_frames


class ByQuadrantSorter:
    """Labels an image by which quadrant is brightest (deterministic, fast, model-free)."""

    size = 32
    threshold = 0.5

    def __init__(self):
        self.calls = 0

    def decide(self, X):
        self.calls += len(X)
        q = np.stack([X[:, :16, :16].mean((1, 2)), X[:, :16, 16:].mean((1, 2)),
                      X[:, 16:, :16].mean((1, 2)), X[:, 16:, 16:].mean((1, 2))], 1)
        out = []
        for row, img in zip(q, X):
            p = np.zeros(len(CLASSES))
            if np.ptp(img) < 0.02:
                p[-1] = 1.0
            else:
                p[int(row.argmax())] = 1.0
            label = CLASSES[int(p.argmax())]
            out.append({"label": label, "probabilities": p.tolist(), "confidence": "high", "top": label})
        return out

    def reconsider(self, outcomes, odds):
        """Its outcomes are certain: what headers say changes none of them."""
        return outcomes


def _frame(quadrant: int, shape=(60, 50), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.poisson(2, shape).astype(np.int32)
    h, w = shape[0] // 2, shape[1] // 2
    r, c = divmod(quadrant, 2)
    img[r * h:(r + 1) * h, c * w:(c + 1) * w] += 500
    return img


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corpus(root: Path) -> dict[str, str]:
    """A folder of good frames (each technique) and every kind of bad input; returns name -> expected."""
    root.mkdir()
    expected = {}
    for q, t in enumerate(TECHNIQUES):
        tifffile.imwrite(root / f"good_{t}.tif", _frame(q, seed=q))
        expected[f"good_{t}.tif"] = t
    np.save(root / "dup_a.npy", _frame(1, seed=9))
    np.save(root / "dup_b.npy", _frame(1, seed=9))  # same content, other name
    expected.update({"dup_a.npy": "WAXS", "dup_b.npy": "WAXS"})
    with h5py.File(root / "scan.h5", "w") as fh:
        fh["entry/data"] = np.stack([_frame(2, seed=5), _frame(3, seed=6)])
    expected["scan.h5#0"], expected["scan.h5#1"] = "GISAXS", "GIWAXS"
    np.save(root / "constant.npy", np.full((40, 40), 7, np.int32))
    expected["constant.npy"] = "NOT_SCATTERING"
    np.save(root / "big.npy", np.zeros((8000, 8000), np.uint8))
    expected["big.npy"] = "NOT_SCATTERING"
    (root / "zero.tif").write_bytes(b"")
    (root / "text.tif").write_text("hello")
    blob = (root / "good_SAXS.tif").read_bytes()
    (root / "truncated.tif").write_bytes(blob[: len(blob) // 2])
    tifffile.imwrite(root / "rgb.tif", np.zeros((40, 50, 3), np.uint8), photometric="rgb")
    np.save(root / "complex.npy", np.ones((20, 20), np.complex64))
    np.save(root / "nan.npy", np.full((20, 20), np.nan, np.float32))
    np.save(root / "pixel.npy", np.ones((1, 1), np.int32))
    tifffile.imwrite(root / "wrongext.edf", _frame(0, seed=11))  # a TIFF named .edf
    expected["wrongext.edf"] = "SAXS"
    for bad in ("zero.tif", "text.tif", "truncated.tif", "rgb.tif", "complex.npy", "nan.npy", "pixel.npy"):
        expected[bad] = "ERROR"
    return expected


def _outcomes(out: Path) -> dict[str, dict[str, str]]:
    rows = manifest.read(out / "manifest.csv")
    return {Path(src).name + (f"#{frame}" if frame else ""): row for (src, frame), row in rows.items()}


def test_corpus_sorted_losslessly_with_named_errors(tmp_path, capsys):
    src = tmp_path / "in"
    expected = _corpus(src)
    before = {p.name: _sha(p) for p in src.iterdir()}
    out = tmp_path / "out"
    summary = sort_frames([src], out, ByQuadrantSorter(), progress=False, batch_size=4)
    rows = _outcomes(out)
    assert {k: r["technique"] for k, r in rows.items()} == expected
    for name, row in rows.items():
        if row["technique"] == "ERROR":
            assert row["error"] and not row["output"], name
        else:
            assert Path(row["output"]).is_file() and row["error"] == "", name
            assert Path(row["output"]).parent.name == row["technique"]
    assert "empty file" in rows["zero.tif"]["error"] and "RGB" in rows["rgb.tif"]["error"]
    assert len(summary.errors) == 7 and summary.counts["WAXS"] == 3
    # originals byte-identical; copies identical to their source; frames of a stack written as TIFF
    assert {p.name: _sha(p) for p in src.iterdir()} == before
    assert _sha(Path(rows["good_GISAXS.tif"]["output"])) == before["good_GISAXS.tif"]
    np.testing.assert_array_equal(tifffile.imread(rows["scan.h5#1"]["output"]), _frame(3, seed=6))
    assert rows["dup_a.npy"]["sha256"] == rows["dup_b.npy"]["sha256"] == before["dup_a.npy"]


def test_an_input_in_the_output_folder_is_refused_with_the_reason(tmp_path):
    """Files in the output folder are its outputs, never sorted: ``sort IN --out IN`` said "no frame files in IN"
    (they were all there), sorting ``OUT/UNSURE`` into ``OUT`` again the same, and ``watch IN --out IN`` waited
    for ever in silence. A parent folder sorted with the output folder inside it still sorts the rest."""
    from xicam.camsort.watch import watch

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "good.tif", _frame(2))
    with pytest.raises(CamsortError) as same:
        sort_frames([src], src, ByQuadrantSorter(), progress=False)
    assert str(same.value) == (f"{src}: is the output folder, whose files are its outputs and never sorted; give "
                               "--out a folder outside the input")
    assert sort_frames([src], src / "sorted", ByQuadrantSorter(), progress=False, recursive=True).sorted == 1
    with pytest.raises(CamsortError, match=r"GISAXS: lies in the output folder .*sorted, whose files are its outputs"):
        sort_frames([src / "sorted" / "GISAXS"], src / "sorted", ByQuadrantSorter(), progress=False)
    with pytest.raises(CamsortError, match=r"in: is the output folder"):
        watch([src], src, ByQuadrantSorter(), stop=lambda: True)
    assert sorted(p.name for p in src.iterdir()) == ["good.tif", "sorted"]


def test_a_mistyped_input_leaves_nothing_behind_and_one_missing_file_of_a_list_is_its_error_row(tmp_path):
    """``sort /data/rn42 --out OUT`` (a typo) made OUT with one error row; it now stops before OUT is made, as a
    folder without frames does. A missing file among others is still an error of its own and the rest sorted."""
    tifffile.imwrite(tmp_path / "good.tif", _frame(1))
    with pytest.raises(CamsortError) as typo:
        sort_frames([tmp_path / "rn42"], tmp_path / "out", ByQuadrantSorter(), progress=False)
    assert str(typo.value) == f"{tmp_path / 'rn42'}: no such file or folder" and not (tmp_path / "out").exists()
    summary = sort_frames([tmp_path / "gone.tif", tmp_path / "good.tif"], tmp_path / "out", ByQuadrantSorter(),
                          progress=False)
    assert summary.sorted == 1 and len(summary.errors) == 1 and "gone.tif" in summary.errors[0]


def test_a_named_pipe_given_as_an_input_is_an_error_row_and_the_batch_goes_on(tmp_path):
    """A named pipe among the inputs hung the sort in the source's checksum (opening it waits for a writer)."""
    import threading

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "good.tif", _frame(2))
    os.mkfifo(src / "pipe.tif")
    ended: list = []
    run = threading.Thread(target=lambda: ended.append(sort_frames([src / "pipe.tif", src / "good.tif"],
                                                                   tmp_path / "out", ByQuadrantSorter(),
                                                                   progress=False)), daemon=True)
    run.start()
    run.join(120)
    assert ended, "the sort did not end"
    rows = _outcomes(tmp_path / "out")
    assert rows["pipe.tif"]["error"] == "not a regular file but a named pipe (FIFO), not a frame"
    assert rows["good.tif"]["technique"] == "GISAXS" and ended[0].errors == [
        f"{src / 'pipe.tif'}: not a regular file but a named pipe (FIFO), not a frame"]


def test_frames_of_an_eiger_master_file_are_written_as_the_detector_wrote_them(tmp_path):
    """Masked pixels read as NaN (so preprocessing ignores them), yet the TIFF written for each frame
    holds the detector's own values, gaps at 2**32 - 1 included."""
    src = tmp_path / "in"
    src.mkdir()
    stack = np.stack([_frame(0, seed=1), _frame(3, seed=2)]).astype(np.uint32)
    stack[:, 30] = 2**32 - 1  # a module gap
    with h5py.File(src / "run_data_000001.h5", "w") as fh:
        fh["entry/data/data"] = stack
    with h5py.File(src / "run_master.h5", "w") as fh:
        fh["entry/data/data_000001"] = h5py.ExternalLink("run_data_000001.h5", "/entry/data/data")
        fh["entry/instrument/detector/detectorSpecific/pixel_mask"] = (stack[0] == 2**32 - 1).astype(np.uint32)
    sort_frames([src / "run_master.h5"], tmp_path / "out", ByQuadrantSorter(), progress=False)
    rows = _outcomes(tmp_path / "out")
    assert [rows[f"run_master.h5#{i}"]["technique"] for i in (0, 1)] == ["SAXS", "GIWAXS"]
    for i in (0, 1):
        written = tifffile.imread(rows[f"run_master.h5#{i}"]["output"])
        assert written.dtype == np.uint32
        np.testing.assert_array_equal(written, stack[i])


def test_frames_of_a_stack_are_written_with_the_values_the_file_holds(tmp_path):
    """A CCD's zeros outside its face are fill (NaN when read), but the frame written out keeps them as 0."""
    src = tmp_path / "in"
    src.mkdir()
    stack = np.stack([_frame(0, seed=1), _frame(3, seed=2)]).clip(0).astype(np.uint16) + 300
    stack[:, :, :8] = 0  # blank outside the corrected face
    with h5py.File(src / "ccd.h5", "w") as fh:
        fh["entry/data/data"] = stack
    sort_frames([src / "ccd.h5"], tmp_path / "out", ByQuadrantSorter(), progress=False)
    rows = _outcomes(tmp_path / "out")
    for i in (0, 1):
        written = tifffile.imread(rows[f"ccd.h5#{i}"]["output"])
        assert written.dtype == np.uint16
        np.testing.assert_array_equal(written, stack[i])


def test_all_detectors_sorts_each_detector_of_one_file_into_its_own_folder(tmp_path, monkeypatch):
    """NSLS-II LiX writes a SAXS and a WAXS detector into one HDF5 file. A plain sort takes the file's
    default frames and says what it left; ``all_detectors`` then sorts only the other detector's
    frames, as TIFFs of the values the file holds, and a third run has nothing left to do."""
    src = tmp_path / "in"
    src.mkdir()
    waxs = np.stack([_frame(1, shape=(70, 66), seed=3), _frame(3, shape=(70, 66), seed=4)]).astype(np.uint32)
    waxs[:, 20] = 2**32 - 1  # a module gap: written back as the file holds it
    with h5py.File(src / "lix.h5", "w") as fh:
        fh["scan/primary/data/pil1M_image"] = _frame(0, shape=(90, 80), seed=2)[None]
        fh["scan/primary/data/pilW2_image"] = waxs
    tifffile.imwrite(src / "single.tif", _frame(2, seed=8))  # no other detectors: skipped unread once done
    before = _sha(src / "lix.h5")
    out = tmp_path / "out"
    plain = sort_frames([src], out, ByQuadrantSorter(), progress=False)
    assert plain.sorted == 2 and plain.other_detectors == {str(src / "lix.h5"): ["scan/primary/data/pilW2_image"]}
    assert any("--all-detectors" in line and "pilW2_image" in line for line in plain.lines())
    assert _sha(out / "SAXS" / "lix.h5") == before  # the file goes with its default frames
    hashed = []
    monkeypatch.setattr(sortjob, "sha256_file", lambda path: hashed.append(Path(path).name) or _sha(Path(path)))
    second = ByQuadrantSorter()
    summary = sort_frames([src], out, second, progress=False, all_detectors=True)
    assert second.calls == 2 and summary.skipped == 2 and not summary.other_detectors
    assert hashed == ["lix.h5"]  # only the HDF5 file is opened again
    rows = _outcomes(out)
    assert rows["lix.h5"]["technique"] == "SAXS"
    for i, technique in enumerate(("WAXS", "GIWAXS")):
        row = rows[f"lix.h5#scan/primary/data/pilW2_image[{i}]"]
        assert row["technique"] == technique and row["sha256"] == before
        assert Path(row["output"]) == out / technique / f"lix_pilW2_image_frame{i:05d}.tif"
        np.testing.assert_array_equal(tifffile.imread(row["output"]), waxs[i])
    third = ByQuadrantSorter()
    assert sort_frames([src], out, third, progress=False, all_detectors=True).sorted == 0 and third.calls == 0
    assert _sha(src / "lix.h5") == before
    many = SortSummary(other_detectors={"/data/scan.h5": [f"images/{i}" for i in range(21)]}).lines()
    assert any("images/0, images/1, images/2, ... (21 datasets)" in line for line in many)


def _write_edf_stack(path: Path, frames: list[np.ndarray]) -> None:
    from fabio.edfimage import EdfImage

    edf = EdfImage(data=frames[0])
    for frame in frames[1:]:
        edf.append_frame(data=frame)
    edf.write(str(path))


def _write_tiff_stack(path: Path, frames: list[np.ndarray]) -> None:
    tifffile.imwrite(path, np.stack(frames), compression="zlib")  # one page per frame


@pytest.mark.parametrize("name, write", [("scan.edf", _write_edf_stack), ("scan.tif", _write_tiff_stack)])
def test_a_long_multi_frame_edf_or_tiff_is_read_in_parts_too(tmp_path, monkeypatch, name, write):
    """ESRF-style multi-frame EDF, multi-page TIFF: a large one (here any, the size limit lowered) goes
    through the job in parts of 32 and 8 frames, each sorted as before and read from the file page by page."""
    from xicam.camsort import io
    from xicam.camsort.sortjob import _Loader, _Split

    monkeypatch.setattr(sortjob, "LARGE_STACK_FILE", 0)
    src = tmp_path / "in"
    src.mkdir()
    quadrants = [i % 4 for i in range(40)]
    write(src / name, [_frame(q, seed=i) for i, q in enumerate(quadrants)])
    split = _Loader(set(), 32)(src / name)
    assert isinstance(split, _Split) and [(t.start, t.stop) for t in split.parts] == [(0, 32), (32, 40)]
    with io.open_frames(src / name) as frames:
        assert isinstance(frames.stack, io._LazyStack) and frames.nframes == 40
    summary = sort_frames([src], tmp_path / "out", ByQuadrantSorter(), progress=False)
    rows = _outcomes(tmp_path / "out")
    assert summary.sorted == 40 and [rows[f"{name}#{i}"]["technique"] for i in range(40)] == \
        [TECHNIQUES[q] for q in quadrants]
    np.testing.assert_array_equal(tifffile.imread(rows[f"{name}#39"]["output"]), _frame(quadrants[39], seed=39))


def test_the_summary_gives_the_best_guesses_of_the_unsure_frames(tmp_path):
    """What the frames set aside as UNSURE most probably are, counted from their manifest rows."""
    unsure = [dict.fromkeys(("p_SAXS", "p_WAXS", "p_GISAXS", "p_GIWAXS", "p_NOT_SCATTERING"), "0.1") for _ in range(3)]
    for row, top in zip(unsure, ("p_WAXS", "p_WAXS", "p_SAXS")):
        row.update({"source": str(tmp_path / f"{top}.tif"), "frame": "", "technique": "UNSURE", top: "0.55"})
    (tmp_path / "a.tif").touch()  # listed; the rows are recorded by hand
    with SortJob([tmp_path / "a.tif"], tmp_path / "out", mode="manifest-only") as job:
        job.record(unsure + [{"source": str(tmp_path / "a.tif"), "frame": "", "technique": "SAXS", "p_SAXS": "0.9"}])
    assert "  UNSURE         3 (best guesses: WAXS 2, SAXS 1)" in job.summary.lines()


def test_rerun_does_only_missing_work_and_never_overwrites(tmp_path):
    src = tmp_path / "in"
    _corpus(src)
    out = tmp_path / "out"
    (out / "SAXS").mkdir(parents=True)
    squatter = out / "SAXS" / "good_SAXS.tif"
    squatter.write_bytes(b"someone else's file")
    first = ByQuadrantSorter()
    sort_frames([src], out, first, progress=False)
    assert squatter.read_bytes() == b"someone else's file"
    assert _outcomes(out)["good_SAXS.tif"]["output"].endswith("good_SAXS_1.tif")
    listing = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    second = ByQuadrantSorter()
    summary = sort_frames([src], out, second, progress=False)
    assert second.calls == 0 and summary.sorted == 0 and summary.skipped == 11  # frames
    assert len(summary.errors) == 7  # failed files are retried, and fail again
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == listing
    # a new file is the only work of a third run
    tifffile.imwrite(src / "late.tif", _frame(2, seed=42))
    third = ByQuadrantSorter()
    sort_frames([src], out, third, progress=False)
    assert third.calls == 1 and _outcomes(out)["late.tif"]["technique"] == "GISAXS"
    # a run that only adds frames (a pass of watch) appends their rows: a long manifest is not rewritten
    tifffile.imwrite(src / "later.tif", _frame(3, seed=43))
    before, inode = (out / "manifest.csv").read_bytes(), (out / "manifest.csv").stat().st_ino
    sort_frames([src / "later.tif"], out, ByQuadrantSorter(), progress=False)
    assert _outcomes(out)["later.tif"]["technique"] == "GIWAXS"
    assert (out / "manifest.csv").stat().st_ino == inode and (out / "manifest.csv").read_bytes().startswith(before)


def test_a_file_rewritten_since_it_was_sorted_is_sorted_again_and_its_earlier_output_kept(tmp_path):
    """Detectors and users reuse file names: a re-run (or ``watch``) sorts a rewritten file's new content, keeps
    the copy of its earlier content and both rows; a file only touched is read again and recognised."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0, seed=1))
    tifffile.imwrite(src / "b.tif", _frame(3, seed=2))
    tifffile.imwrite(src / "c.tif", _frame(2, seed=3))
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    earlier = _sha(src / "a.tif")
    listing = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tif"))
    mtime = (src / "a.tif").stat().st_mtime_ns
    tifffile.imwrite(src / "a.tif", _frame(1, seed=4))  # same name, a WAXS frame now
    os.utime(src / "a.tif", ns=(mtime, mtime + 10**9))  # a clock that ticks coarser than the test
    os.utime(src / "b.tif", ns=(mtime, mtime + 10**9))  # touched, same bytes
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, progress=False)
    assert again.calls == 2 and summary.changed == 2 and summary.skipped == 1
    assert "2 file(s) changed since an earlier run sorted them: sorted again" in "\n".join(summary.lines())
    assert _sha(out / "SAXS" / "a.tif") == earlier and _sha(out / "WAXS" / "a.tif") == _sha(src / "a.tif")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tif")) == sorted(listing + ["WAXS/a.tif"])
    rows = list(manifest._rows(out / "manifest.csv"))
    assert [(Path(r["source"]).name, r["technique"], r["sha256"]) for r in rows if r["source"].endswith("a.tif")] \
        == [("a.tif", "SAXS", earlier), ("a.tif", "WAXS", _sha(src / "a.tif"))]
    assert len(rows) == 4 and all(manifest.recorded_signature(r) == manifest.signature(r["source"])
                                  for r in rows if r["sha256"] == _sha(Path(r["source"])))
    third = ByQuadrantSorter()
    assert sort_frames([src], out, third, progress=False).changed == 0 and third.calls == 0


def test_a_stack_that_grew_since_it_was_sorted_has_only_its_new_frames_sorted(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    frames = [_frame(q, seed=q) for q in (0, 1, 2)]
    with h5py.File(src / "series.h5", "w") as fh:
        fh.create_dataset("entry/data", data=np.stack(frames[:2]), maxshape=(None, 60, 50))
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    with h5py.File(src / "series.h5", "a") as fh:  # the detector writes a third frame
        fh["entry/data"].resize(3, axis=0)
        fh["entry/data"][2] = frames[2]
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, progress=False)
    assert again.calls == 1 and summary.changed == 0 and summary.counts == {"GISAXS": 1}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tif")) == [
        "GISAXS/series_frame00002.tif", "SAXS/series_frame00000.tif", "WAXS/series_frame00001.tif"]


def test_a_stack_rewritten_since_it_was_sorted_has_all_its_frames_sorted_again(tmp_path):
    """A series file written again under its name (a scan repeated) holds new frames where the sorted ones were:
    unlike a series that grew, every frame is sorted again, beside the earlier frames' outputs; a stack only
    touched is read again and its outputs recognised."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "scan.tif", np.stack([_frame(0, seed=1), _frame(1, seed=2)]))
    tifffile.imwrite(src / "touched.tif", np.stack([_frame(2, seed=3), _frame(3, seed=4)]))
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    mtime = (src / "scan.tif").stat().st_mtime_ns
    size = (src / "scan.tif").stat().st_size
    tifffile.imwrite(src / "scan.tif", np.stack([_frame(3, seed=5), _frame(2, seed=6)]))  # the scan repeated
    assert (src / "scan.tif").stat().st_size == size
    for name in ("scan.tif", "touched.tif"):
        os.utime(src / name, ns=(mtime, mtime + 10**9))
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, progress=False)
    assert again.calls == 4 and summary.changed == 2 and summary.counts == {"GIWAXS": 2, "GISAXS": 2}
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tif")) == [
        "GISAXS/scan_frame00001.tif", "GISAXS/touched_frame00000.tif", "GIWAXS/scan_frame00000.tif",
        "GIWAXS/touched_frame00001.tif", "SAXS/scan_frame00000.tif", "WAXS/scan_frame00001.tif"]
    assert [r["technique"] for r in manifest._rows(out / "manifest.csv") if r["source"].endswith("scan.tif")] \
        == ["SAXS", "GIWAXS", "WAXS", "GISAXS"]  # each frame's earlier content and its new one
    third = ByQuadrantSorter()
    assert sort_frames([src], out, third, progress=False).changed == 0 and third.calls == 0


def test_an_output_folder_with_a_manifest_camsort_did_not_write_is_refused_untouched(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    (out / "manifest.csv").write_text("sample,notes\nA,my notes\n")
    sorter = ByQuadrantSorter()
    with pytest.raises(CamsortError, match=f"{out / 'manifest.csv'}: not a camsort manifest"):
        sort_frames([src], out, sorter, progress=False)
    assert sorter.calls == 0 and [p.name for p in out.iterdir()] == ["manifest.csv"]
    assert (out / "manifest.csv").read_text() == "sample,notes\nA,my notes\n"


def test_a_file_named_twice_or_reached_twice_is_sorted_once(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    (src / "link.tif").symlink_to(src / "a.tif")
    sorter = ByQuadrantSorter()
    summary = sort_frames([src / "a.tif", src / "a.tif", src], out, sorter, progress=False)
    assert sorter.calls == 1 and summary.sorted == 1 and len(manifest.read(out / "manifest.csv")) == 1


def test_file_names_that_are_not_utf8_or_hold_commas_quotes_and_newlines_are_sorted_and_resumed(tmp_path):
    """A Latin-1 name from an old share (bytes that are not UTF-8) crashed the run at its manifest row."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    latin1 = Path(os.fsdecode(os.fsencode(src) + b"/caf\xe9_frame.tif"))
    odd = src / 'a,"b"\nc.tif'
    tifffile.imwrite(latin1, _frame(0))
    tifffile.imwrite(odd, _frame(1))
    summary = sort_frames([src], out, ByQuadrantSorter(), progress=False)
    assert summary.sorted == 2 and not summary.errors
    rows = manifest.read(out / "manifest.csv")
    assert {Path(k[0]).name for k in rows} == {latin1.name, odd.name}
    assert _sha(out / "SAXS" / latin1.name) == _sha(latin1) and _sha(out / "WAXS" / odd.name) == _sha(odd)
    assert b"caf\xe9_frame.tif" in (out / "manifest.csv").read_bytes()  # the very bytes of the name
    again = ByQuadrantSorter()
    assert sort_frames([src], out, again, progress=False).skipped == 2 and again.calls == 0


def test_files_whose_names_are_near_the_length_limit_are_sorted(tmp_path):
    """A 250-byte name (the limit is 255) failed: the temporary ``.NAME.PID.part`` beside the output was too long."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    whole, stack = src / ("é" * 123 + ".tif"), src / ("s" * 247 + ".h5")  # 250 bytes each
    tifffile.imwrite(whole, _frame(0))
    with h5py.File(stack, "w") as fh:
        fh["entry/data"] = np.stack([_frame(2, seed=5), _frame(3, seed=6)])
    summary = sort_frames([src], out, ByQuadrantSorter(), progress=False)
    assert summary.sorted == 3 and not summary.errors
    assert _sha(out / "SAXS" / whole.name) == _sha(whole)
    frames = sorted(p.name for p in out.rglob("*_frame*.tif"))
    assert [n[-15:] for n in frames] == ["_frame00000.tif", "_frame00001.tif"]
    assert all(len(os.fsencode(n)) <= 255 - len("_9999") for n in frames) and not list(out.rglob("*.part"))


def test_headerless_raw_frames_of_a_shape_their_size_does_not_tell_are_sorted_with_the_shape_given(tmp_path):
    from xicam.camsort.operations import read_frames

    src = tmp_path / "in"
    src.mkdir()
    _frame(2, shape=(70, 50)).astype("<i4").tofile(src / "odd.raw")  # no detector is 70x50
    summary = sort_frames([src], tmp_path / "out", ByQuadrantSorter(), progress=False)
    assert (summary.sorted == 0
            and "odd.raw: headerless .raw of 14000 bytes matches no known detector" in summary.errors[0])
    summary = sort_frames([src], tmp_path / "out", ByQuadrantSorter(), progress=False, shape=(70, 50))
    assert summary.counts == {"GISAXS": 1}  # the failed frame is retried, with the shape
    read = read_frames()._func  # the Read frames operation of camsort run sort, given --shape as text
    items = read([str(src / "odd.raw")], raw_shape="70x50")
    assert items[0].pattern.data.shape == (70, 50) and not items[0].error
    with pytest.raises(CamsortError, match="raw_shape: shape must look like ROWSxCOLS"):
        read([str(src / "odd.raw")], raw_shape="70 by 50")


def test_an_output_that_is_a_file_or_cannot_be_made_is_refused_with_a_clear_error(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _frame(0))
    (tmp_path / "out").write_bytes(b"mine")
    with pytest.raises(CamsortError, match="out: exists and is not a folder"):
        sort_frames([tmp_path / "a.tif"], tmp_path / "out", ByQuadrantSorter(), progress=False)
    with pytest.raises(CamsortError, match="out/sorted: cannot sort into it \\(Not a directory\\)"):
        sort_frames([tmp_path / "a.tif"], tmp_path / "out" / "sorted", ByQuadrantSorter(), progress=False)
    assert (tmp_path / "out").read_bytes() == b"mine"


def test_an_output_folder_without_room_for_its_settings_is_refused_with_a_clear_error(tmp_path, monkeypatch):
    import errno

    from xicam.camsort import sort_settings

    def full(*args, **kwargs) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    tifffile.imwrite(tmp_path / "a.tif", _frame(0))
    monkeypatch.setattr(sort_settings, "write_json_atomic", full)
    with pytest.raises(CamsortError, match=r"out: cannot sort into it \(No space left on device\)$"):
        SortJob([tmp_path / "a.tif"], tmp_path / "out", settings={"mode": "copy"})
    monkeypatch.undo()
    assert SortJob([tmp_path / "a.tif"], tmp_path / "out", settings={"mode": "copy"}).pending()  # not left locked


def test_link_mode_across_file_systems_is_refused_before_it_starts(tmp_path):
    """Hard links cannot cross file systems: one clear refusal instead of an error for every frame."""
    import errno
    import tempfile

    assert "hard links cannot cross file systems" in sortjob.write_error(
        OSError(errno.EXDEV, "Invalid cross-device link"))
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system (/dev/shm)")
    tifffile.imwrite(tmp_path / "a.tif", _frame(0))
    with tempfile.TemporaryDirectory(dir="/dev/shm") as elsewhere:
        out = Path(elsewhere) / "out"
        sorter = ByQuadrantSorter()
        with pytest.raises(CamsortError, match=r"--mode link: .*a\.tif is on another file system than .*--mode copy"):
            sort_frames([tmp_path / "a.tif"], out, sorter, mode="link", progress=False)
        assert sorter.calls == 0 and not (out / "manifest.csv").exists() and not (out / "sort_settings.json").exists()
        assert sort_frames([tmp_path / "a.tif"], out, sorter, mode="symlink", progress=False).sorted == 1


def _names_once_sorted(out: Path, rows: int = 1, seconds: float = 30) -> list[str]:
    """The names of the files in ``out``'s manifest, once a watch running beside the test has written ``rows``
    rows."""
    import time

    deadline = time.time() + seconds
    while time.time() < deadline and len(manifest.read(out / "manifest.csv")) < rows:
        time.sleep(0.05)
    return [Path(k[0]).name for k in manifest.read(out / "manifest.csv")]


def test_one_run_at_a_time_writes_into_a_folder_and_watch_waits_for_its_turn(tmp_path):
    """Two runs into one folder would interleave their manifests and lose rows when one compacts it."""
    import threading
    import time

    from xicam.camsort.folder_lock import FolderBusy
    from xicam.camsort.watch import watch

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    with SortJob([src], out):
        sorter = ByQuadrantSorter()
        with pytest.raises(FolderBusy, match=rf"{out} is being sorted by another camsort run \(pid {os.getpid()} on "):
            sort_frames([src], out, sorter, progress=False)
        assert sorter.calls == 0
        told, stop = [], threading.Event()
        thread = threading.Thread(target=watch, args=([src], out, ByQuadrantSorter()),
                                  kwargs={"settle": 0.1, "interval": 0.05, "stop": stop.is_set, "on_busy": told.append})
        thread.start()
        time.sleep(1.0)
        assert len(told) == 1 and "is being sorted by another camsort run" in told[0]
        assert not manifest.read(out / "manifest.csv")
    try:  # the first run is over: watch sorts the file at its next poll
        assert _names_once_sorted(out) == ["a.tif"]
    finally:
        stop.set()
        thread.join(30)
    assert sort_frames([src], out, ByQuadrantSorter(), progress=False).skipped == 1


@contextlib.contextmanager
def _watching(src: Path, out: Path, **options):
    """A ``camsort watch`` of ``src`` into ``out`` (with ``watch``'s ``options``) running beside the test; yields
    the list of what it said it waits for, and checks that it stops."""
    import threading

    from xicam.camsort.watch import watch

    told, stop = [], threading.Event()
    thread = threading.Thread(target=watch, args=([src], out, ByQuadrantSorter()),
                              kwargs={"settle": 0.1, "interval": 0.05, "stop": stop.is_set, "on_busy": told.append,
                                      **options})
    thread.start()
    try:
        yield told
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


@pytest.mark.parametrize("where", ["folder", "sub-folder"])
def test_watch_waits_while_its_folder_cannot_be_listed_and_goes_on_when_it_can(tmp_path, unlistable, where):
    """A file server away for a while (NFS) must not end a watch with a traceback: it says why it waits, once,
    and a sub-folder that cannot be listed (a recursive watch) does not hold up the others' frames."""
    import time

    src, out = tmp_path / "in", tmp_path / "out"
    away = src if where == "folder" else src / "day2"
    away.mkdir(parents=True)
    tifffile.imwrite(away / "a.tif", _frame(0))
    tifffile.imwrite(src / "b.tif", _frame(1))
    unlistable[away] = OSError(112, "Host is down")
    with _watching(src, out, recursive=True) as told:
        time.sleep(0.6)
        assert told == [f"{away}: cannot list the folder: Host is down"]
        assert _outcomes(out).keys() == ({"b.tif"} if away != src else set())
        del unlistable[away]
        assert sorted(_names_once_sorted(out, rows=2)) == ["a.tif", "b.tif"]


def test_a_sub_folder_that_cannot_be_listed_is_an_error_of_the_run_and_sorted_when_it_can(tmp_path, unlistable,
                                                                                          monkeypatch, capsys):
    """``sort -r`` over a beamtime whose one day's folder is not readable: the others are sorted, the folder is
    named on stderr and in the exit code (3: partial), and a re-run once it can be read sorts its frames."""
    from xicam.camsort import cli

    src, out = tmp_path / "in", tmp_path / "out"
    for name in ("day1/a.tif", "day2/b.tif"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(src / name, _frame(0))
    unlistable[src / "day2"] = PermissionError(13, "Permission denied")
    reason = f"{src / 'day2'}: cannot list the folder: Permission denied"
    summary = sort_frames([src], out, ByQuadrantSorter(), recursive=True, progress=False)
    assert summary.sorted == 1 and summary.errors == [reason]
    assert summary.lines()[0] == "sorted 1 frame(s), skipped 0 already done, 1 error(s)"
    unlistable[src / "day1"] = PermissionError(13, "Permission denied")
    with pytest.raises(CamsortError, match=f"^no frame files in {re.escape(str(src))}; {re.escape(reason)} "
                                           r"\(and 1 more folder\(s\)\)$"):
        sort_frames([src], tmp_path / "elsewhere", ByQuadrantSorter(), recursive=True, progress=False)
    del unlistable[src / "day1"]
    monkeypatch.setattr(cli, "_load_model", lambda args: ByQuadrantSorter())
    assert cli.main(["sort", str(src), "--out", str(out), "-r", "-q"]) == cli.EXIT_PARTIAL
    assert f"camsort: error: {reason}" in capsys.readouterr().err
    del unlistable[src / "day2"]
    assert cli.main(["sort", str(src), "--out", str(out), "-r", "-q"]) == cli.EXIT_OK
    assert sorted(_outcomes(out)) == ["a.tif", "b.tif"]


def test_watch_started_before_its_folder_exists_says_so_once_and_sorts_when_it_comes(tmp_path):
    import time

    src, out = tmp_path / "run42", tmp_path / "out"
    with _watching(src, out) as told:
        time.sleep(0.5)
        assert told == [f"{src}: does not exist (yet)"]
        src.mkdir()
        tifffile.imwrite(src / "a.tif", _frame(0))
        assert _names_once_sorted(out) == ["a.tif"]
    assert told == [f"{src}: does not exist (yet)"]


def test_a_folder_sorted_before_sizes_and_times_were_recorded_resumes(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    rows = list(csv.DictReader(open(out / "manifest.csv", newline="")))
    with open(out / "manifest.csv", "w", newline="") as fh:  # as camsort wrote it until 2026-12-03
        writer = csv.DictWriter(fh, manifest.EARLIER_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tifffile.imwrite(src / "b.tif", _frame(1))
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, progress=False)
    assert again.calls == 1 and summary.skipped == 1
    assert open(out / "manifest.csv").readline().strip() == ",".join(manifest.COLUMNS)
    assert {Path(k[0]).name: r["technique"] for k, r in manifest.read(out / "manifest.csv").items()} == {
        "a.tif": "SAXS", "b.tif": "WAXS"}


def test_a_folder_sorted_with_one_model_threshold_and_mode_refuses_a_run_with_another(tmp_path):
    """A re-run skips the frames the manifest holds; in the same folder with another model, threshold or mode
    it would leave two runs' outcomes side by side (or no copies after manifest-only), so it is refused
    before anything in the folder changes, and the same settings resume as before."""
    import json

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    out = tmp_path / "out"
    sort_frames([src], out, ByQuadrantSorter(), mode="manifest-only", progress=False)
    settings = json.loads((out / "sort_settings.json").read_text())
    assert settings == {"model": None, "model_sha256": None, "threshold": 0.5, "mode": "manifest-only",
                        "weigh_metadata": True}
    before = {p.relative_to(out).as_posix(): _sha(p) for p in out.rglob("*") if p.is_file()}
    other_model = ByQuadrantSorter()
    other_model.origin = {"path": "/models/adapted", "sha256": "ab" * 32}
    stricter = ByQuadrantSorter()
    stricter.threshold = 0.9
    image_only = ByQuadrantSorter()
    image_only.weigh_metadata = False
    for sorter, mode, said in ((ByQuadrantSorter(), "copy", "mode manifest-only then, copy now"),
                               (stricter, "manifest-only", "threshold 0.5 then, 0.9 now"),
                               (other_model, "manifest-only",
                                "model a model never saved then, /models/adapted (abababababab) now"),
                               (image_only, "manifest-only", "headers and file names weighed yes then, no now")):
        with pytest.raises(CamsortError, match="sort into a new folder") as caught:
            sort_frames([src], out, sorter, mode=mode, progress=False)
        assert str(caught.value).startswith(f"{out} was sorted with other settings") and said in str(caught.value)
        assert sorter.calls == 0
    assert {p.relative_to(out).as_posix(): _sha(p) for p in out.rglob("*") if p.is_file()} == before
    # a folder sorted before the setting was recorded weighed no header: a run that weighs them is refused
    (out / "sort_settings.json").write_text(json.dumps({k: v for k, v in settings.items() if k != "weigh_metadata"}))
    with pytest.raises(CamsortError, match="headers and file names weighed no then, yes now"):
        sort_frames([src], out, ByQuadrantSorter(), mode="manifest-only", progress=False)
    (out / "sort_settings.json").write_text(json.dumps(settings))
    tifffile.imwrite(src / "b.tif", _frame(1))
    again = ByQuadrantSorter()
    assert sort_frames([src], out, again, mode="manifest-only", progress=False).skipped == 1 and again.calls == 1
    (out / "sort_settings.json").write_text("{not json")
    with pytest.raises(CamsortError, match="sort_settings.json: unreadable"):
        sort_frames([src], out, ByQuadrantSorter(), mode="manifest-only", progress=False)
    # a folder where nothing was sorted yet (a run stopped before its first frame) takes any settings
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sort_settings.json").write_text(json.dumps(settings))
    assert sort_frames([src], empty, ByQuadrantSorter(), mode="copy", progress=False).sorted == 2
    assert json.loads((empty / "sort_settings.json").read_text())["mode"] == "copy"


def test_same_file_already_in_output_is_recognised(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    out = tmp_path / "out"
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    (out / "manifest.csv").unlink()  # lose the manifest: the copy is still recognised by checksum
    sort_frames([src], out, ByQuadrantSorter(), progress=False)
    assert sorted(p.name for p in (out / "SAXS").iterdir()) == ["a.tif"]


@pytest.mark.parametrize("mode", ["link", "symlink", "manifest-only"])
def test_modes(tmp_path, mode):
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(3))
    out = tmp_path / "out"
    sort_frames([src], out, ByQuadrantSorter(), mode=mode, progress=False)
    row = _outcomes(out)["a.tif"]
    assert row["technique"] == "GIWAXS"
    if mode == "manifest-only":
        assert row["output"] == "" and not (out / "GIWAXS").exists()
    else:
        target = Path(row["output"])
        assert target.is_symlink() == (mode == "symlink")
        assert target.resolve() == (src / "a.tif").resolve() if mode == "symlink" else \
            os.path.samefile(target, src / "a.tif")


@pytest.mark.parametrize("mode", ["copy", "symlink"])
def test_an_edf_frames_header_text_file_goes_with_it_and_nothing_there_is_replaced(tmp_path, mode, monkeypatch):
    """ALS 7.3.3's motors live in NAME.txt beside NAME.edf: a sorted frame without it would lose them."""
    src = tmp_path / "in"
    src.mkdir()
    for name, quadrant in (("a", 0), ("b", 0), ("c", 3)):
        fabio.edfimage.EdfImage(data=_frame(quadrant, seed=quadrant + len(name))).write(str(src / f"{name}.edf"))
        (src / f"{name}.txt").write_text(f"Motors: 2\nSample Alpha Stage: 0.1{quadrant}\nrun: {name}\n")
    before = {p.name: _sha(p) for p in src.iterdir()}
    out = tmp_path / "out"
    (out / "SAXS").mkdir(parents=True)
    (out / "SAXS" / "a.edf").write_bytes(b"an earlier frame")  # so a.edf arrives as a_1.edf ...
    (out / "SAXS" / "b.txt").write_text("someone's notes")  # ... and b's header cannot go beside b.edf
    summary = sort_frames([src], out, ByQuadrantSorter(), mode=mode, progress=False)
    rows = _outcomes(out)
    assert rows["a.edf"]["output"].endswith("SAXS/a_1.edf") and rows["a.edf"]["error"] == ""
    assert (out / "SAXS" / "a_1.txt").read_text() == (src / "a.txt").read_text()
    assert (out / "SAXS" / "a_1.txt").is_symlink() == (mode == "symlink")
    assert (out / "GIWAXS" / "c.txt").read_text() == (src / "c.txt").read_text()
    assert rows["b.edf"]["output"].endswith("SAXS/b.edf")
    assert "b.txt exists with other content" in rows["b.edf"]["error"] and len(summary.errors) == 1
    assert (out / "SAXS" / "b.txt").read_text() == "someone's notes"
    assert {p.name: _sha(p) for p in src.iterdir()} == before
    assert not list(out.rglob("*.part"))
    (out / "SAXS" / "b.txt").unlink()  # the clash resolved, a re-run places b's header and nothing else
    listing = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.name != "manifest.csv")
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, mode=mode, progress=False)
    assert again.calls == 1 and not summary.errors and _outcomes(out)["b.edf"]["error"] == ""
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.name != "manifest.csv") == \
        sorted(listing + ["SAXS/b.txt"])
    if mode == "copy":  # a header that cannot be read is named in the frame's error; the frame is sorted
        fabio.edfimage.EdfImage(data=_frame(3, seed=9)).write(str(src / "d.edf"))
        (src / "d.txt").write_text("Sample Alpha Stage: 0.1\n")
        real_copy = sortjob.copy_file
        monkeypatch.setattr(sortjob, "copy_file", lambda a, b: (_ for _ in ()).throw(PermissionError(
            13, "Permission denied")) if str(a).endswith(".txt") else real_copy(a, b))
        sort_frames([src], out, ByQuadrantSorter(), mode=mode, progress=False)
        row = _outcomes(out)["d.edf"]
        assert row["output"].endswith("GIWAXS/d.edf") and (out / "GIWAXS" / "d.edf").is_file()
        assert row["error"] == f"cannot write output: the frame's header {src / 'd.txt'}: Permission denied"
        assert not list(out.rglob("*.part"))


def test_output_inside_input_is_not_resorted(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    sort_frames([src], src / "sorted", ByQuadrantSorter(), recursive=True, progress=False)
    again = ByQuadrantSorter()
    sort_frames([src], src / "sorted", again, recursive=True, progress=False)
    assert again.calls == 0


def test_a_watch_whose_output_is_inside_its_folder_leaves_its_own_copies_alone(tmp_path):
    import time

    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(0))
    with _watching(src, src / "sorted", recursive=True) as told:
        assert _names_once_sorted(src / "sorted") == ["a.tif"]
        time.sleep(0.6)  # polls that list the copy in src/sorted/
        assert [Path(k[0]).name for k in manifest.read(src / "sorted" / "manifest.csv")] == ["a.tif"]
        tifffile.imwrite(src / "b.tif", _frame(1))  # and the watch goes on
        assert sorted(_names_once_sorted(src / "sorted", rows=2)) == ["a.tif", "b.tif"]
    assert told == []


def test_interrupted_run_resumes_exactly(tmp_path):
    """Kill a real sort process mid-way; the re-run completes exactly the frames that are missing.

    The kill comes while the 4th batch is classified and the 3rd is being delivered: 8 frames are
    in the manifest, the 3rd batch's outputs may be complete or half-written. The re-run redoes 32
    frames, reuses complete outputs (same checksum) and clears the dead process's ``.part`` files."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        tifffile.imwrite(src / f"f{i:02d}.tif", _frame(i % 4, seed=i))
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_sortjob import ByQuadrantSorter
        from xicam.camsort.sortjob import sort_frames
        class Dying(ByQuadrantSorter):
            def decide(self, X):
                if self.calls >= 12:
                    os._exit(9)  # as abrupt as a kill -9
                return super().decide(X)
        sort_frames([{str(src)!r}], {str(out)!r}, Dying(), progress=False, batch_size=4, workers=1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr[-2000:]
    done_before = _outcomes(out)
    assert len(done_before) == 8
    resumed = ByQuadrantSorter()
    sort_frames([src], out, resumed, progress=False)
    assert resumed.calls == 32
    rows = _outcomes(out)
    assert len(rows) == 40 and all(r["error"] == "" for r in rows.values())
    files = [p for p in out.rglob("*.tif")]
    assert len(files) == 40 and not list(out.rglob("*.part"))
    with open(out / "manifest.csv", newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) == 41


def test_a_folder_without_frames_is_a_one_line_error_and_no_output_folder_is_made(tmp_path):
    """A mistyped or empty folder, or one whose frames are in sub-folders, sorted without -r: said so, nothing made."""
    (tmp_path / "in" / "day1").mkdir(parents=True)
    tifffile.imwrite(tmp_path / "in" / "day1" / "a.tif", _frame(0))
    (tmp_path / "in" / "notes.txt").write_text("beamtime log")
    folder = re.escape(str(tmp_path / "in"))
    with pytest.raises(CamsortError, match=rf"^no frame files in {folder} \(-r for sub-folders\)$"):
        sort_frames([tmp_path / "in"], tmp_path / "out", ByQuadrantSorter(), progress=False)
    assert not (tmp_path / "out").exists()
    assert sort_frames([tmp_path / "in"], tmp_path / "out", ByQuadrantSorter(), recursive=True,
                       progress=False).sorted == 1


def test_dead_process_parts_are_cleared_live_ones_kept(tmp_path):
    """A ``.part`` left by a process that no longer exists is removed when a job starts; one of a live process
    is not."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = tmp_path / "out" / "SAXS"
    folder.mkdir(parents=True)
    stale = folder / f".f00.tif.{int(dead.stdout)}.part"
    live = folder / f".f01.tif.{os.getpid()}.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"in flight")
    (tmp_path / "a.tif").touch()
    SortJob([tmp_path / "a.tif"], tmp_path / "out")
    assert not stale.exists() and live.read_bytes() == b"in flight"


def test_reading_runs_ahead_by_a_bounded_window():
    """Files are read ahead of classification, but never more than the window: a folder of 4 MB
    frames must not be held in memory at once."""
    from concurrent.futures import ThreadPoolExecutor

    from xicam.camsort.sortjob import _read_ahead

    started = []
    with ThreadPoolExecutor(2) as pool:
        results = _read_ahead(pool, lambda i: started.append(i) or i * i, list(range(100)), window=8)
        first = next(results)
        in_flight = len(started)
        rest = list(results)
    assert first == 0 and rest == [i * i for i in range(1, 100)]
    assert in_flight <= 8


def test_a_long_stack_is_read_in_parts_and_a_frame_that_cannot_be_read_is_named_alone(tmp_path, monkeypatch):
    """An HDF5 stack longer than a part (an Eiger series may hold thousands of 4-18 MB frames) is never read
    whole: it goes through the job in parts, each frame sorted as before. A frame the file cannot give is
    an error row of its own; the other frames are sorted, and a re-run reads only that one."""
    from xicam.camsort import io
    from xicam.camsort.errors import PatternReadError
    from xicam.camsort.sortjob import STACK_PART, _Loader, _Split

    src = tmp_path / "in"
    src.mkdir()
    quadrants = [i % 4 for i in range(100)]
    stack = np.stack([_frame(q, seed=i) for i, q in enumerate(quadrants)])
    with h5py.File(src / "series.h5", "w") as fh:
        fh.create_dataset("entry/data/data", data=stack, chunks=(1, *stack.shape[1:]))
    read, whole = [], io._Series.__getitem__
    monkeypatch.setattr(io._Series, "__getitem__", lambda series, index: read.append(index) or whole(series, index))
    split = _Loader(set(), 32)(src / "series.h5")
    assert isinstance(split, _Split) and STACK_PART == 32 and read == []  # counted, not read
    assert [(t.start, t.stop, t.dataset) for t in split.parts] == [(0, 32, None), (32, 64, None), (64, 96, None),
                                                                   (96, 100, None)]

    def flaky(series, index):
        read.append(index)
        if index == 37:
            raise PatternReadError(series.path, "frame 37 unreadable (OSError: can't read data)")
        return whole(series, index)

    monkeypatch.setattr(io._Series, "__getitem__", flaky)
    out = tmp_path / "out"
    summary = sort_frames([src], out, ByQuadrantSorter(), progress=False)
    rows = _outcomes(out)
    assert summary.sorted == 99 and summary.errors == [f"{src / 'series.h5'}: frame 37 unreadable "
                                                       "(OSError: can't read data)"]
    assert rows["series.h5#37"]["technique"] == "ERROR" and "frame 37 unreadable" in rows["series.h5#37"]["error"]
    assert [rows[f"series.h5#{i}"]["technique"] for i in range(100) if i != 37] == \
        [TECHNIQUES[q] for i, q in enumerate(quadrants) if i != 37]
    np.testing.assert_array_equal(tifffile.imread(rows["series.h5#99"]["output"]), stack[99])
    assert sorted(read) == list(range(100))  # every frame read once, none twice
    read.clear()
    monkeypatch.setattr(io._Series, "__getitem__", lambda series, index: read.append(index) or whole(series, index))
    again = sort_frames([src], out, ByQuadrantSorter(), progress=False)
    assert again.sorted == 1 and again.skipped == 99 and read == [37]
    assert _outcomes(out)["series.h5#37"]["technique"] == TECHNIQUES[quadrants[37]]
    # parts handed to separate tasks (dask workers) hash the file once per process, not once per part
    hashed, real = [], sortjob.sha256_file
    monkeypatch.setattr(sortjob, "_STACK_DIGESTS", {})
    monkeypatch.setattr(sortjob, "sha256_file", lambda path, *a: hashed.append(path) or real(path))
    parts = [{"path": str(src / "series.h5"), "dataset": None, "start": k, "stop": k + 32} for k in (0, 32)]
    items = sortjob.load_items(parts[:1]) + sortjob.load_items(parts[1:])
    assert len(items) == 64 and len(hashed) == 1 and {it.sha256 for it in items} == {_sha(src / "series.h5")}


def test_a_frames_header_and_name_are_read_once_for_its_decision_and_its_note(tmp_path, monkeypatch):
    """What a header and a file name say is worked out once per frame (``Pattern.claims``): the decision weighs
    it and the manifest's metadata_check repeats it."""
    from xicam.camsort import metadata_check

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        tifffile.imwrite(src / f"film_th0.150_{i}.tif", _frame(i).astype(np.float32))
    read = []
    monkeypatch.setattr(metadata_check, "claims", lambda *args: read.append(args[1]) or [
        (metadata_check.GRAZING, "file name incidence angle 0.15 deg suggests grazing incidence", False)])
    sort_frames([src], tmp_path / "out", ByQuadrantSorter(), mode="manifest-only", progress=False)
    assert sorted(Path(name).name for name in read) == [f"film_th0.150_{i}.tif" for i in range(3)]
    rows = _outcomes(tmp_path / "out")
    assert [rows[f"film_th0.150_{i}.tif"]["technique"] for i in range(3)] == ["SAXS", "WAXS", "GISAXS"]
    assert [bool(rows[f"film_th0.150_{i}.tif"]["metadata_check"]) for i in range(3)] == [True, True, False]


def test_camsort_watch_sorts_in_the_mode_it_is_given(tmp_path, monkeypatch, capsys):
    """A facility that keeps one copy of its data watches with ``--mode manifest-only`` (or ``link``): the rows are
    written and no frame is copied."""
    from xicam.camsort import cli, watch

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", _frame(1))
    polls = []

    def poll(seconds: float) -> None:  # Ctrl-C after a few polls
        polls.append(seconds)
        if len(polls) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load_model", lambda args: ByQuadrantSorter())
    monkeypatch.setattr(watch.time, "sleep", poll)
    argv = ["watch", str(src), "--out", str(out), "--mode", "manifest-only", "--settle", "0", "--interval", "0.01"]
    assert cli.main(argv) == 130
    assert _outcomes(out)["a.tif"]["technique"] == "WAXS" and _outcomes(out)["a.tif"]["output"] == ""
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["manifest.csv", "sort_settings.json"]
    assert "sorted 1 frame(s)" in capsys.readouterr().out


def test_predict_names_a_sub_folder_it_cannot_list_and_predicts_the_others(tmp_path, unlistable, monkeypatch, capsys):
    from xicam.camsort import cli

    for name in ("day1/a.tif", "day2/b.tif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        tifffile.imwrite(tmp_path / name, _frame(1))
    unlistable[tmp_path / "day2"] = PermissionError(13, "Permission denied")
    monkeypatch.setattr(cli, "_load_model", lambda args: ByQuadrantSorter())
    assert cli.main(["predict", "--json", "-r", str(tmp_path)]) == cli.EXIT_PARTIAL
    printed = capsys.readouterr()
    assert [Path(json.loads(line)["path"]).name for line in printed.out.splitlines()] == ["a.tif"]
    assert printed.err == f"camsort: error: {tmp_path / 'day2'}: cannot list the folder: Permission denied\n"


def test_warnings_of_files_read_side_by_side_stay_their_own(tmp_path, capfd):
    """Readers in threads catch the warnings of broken FITS files as their error's reason; catching in two threads
    at once (module-wide state) printed some to the terminal and left a catcher swallowing later warnings."""
    import gzip
    import warnings

    from astropy.io import fits  # noqa: F401 (astropy sets its own showwarning on import)

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(48):  # astropy warns of the non-ASCII bytes of each, then refuses it
        (src / f"broken_{i:02d}.fits.gz").write_bytes(gzip.compress(rng.bytes(3000)))
    showwarning = warnings.showwarning
    summary = sort_frames([src], tmp_path / "out", ByQuadrantSorter(), mode="manifest-only", workers=4,
                          progress=False)
    assert len(summary.errors) == 48 and all("corrupt FITS file" in e for e in summary.errors)
    assert capfd.readouterr().err == "" and warnings.showwarning is showwarning


def test_a_damaged_hdf5_file_in_a_folder_is_an_error_of_its_own_not_of_the_listing(tmp_path):
    """Listing a folder walks each HDF5 file's links (a master file's data files); h5py raises RuntimeError for a
    damaged group structure, which ended the whole sort with a traceback before any frame was read."""
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "good.tif", _frame(0))
    with h5py.File(tmp_path / "whole.h5", "w") as fh:
        fh["entry/data/data"] = _frame(1)[None]
    (src / "damaged.h5").write_bytes((tmp_path / "whole.h5").read_bytes().replace(b"HEAP", b"HEAX"))
    summary = sort_frames([src], tmp_path / "out", ByQuadrantSorter(), progress=False)
    assert summary.counts == {"SAXS": 1}
    assert summary.errors == [f"{src / 'damaged.h5'}: unreadable hdf5 file (RuntimeError: Link iteration failed "
                              "(bad local heap signature))"]


def test_camsort_sort_says_one_line_for_a_damaged_tiff(tmp_path):
    """tifffile logs each damaged tag of a file as an error without naming the file; the terminal gets camsort's
    line, which does (run as a user runs it: pytest's own log capture would hide the difference)."""
    import io

    src = tmp_path / "in"
    src.mkdir()
    whole = io.BytesIO()
    tifffile.imwrite(whole, _frame(0))
    at = whole.getvalue().find(b"\x11\x01\x04\x00")  # the StripOffsets tag (273, LONG) becomes an unknown one
    (src / "damaged.tif").write_bytes(whole.getvalue()[:at] + b"\xff\x7f" + whole.getvalue()[at + 2:])
    tifffile.imwrite(src / "good.tif", _frame(1))
    run = subprocess.run([sys.executable, "-m", "xicam.camsort.cli", "sort", str(src), "--out", str(tmp_path / "out"),
                          "-q", "--mode", "manifest-only"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stderr[-2000:]
    assert run.stderr == (f"camsort: error: {src / 'damaged.tif'}: unreadable tiff file (TiffFileError: missing data "
                          "offset)\n")


@pytest.mark.parametrize("linked_by", ["external links", "a virtual dataset"])
def test_watch_sorts_a_series_frames_as_its_data_files_land_after_its_master(tmp_path, linked_by):
    """An Eiger writes its master file, then a data file every N frames (Diamond's Odin: a NeXus file whose virtual
    dataset maps them): the master itself does not change as they land (and the data files are read through it),
    so the watch looks at the files it links too."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()

    def data_file(n: int, quadrant: int) -> None:
        with h5py.File(src / f"series_data_{n:06d}.h5", "w") as fh:
            fh["entry/data/data"] = np.stack([_frame(quadrant, seed=n), _frame(quadrant, seed=n + 10)])

    data_file(1, 0)
    layout = h5py.VirtualLayout(shape=(4, 60, 50), dtype=np.int32)
    with h5py.File(src / "series_master.h5", "w") as fh:
        for n in (1, 2):
            if linked_by == "external links":
                fh[f"entry/data/data_{n:06d}"] = h5py.ExternalLink(f"series_data_{n:06d}.h5", "/entry/data/data")
            else:
                layout[2 * n - 2:2 * n] = h5py.VirtualSource(f"series_data_{n:06d}.h5", "entry/data/data",
                                                             shape=(2, 60, 50))
        if linked_by == "a virtual dataset":
            fh.create_virtual_dataset("entry/data/data", layout, fillvalue=0)
    def outcomes_once(sorted_frames: int) -> list[str]:
        """Each frame's technique (or error) once the watch beside the test has sorted ``sorted_frames``."""
        import time

        deadline = time.time() + 30
        while time.time() < deadline:
            rows = sorted(manifest.read(out / "manifest.csv").values(), key=lambda r: int(r["frame"]))
            if sum(not r["error"] for r in rows) == sorted_frames:
                break
            time.sleep(0.05)
        return [r["technique"] for r in rows]

    with _watching(src, out):  # a virtual dataset knows its frames before they land: theirs are errors until then
        assert outcomes_once(2) == ["SAXS"] * 2 + ([] if linked_by == "external links" else ["ERROR"] * 2)
        data_file(2, 3)
        assert outcomes_once(4) == ["SAXS", "SAXS", "GIWAXS", "GIWAXS"]


def _room_for_the_manifest(monkeypatch, chars: int) -> dict[str, int]:
    """Let the manifest's appends have room for ``chars`` characters, then fail as a full disk does; returns the
    room left (set ``room["chars"]`` to make room)."""
    import errno
    import io

    room = {"chars": chars}

    class FullDisk(io.TextIOWrapper):
        def write(self, text: str) -> int:
            room["chars"] -= len(text)
            if room["chars"] < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(text)

    real_open = open
    monkeypatch.setattr(manifest, "open", lambda path, mode="r", **kw: FullDisk(real_open(path, mode + "b"), **kw)
                        if mode == "a" else real_open(path, mode, **kw), raising=False)
    return room


def test_a_manifest_the_disk_has_no_room_for_stops_the_run_with_one_line_and_a_rerun_finishes(tmp_path, monkeypatch):
    """A full disk (or quota) refused the manifest's appends with a traceback; the run now stops with one line
    naming the manifest, and once there is room a re-run sorts the rest, the copies made meanwhile recognised."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(12):
        tifffile.imwrite(src / f"f{i:02d}.tif", _frame(i % 4, seed=i))
    _room_for_the_manifest(monkeypatch, 2500)
    with pytest.raises(CamsortError, match=r"manifest\.csv: cannot write the manifest \(No space left on device\); "
                                           r"the frames it records are kept, and a run once there is room sorts"):
        sort_frames([src], out, ByQuadrantSorter(), progress=False, batch_size=4, workers=1)
    recorded = len(_outcomes(out))
    assert 0 < recorded < 12
    monkeypatch.undo()
    again = ByQuadrantSorter()
    summary = sort_frames([src], out, again, progress=False)  # the folder's lock was let go
    assert again.calls == 12 - recorded and summary.skipped == recorded and not summary.errors
    assert len(_outcomes(out)) == 12 and len(list(out.rglob("*.tif"))) == 12  # no copy made twice


def test_watch_waits_while_the_disk_has_no_room_for_the_manifest_and_goes_on_when_it_has(tmp_path, monkeypatch):
    """A watch overnight must not end because the disk filled up: it says why it waits, once, and sorts the files
    not recorded once there is room."""
    import time

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(12):
        tifffile.imwrite(src / f"f{i:02d}.tif", _frame(i % 4, seed=i))
    room = _room_for_the_manifest(monkeypatch, 2500)
    with _watching(src, out) as told:
        deadline = time.time() + 30
        while time.time() < deadline and not told:
            time.sleep(0.05)
        assert len(told) == 1 and told[0].endswith("cannot write the manifest (No space left on device); the frames "
                                                   "it records are kept, and a run once there is room sorts the rest")
        room["chars"] = 10**9
        assert sorted(_names_once_sorted(out, rows=12)) == [f"f{i:02d}.tif" for i in range(12)]


def test_watch_sorts_files_whose_outputs_found_no_room_once_there_is_room(tmp_path, monkeypatch):
    """A watch overnight on a disk that fills up: the frames whose copies failed for want of room were left as
    error rows until the watch was started again. They now wait, one tried now and then (not every file at every
    poll), and are all sorted once there is room."""
    import errno
    import time

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(6):
        tifffile.imwrite(src / f"f{i}.tif", _frame(i % 4, seed=i))
    full, attempts = [True], []
    real_copy = sortjob.copy_file

    def copy(a, b):
        attempts.append(Path(a).name)
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_copy(a, b)

    monkeypatch.setattr(sortjob, "copy_file", copy)
    with _watching(src, out, retry=0.5) as told:
        deadline = time.time() + 30
        while time.time() < deadline and not any("no room" in t for t in told):
            time.sleep(0.05)
        assert told[-1] == (f"{out}: no room on the disk for the outputs of 6 file(s); they are sorted once there "
                            "is (tried every 0.5 s)")
        rows = manifest.read(out / "manifest.csv").values()
        assert {r["error"] for r in rows} == {"cannot write output: No space left on device"}
        time.sleep(1.6)  # some 30 polls: one file tried again at each retry, not six at each poll
        assert 6 < len(attempts) <= 6 + 4
        (src / "f5.tif").rename(tmp_path / "f5.tif")  # moved away by the user: no longer waited for
        deadline = time.time() + 30
        while time.time() < deadline and "outputs of 5 file(s)" not in told[-1]:
            time.sleep(0.05)
        assert "outputs of 5 file(s)" in told[-1]
        full[0] = False
        deadline = time.time() + 30
        while time.time() < deadline and sum(not r["error"] for r in manifest.read(out / "manifest.csv").values()) < 5:
            time.sleep(0.05)
    rows = [r for r in manifest.read(out / "manifest.csv").values() if not r["source"].endswith("f5.tif")]
    assert len(rows) == 5 and not any(r["error"] for r in rows)
    for row in rows:
        assert Path(row["output"]).read_bytes() == Path(row["source"]).read_bytes()
    assert not list(out.rglob("*.part"))
