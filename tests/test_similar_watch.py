"""Similarity retrieval finds same-technique neighbours; watch sorts files once they stop growing, and again
when they are rewritten."""
from __future__ import annotations

import hashlib
import threading
import time

import numpy as np

from xicam.camsort import manifest
from xicam.camsort.io import write_tiff
from xicam.camsort.preprocess import preprocess
from xicam.camsort.similar import build_index, query, save_strip
from xicam.camsort.simulate import simulate
from xicam.camsort.watch import watch


def test_index_and_query_return_ranked_neighbours(cnn_sorter, tmp_path):
    for t in ("SAXS", "GISAXS"):
        for i in range(4):
            write_tiff(tmp_path / f"{t}_{i}.tif", simulate(t, 50 + i, long_side=256).data.astype(np.int32))
    (tmp_path / "broken.tif").write_text("x")
    index, errors = build_index(cnn_sorter, [tmp_path], tmp_path / "idx" / "index.npz")
    assert len(errors) == 1 and "broken.tif" in errors[0]
    image = preprocess(simulate("GISAXS", 50, long_side=256).data, cnn_sorter.size)
    matches = query(cnn_sorter, index, image, top=3)
    assert len(matches) == 3 and matches[0][0].endswith("GISAXS_0.tif") and matches[0][1] < 1e-3
    assert [d for _, d in matches] == sorted(d for _, d in matches)
    png = save_strip(image, matches, tmp_path / "strip.png", cnn_sorter.size)
    assert png.read_bytes()[:4] == b"\x89PNG"
    # an index named without its ending: numpy writes idx.npz, which is what is said, and --index idx finds it
    named, _ = build_index(cnn_sorter, [tmp_path], tmp_path / "idx" / "plain")
    assert named == tmp_path / "idx" / "plain.npz" and named.is_file()
    assert query(cnn_sorter, tmp_path / "idx" / "plain", image, top=3) == matches


def test_watch_waits_for_files_to_settle(cnn_sorter, tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_tiff(inbox / "first.tif", simulate("WAXS", 1, long_side=256).data.astype(np.int32))
    write_tiff(tmp_path / "full.tif", simulate("GISAXS", 2, long_side=256).data.astype(np.int32))
    blob = (tmp_path / "full.tif").read_bytes()
    growing = inbox / "second.tif"
    growing.write_bytes(blob[:64])  # the detector has started writing
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=([inbox], out, cnn_sorter),
                              kwargs={"settle": 0.6, "interval": 0.1, "stop": stop.is_set})
    thread.start()
    try:
        step = len(blob) // 10
        for end in range(64 + step, len(blob) + step, step):  # a slow writer: a chunk every 0.2 s
            time.sleep(0.2)
            with open(growing, "ab") as fh:
                fh.write(blob[fh.tell():end])
            rows = manifest.read(out / "manifest.csv")
            assert "second.tif" not in {k[0].rsplit("/", 1)[1] for k in rows}  # never read half-written
        deadline = time.time() + 60
        while time.time() < deadline and len(manifest.read(out / "manifest.csv")) < 2:
            time.sleep(0.1)
        rows = manifest.read(out / "manifest.csv")
        assert sorted(k[0].rsplit("/", 1)[1] for k in rows) == ["first.tif", "second.tif"]
        assert all(r["error"] == "" for r in rows.values())
        # a detector that reuses a file name: the new frame is sorted too, the earlier copy stays
        first = manifest.key(str((inbox / "first.tif").resolve()), None)
        earlier = rows[first]
        write_tiff(inbox / "first.tif", simulate("SAXS", 3, long_side=256).data.astype(np.int32))
        new_sha = hashlib.sha256((inbox / "first.tif").read_bytes()).hexdigest()
        deadline = time.time() + 60
        while time.time() < deadline and manifest.read(out / "manifest.csv")[first]["sha256"] != new_sha:
            time.sleep(0.1)
        assert manifest.read(out / "manifest.csv")[first]["sha256"] == new_sha
        assert hashlib.sha256(open(earlier["output"], "rb").read()).hexdigest() == earlier["sha256"]
    finally:
        stop.set()
        thread.join(30)


def test_the_watch_forgets_files_that_are_no_longer_there(tmp_path):
    """A watch of days over a folder frames pass through (sorted, then moved on by the beamline's pipeline) kept a
    record of every file it had seen; a file no longer listed is forgotten, and one back again settles anew."""
    from xicam.camsort.watch import settled_files

    (tmp_path / "in").mkdir()
    for i in range(3):
        write_tiff(tmp_path / "in" / f"f{i}.tif", np.full((64, 64), i + 1, np.int32))
    seen: dict = {}
    args = ([tmp_path / "in"], seen, 1.0, False)
    assert settled_files(*args, now=0.0, out=tmp_path / "out") == []
    assert len(settled_files(*args, now=2.0, out=tmp_path / "out")) == 3
    (tmp_path / "in" / "f0.tif").rename(tmp_path / "f0.tif")
    assert sorted(p.name for p in settled_files(*args, now=3.0, out=tmp_path / "out")) == ["f1.tif", "f2.tif"]
    assert sorted(p.name for p in seen) == ["f1.tif", "f2.tif"]
    (tmp_path / "f0.tif").rename(tmp_path / "in" / "f0.tif")
    assert sorted(p.name for p in settled_files(*args, now=4.0, out=tmp_path / "out")) == ["f1.tif", "f2.tif"]
    assert len(settled_files(*args, now=5.0, out=tmp_path / "out")) == 3
