"""The sort manifest survives crashes (torn last line), keeps the newest row per frame and the rows of a file's
earlier contents, compacts atomically, knows which frames are finished, and never takes over a file it did not write."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from xicam.camsort import manifest
from xicam.camsort.errors import CamsortError


def _row(src, frame=None, technique="SAXS", error=""):
    return {"source": src, "frame": frame, "technique": technique, "error": error}


def test_rows_round_trip_and_newest_row_wins(tmp_path):
    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        w.write(_row("/a.tif", error="unreadable"))
        w.write(_row("/b.h5", 3, "GISAXS"))
        w.write(_row("/a.tif", technique="WAXS"))
    rows = manifest.read(path)
    assert rows[manifest.key("/a.tif", None)]["technique"] == "WAXS"
    assert rows[manifest.key("/a.tif", None)]["error"] == ""
    assert rows[manifest.key("/b.h5", 3)]["technique"] == "GISAXS"


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        w.write(_row("/a.tif"))
    with open(path, "a") as fh:
        fh.write("/b.tif,,/out/b.tif,WA")  # a crash in the middle of a row
    assert list(manifest.read(path)) == [manifest.key("/a.tif", None)]
    with manifest.Writer(path) as w:
        w.write(_row("/c.tif", technique="GIWAXS"))
    rows = manifest.read(path)
    assert set(rows) == {manifest.key("/a.tif", None), manifest.key("/c.tif", None)}


def test_compact_keeps_one_row_per_frame_in_order(tmp_path):
    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        for t in ("SAXS", "WAXS"):
            w.write(_row("/x.tif", technique=t))
        w.write(_row("/y.tif"))
    manifest.compact(path, [manifest.key("/y.tif", None), manifest.key("/x.tif", None)])
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("source,frame,output,technique")
    assert lines[1].startswith("/y.tif") and ",WAXS," in lines[2]
    assert not (tmp_path / "manifest.csv.tmp").exists()


def test_a_compaction_the_disk_has_no_room_for_leaves_the_manifest_as_appended(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        for t in ("SAXS", "WAXS"):
            w.write(_row("/x.tif", technique=t))
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CamsortError, match=r"manifest\.csv: cannot rewrite the manifest without its superseded rows "
                                           r"\(No space left on device\); it stays as appended, and reads the same$"):
        manifest.compact(path)
    assert path.read_bytes() == before and not (tmp_path / "manifest.csv.tmp").exists()


def test_foreign_csv_is_not_trusted(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("a,b\n1,2\n")
    assert manifest.read(path) == {}


def _sha_row(src, sha, technique="SAXS", error=""):
    return {"source": src, "technique": technique, "sha256": sha, "error": error}


def test_compact_keeps_the_rows_of_a_files_earlier_contents(tmp_path):
    """A file rewritten since it was sorted is sorted again; the row of its earlier content stays (its output is
    still in the folder), one row per content; a failure is replaced by a later success of the same content."""
    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        w.write(_sha_row("/x.tif", "aa"))
        w.write(_sha_row("/x.tif", "bb", "WAXS"))
        w.write(_sha_row("/x.tif", "bb", "WAXS"))  # the same content sorted again (file touched)
        w.write(_sha_row("/y.tif", "", "ERROR", "cannot read"))
        w.write(_sha_row("/y.tif", "cc"))
        w.write(_sha_row("/z.tif", "dd"))
        w.write(_sha_row("/z.tif", "ee", "ERROR", "truncated"))
    manifest.compact(path)
    rows = list(manifest._rows(path))
    assert [(r["source"], r["sha256"], r["technique"]) for r in rows] == [
        ("/x.tif", "aa", "SAXS"), ("/x.tif", "bb", "WAXS"), ("/y.tif", "cc", "SAXS"),
        ("/z.tif", "dd", "SAXS"), ("/z.tif", "ee", "ERROR")]
    assert {k: r["sha256"] for k, r in manifest.read(path).items()} == {
        manifest.key("/x.tif", None): "bb", manifest.key("/y.tif", None): "cc", manifest.key("/z.tif", None): "ee"}


def test_a_frame_is_finished_while_its_file_is_as_its_row_recorded(tmp_path):
    same, rewritten, gone, failed = (tmp_path / n for n in ("same.tif", "rewritten.tif", "gone.tif", "failed.tif"))
    for f in (same, rewritten, failed):
        f.write_bytes(b"frame")
    path = tmp_path / "manifest.csv"
    with manifest.Writer(path) as w:
        for f in (same, rewritten, gone):
            w.write({**_row(str(f)), **manifest.stat_cells((5, same.stat().st_mtime_ns))})
        w.write({**_row(str(failed), error="truncated"), **manifest.stat_cells(manifest.signature(failed))})
        w.write(_row(str(tmp_path / "earlier.tif")))  # a row written before signatures were recorded
    os.utime(same, ns=(0, same.stat().st_mtime_ns))
    os.utime(rewritten, ns=(0, same.stat().st_mtime_ns + 10**9))
    rows = manifest.read(path)
    done, changed = manifest.finished(rows, {str(f) for f in (same, rewritten, gone, failed)})
    assert {Path(k[0]).name for k in done} == {"same.tif", "gone.tif", "earlier.tif"}
    assert changed == {str(rewritten)}
    done, changed = manifest.finished(rows, {str(same)})  # a run over other files looks at none of these
    assert {Path(k[0]).name for k in done} == {"same.tif", "rewritten.tif", "gone.tif", "earlier.tif"}
    assert changed == set()


def test_a_manifest_of_the_earlier_columns_is_read_and_upgraded_before_rows_are_appended(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text(",".join(manifest.EARLIER_COLUMNS) + "\n"
                    + ",".join("/old.tif" if c == "source" else "SAXS" if c == "technique" else ""
                               for c in manifest.EARLIER_COLUMNS) + "\n")
    assert manifest.recorded_signature(manifest.read(path)[manifest.key("/old.tif", None)]) is None
    with manifest.Writer(path) as w:
        w.write({**_row("/new.tif", technique="WAXS"), **manifest.stat_cells((7, 8))})
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(manifest.COLUMNS) and len(lines) == 3
    rows = manifest.read(path)
    assert rows[manifest.key("/old.tif", None)]["technique"] == "SAXS"
    assert manifest.recorded_signature(rows[manifest.key("/new.tif", None)]) == (7, 8)


def test_a_file_not_written_by_camsort_is_never_appended_to(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("sample,notes\nA,my notes\n")
    with pytest.raises(CamsortError, match="not a camsort manifest"):
        manifest.Writer(path)
    assert path.read_text() == "sample,notes\nA,my notes\n"
