"""The sort manifest survives crashes (torn last line), keeps the newest row per frame, compacts atomically."""
from __future__ import annotations

from xicam.camsort import manifest


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


def test_foreign_csv_is_not_trusted(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("a,b\n1,2\n")
    assert manifest.read(path) == {}
