"""Reading frames in every supported format, and one named error for every kind of bad input."""
from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import fabio
import h5py
import numpy as np
import pytest
import tifffile

from xicam.camsort.errors import CamsortError, PatternReadError
from xicam.camsort.io import (count_frames, describe, frame_paths, iter_patterns, open_frames, read_pattern,
                              resolved_frame_paths, write_tiff)
from xicam.camsort.read_errors import plain_reason

RNG = np.random.default_rng(0)
FRAME = RNG.poisson(20, size=(40, 30)).astype(np.int32)
FRAME[10] = -1  # a Pilatus module gap


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64"])
def test_tiff_dtypes_read_as_float32(tmp_path, dtype):
    data = np.abs(FRAME).astype(dtype)
    path = tmp_path / f"f_{dtype}.tif"
    tifffile.imwrite(path, data)
    p = read_pattern(path)
    assert p.data.dtype == np.float32 and p.data.shape == (40, 30)
    np.testing.assert_array_equal(p.data, data.astype(np.float32))
    assert p.metadata["dtype"] == dtype and p.metadata["format"] == "tiff"
    assert "ImageWidth" in p.metadata and p.source == os.fspath(path)


def test_write_tiff_keeps_int32_and_metadata(tmp_path):
    path = tmp_path / "sim.tif"
    write_tiff(path, FRAME, {"technique": "SAXS"})
    p = read_pattern(path)
    np.testing.assert_array_equal(p.data, FRAME)
    assert p.metadata["dtype"] == "int32"
    assert p.metadata["technique"] == "SAXS"  # the JSON description is parsed back


def test_edf_header_is_kept(tmp_path):
    path = tmp_path / "f.edf"
    fabio.edfimage.EdfImage(data=FRAME, header={"Sample Alpha Stage": "0.15", "count_time": "10"}).write(str(path))
    p = read_pattern(path)
    np.testing.assert_array_equal(p.data, FRAME)
    assert p.metadata["Sample Alpha Stage"] == "0.15" and p.metadata["format"] == "edf"


ALS733_SIDECAR = """63805.000
41617.000
33888.608
Motors: 47
Sample X Stage: -13.162500
Sample Alpha Stage: 0.360141
Detector Vertical: -3.902140
GIWAXS beamstop X: 0.000000
Xtal2 Pico 1: 700.000000
count_time: 99
AIs: 27
Beam Current: 500.700830
slit1 top current: NaN
Xtal2 Pico 1: NaN
!0\x20
Alpha_scan_positions=
"""
"""The layout of ALS 7.3.3's header text file beside an EDF (shortened from Xi-cam 1.2.26's AgB_5s_hi_2m.txt)."""


def test_an_als733_header_text_file_beside_an_edf_joins_its_header(tmp_path):
    """7.3.3 keeps its motors in NAME.txt beside NAME.edf; camsort reads them as Xi-cam 1 did."""
    fabio.edfimage.EdfImage(data=FRAME, header={"count_time": "5"}).write(str(tmp_path / "AgB_2m.edf"))
    (tmp_path / "AgB_2m.txt").write_text(ALS733_SIDECAR)
    meta = read_pattern(tmp_path / "AgB_2m.edf").metadata
    assert meta["Sample Alpha Stage"] == "0.360141" and meta["Detector Vertical"] == "-3.902140"
    assert meta["Xtal2 Pico 1"] == "700.000000"  # a key listed twice (motor, then reading): the motor
    assert meta["count_time"] == "5"  # the frame's own header wins
    assert meta["sidecar"] == "AgB_2m.txt" and "63805.000" not in meta and "Alpha_scan_positions=" not in meta
    info = describe(read_pattern(tmp_path / "AgB_2m.edf"))
    assert info["sidecar"] == "AgB_2m.txt"
    assert info["geometry_hints"] == {"stage_tilt_deg": 0.360141, "name_distance_m": 2.0}  # 2 m: from its name
    with open(tmp_path / "AgB_2m.edf", "rb") as src, gzip.open(tmp_path / "packed.edf.gz", "wb") as dst:
        dst.write(src.read())
    (tmp_path / "packed.txt").write_text("Sample Alpha Stage: 0.12\n")
    assert read_pattern(tmp_path / "packed.edf.gz").metadata["Sample Alpha Stage"] == "0.12"
    tifffile.imwrite(tmp_path / "frame.tif", FRAME)
    (tmp_path / "frame.txt").write_text("Sample Alpha Stage: 0.2\n")  # only EDF frames have them
    assert "sidecar" not in read_pattern(tmp_path / "frame.tif").metadata
    (tmp_path / "AgB_2m.txt").write_bytes(b"x" * (2 << 20))  # a large text file is no header
    meta = read_pattern(tmp_path / "AgB_2m.edf").metadata
    assert "too large for a header" in meta["sidecar_error"] and "Sample Alpha Stage" not in meta
    (tmp_path / "AgB_2m.txt").unlink()
    assert "sidecar" not in read_pattern(tmp_path / "AgB_2m.edf").metadata


def test_esrf_dummy_pixels_read_as_invalid_and_a_zero_dummy_marks_none(tmp_path):
    frame = np.full((16, 20), 50.0, np.float32)
    frame[2, 3], frame[5, 6], frame[7, 8] = 65535.0, 65535.2, 0.0
    marked, unmarked = tmp_path / "id02.edf", tmp_path / "zero.edf"
    fabio.edfimage.EdfImage(data=frame, header={"Dummy": "65535", "DDummy": "0.5"}).write(str(marked))
    fabio.edfimage.EdfImage(data=frame, header={"Dummy": "0", "DDummy": "0"}).write(str(unmarked))
    data = read_pattern(marked).data
    assert np.isnan(data[2, 3]) and np.isnan(data[5, 6]) and np.isnan(data).sum() == 2
    assert data[7, 8] == 0 and describe(read_pattern(marked))["invalid_pixels"] == 2
    np.testing.assert_array_equal(read_pattern(unmarked).data, frame)  # zero counts stay counts


def test_module_gaps_at_an_unsigned_maximum_read_as_invalid_and_saturated_pixels_stay(tmp_path):
    """An Eiger in 16-bit mode writes its gaps as 65535; a CCD saturates single pixels at 65535."""
    eiger = np.abs(FRAME).astype(np.uint16)
    eiger[10] = 65535  # a gap row
    eiger[3, 4] = 65535  # a masked pixel of the same frame
    ccd = np.abs(FRAME).astype(np.uint16)
    ccd[20:23, 14:17] = 65535  # saturated at the beam
    tifffile.imwrite(tmp_path / "eiger.tif", eiger)
    tifffile.imwrite(tmp_path / "ccd.tif", ccd)
    data = read_pattern(tmp_path / "eiger.tif").data
    assert np.isnan(data[10]).all() and np.isnan(data[3, 4]) and np.isnan(data).sum() == 31
    np.testing.assert_array_equal(read_pattern(tmp_path / "ccd.tif").data, ccd.astype(np.float32))


def test_zeros_of_a_frame_with_a_floor_read_as_fill_and_zero_counts_stay_counts(tmp_path):
    """A CCD frame with a pedestal (or a geometry-corrected one) fills the area outside its active face
    with 0, which no pixel can count; a weak frame of counts, of any scale, counts zeros."""
    rng = np.random.default_rng(1)
    ccd = (1000 + rng.normal(0, 5, (60, 80))).astype(np.uint16)
    ccd[50:] = 0  # blank below a geometry correction's edge
    weak = rng.poisson(2, (60, 80)).astype(np.int32)
    tifffile.imwrite(tmp_path / "ccd.tif", ccd)
    tifffile.imwrite(tmp_path / "weak.tif", weak)
    tifffile.imwrite(tmp_path / "weak_x100.tif", weak * 100)
    data = read_pattern(tmp_path / "ccd.tif").data
    assert np.isnan(data[50:]).all() and not np.isnan(data[:50]).any()
    assert describe(read_pattern(tmp_path / "ccd.tif"))["invalid_pixels"] == 10 * 80
    for name, frame in (("weak.tif", weak), ("weak_x100.tif", weak * 100)):
        assert (frame == 0).sum() > 100
        np.testing.assert_array_equal(read_pattern(tmp_path / name).data, frame.astype(np.float32))


def test_npz_archives_read_their_image_array_and_keep_single_values_as_header(tmp_path):
    image = np.where(FRAME < 0, np.nan, FRAME).astype(np.float64)
    np.savez(tmp_path / "healed.npz", mask=np.zeros(FRAME.shape, bool), im=image, xcenter=258, ycenter=388)
    np.savez(tmp_path / "plain.npz", small=np.ones((5, 5)), big=np.stack([image, image + 1]))
    pattern = read_pattern(tmp_path / "healed.npz")
    np.testing.assert_array_equal(pattern.data, image)
    assert pattern.metadata["npz_array"] == "im" and pattern.metadata["xcenter"] == 258
    assert count_frames(tmp_path / "plain.npz") == 2
    np.testing.assert_array_equal(read_pattern(tmp_path / "plain.npz", frame=1).data, image + 1)
    np.testing.assert_array_equal(read_pattern(tmp_path / "plain.npz", dataset="small").data, np.ones((5, 5)))
    with pytest.raises(PatternReadError, match="no array 'nope'"):
        read_pattern(tmp_path / "plain.npz", dataset="nope")
    np.savez(tmp_path / "labels.npz", names=np.array(["a", "b"]), mask=np.zeros((4, 4), bool))
    with pytest.raises(PatternReadError, match="no numeric image array"):
        read_pattern(tmp_path / "labels.npz")


def test_cbf_reads(tmp_path):
    path = tmp_path / "f.cbf"
    fabio.cbfimage.CbfImage(data=FRAME).write(str(path))
    p = read_pattern(path)
    np.testing.assert_array_equal(p.data, FRAME)
    assert p.metadata["format"] == "cbf"


def test_cbf_that_fabio_cannot_read_is_explained_by_its_layout(tmp_path):
    """A multi-panel imgCIF (an XFEL CSPAD writes one image array per panel, in a loop) and a CBF whose
    binary section is missing fail inside fabio with messages about its internals; the error says why."""
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "one.cbf"))
    raw = (tmp_path / "one.cbf").read_bytes()
    start = raw.index(b"--CIF-BINARY-FORMAT-SECTION--")
    end = raw.index(b"--CIF-BINARY-FORMAT-SECTION----") + len(b"--CIF-BINARY-FORMAT-SECTION----")
    panels = b"".join(b"ARRAY%d %d\r\n;\r\n" % (i, i + 1) + raw[start:end] + b"\r\n;\r\n" for i in range(2))
    (tmp_path / "cspad.cbf").write_bytes(raw[:raw.index(b"_array_data.data")] + b"loop_\r\n_array_data.array_id\r\n"
                                         b"_array_data.binary_id\r\n_array_data.data\r\n" + panels)
    (tmp_path / "empty.cbf").write_bytes(raw[:start] + raw[end:])
    with pytest.raises(PatternReadError, match=r"cspad.cbf: multi-panel CBF with 2 image arrays \(one per detector"):
        read_pattern(tmp_path / "cspad.cbf")
    with pytest.raises(PatternReadError, match=r"empty.cbf: CBF file holds no image data"):
        read_pattern(tmp_path / "empty.cbf")


def test_wrong_extension_is_sniffed(tmp_path):
    path = tmp_path / "actually_a_tiff.edf"
    tifffile.imwrite(path, FRAME)
    np.testing.assert_array_equal(read_pattern(path).data, FRAME)


def test_hdf5_first_image_nexus_signal_and_explicit_dataset(tmp_path):
    path = tmp_path / "scan.nxs"
    stack = np.stack([FRAME + i for i in range(3)])
    with h5py.File(path, "w") as fh:
        fh.attrs["default"] = "entry"
        entry = fh.create_group("entry")
        entry.attrs["default"] = "data"
        data = entry.create_group("data")
        data.attrs["signal"] = "images"
        data.create_dataset("images", data=stack)
        fh.create_dataset("bigger_decoy", data=np.zeros((5, 100, 100), np.int32))
        fh.create_dataset("single", data=FRAME * 2)
    assert count_frames(path) == 3
    frames = list(iter_patterns(path))
    assert [p.frame for p in frames] == [0, 1, 2]
    np.testing.assert_array_equal(frames[2].data, FRAME + 2)
    assert frames[0].metadata["hdf5_dataset"] == "entry/data/images"
    gap_as_fill = np.where(FRAME < 0, np.nan, FRAME + 1)  # the gap row reads 0 in counts of about 20: fill
    np.testing.assert_array_equal(read_pattern(path, frame=1).data, gap_as_fill)
    np.testing.assert_array_equal(read_pattern(path, dataset="single").data, FRAME * 2)
    with pytest.raises(PatternReadError, match="3-D stack of 3 frames"):
        read_pattern(path)
    with pytest.raises(PatternReadError, match="no dataset 'nope'"):
        read_pattern(path, dataset="nope")


def test_an_hdf5_files_datasets_read_one_by_one_walk_its_tree_once_per_version(tmp_path, monkeypatch):
    """``--all-detectors`` reads a file's image datasets one by one: the file's tree is walked once, and
    again only when the file has changed, so a rewritten file never shows its old datasets (a file
    with external links is walked every time: test_eiger_master_file_reads_the_linked_frames...)."""
    import xicam.camsort.io as camsort_io

    walks = []
    walk = camsort_io._image_datasets
    monkeypatch.setattr(camsort_io, "_image_datasets", lambda fh: walks.append(fh.filename) or walk(fh))
    path = tmp_path / "sxdm.h5"
    frame = RNG.poisson(20, size=(64, 70)).astype(np.int32)  # big enough to count as another detector's
    with h5py.File(path, "w") as fh:
        for i in range(4):
            fh[f"images/{i:04d}"] = frame + i
        fh["entry/instrument/detector/detector_distance"] = 2.0
    for i in range(4):
        pattern = read_pattern(path, dataset=f"images/{i:04d}")
        np.testing.assert_array_equal(pattern.stored, frame + i)
        assert pattern.metadata["entry/instrument/detector/detector_distance"] == 2.0
        assert pattern.metadata["hdf5_dataset"] == f"images/{i:04d}"
    assert len(walks) == 1 and read_pattern(path).metadata["hdf5_other_images"][-1] == "images/0003"
    with h5py.File(path, "a") as fh:
        fh["images/0004"] = frame + 4
    os.utime(path, ns=(1, 1))  # a new version, whatever the clock's resolution
    assert "images/0004" in read_pattern(path).metadata["hdf5_other_images"] and len(walks) == 2


def test_eiger_frames_compressed_with_bitshuffle_lz4_read_in_a_fresh_process(tmp_path):
    """Dectris' file writer compresses with bitshuffle-LZ4, an HDF5 filter plugin h5py has not built in:
    camsort registers it (hdf5plugin) itself, so a process that imported nothing else reads the frames."""
    import hdf5plugin

    stack = np.stack([FRAME.clip(0) + i for i in range(2)]).astype(np.uint32)
    with h5py.File(tmp_path / "eiger_data_000001.h5", "w") as fh:
        fh.create_dataset("entry/data/data", data=stack, chunks=(1, *FRAME.shape), **hdf5plugin.Bitshuffle(cname="lz4"))
    code = ("import numpy, sys; from xicam.camsort.io import read_pattern; "
            "print(int(read_pattern(sys.argv[1], frame=1).data.sum()))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "eiger_data_000001.h5")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == int((FRAME.clip(0) + 1).sum())


def test_nexus_stacks_on_leading_axes_and_nxcansas_intensity_maps_read(tmp_path):
    """A NeXus writer nests frames as (scan point, frame, rows, columns); an NXcanSAS file holds the
    intensity map I beside a Q map of more frames of the same shape, its uncertainties and its mask,
    which are not frames."""
    nested = np.stack([FRAME.clip(0) + i for i in range(6)]).reshape(3, 2, *FRAME.shape).astype(np.float64)
    with h5py.File(tmp_path / "nested.nxs", "w") as fh:
        fh.create_dataset("entry/instrument/detector/data", data=nested)
    assert count_frames(tmp_path / "nested.nxs") == 6
    np.testing.assert_array_equal(read_pattern(tmp_path / "nested.nxs", frame=3).data, nested[1, 1])
    np.testing.assert_array_equal([p.data for p in iter_patterns(tmp_path / "nested.nxs")][5], nested[2, 1])
    with h5py.File(tmp_path / "cansas.h5", "w") as fh:
        sasdata = fh.create_group("sasentry01/sasdata01")
        sasdata.attrs.update({"signal": "I", "I_axes": ["Q", "Q"], "Q_indices": [0, 1], "mask": "Imask"})
        sasdata.create_dataset("I", data=FRAME.clip(0) * 1e-3).attrs["uncertainties"] = "Idev"
        sasdata.create_dataset("Idev", data=np.ones(FRAME.shape) * 9.0)
        sasdata.create_dataset("Q", data=np.ones((3, *FRAME.shape)))
        sasdata.create_dataset("Imask", data=np.zeros(FRAME.shape, bool))
    pattern = read_pattern(tmp_path / "cansas.h5")
    assert pattern.metadata["hdf5_dataset"] == "sasentry01/sasdata01/I"
    np.testing.assert_allclose(pattern.data, FRAME.clip(0) * 1e-3, rtol=1e-6)


def test_a_file_of_two_detectors_names_the_frames_it_did_not_read(tmp_path):
    """NSLS-II LiX writes its SAXS and WAXS detectors' frames into one file: one is read, the other is
    named (for ``--dataset``); calibration arrays and small arrays are not."""
    saxs, waxs = np.ones((1, 80, 70), np.int32), np.full((1, 80, 70), 2, np.int32)
    with h5py.File(tmp_path / "lix.h5", "w") as fh:
        fh.create_dataset("scan/primary/data/pil1M_image", data=saxs)
        fh.create_dataset("scan/primary/data/pilW2_image", data=waxs)
        fh.create_dataset("scan/primary/data/flatfield", data=np.ones((80, 70)))
        fh.create_dataset("scan/processed/merged", data=np.ones((1, 2, 274)))
    pattern = read_pattern(tmp_path / "lix.h5")
    assert pattern.metadata["hdf5_dataset"] == "scan/primary/data/pil1M_image"
    assert describe(pattern)["other_images"] == ["scan/primary/data/pilW2_image"]
    assert read_pattern(tmp_path / "lix.h5", dataset="scan/primary/data/pilW2_image").data.max() == 2


def test_eiger_master_file_reads_the_linked_frames_with_the_pixel_mask(tmp_path):
    """An Eiger master file holds external links to its data files and, itself, the detector's
    pixel_mask and flatfield of the frames' shape: camsort reads the frames, not the calibration,
    and the masked pixels (gaps, which Eiger writes as 2**32 - 1) come out invalid. The frames of all
    the series' data files are read, in order, once they are there."""
    stack = np.stack([FRAME.clip(0) + i for i in range(2)]).astype(np.uint32)
    stack[:, :, 7] = 2**32 - 1
    with h5py.File(tmp_path / "series_data_000001.h5", "w") as fh:
        fh.create_dataset("entry/data/data", data=stack)
    mask = np.zeros(FRAME.shape, np.uint32)
    mask[:, 7] = 1
    with h5py.File(tmp_path / "series_master.h5", "w") as fh:
        fh["entry/data/data_000001"] = h5py.ExternalLink("series_data_000001.h5", "/entry/data/data")
        fh["entry/data/data_000002"] = h5py.ExternalLink("series_data_000002.h5", "/entry/data/data")  # not written
        specific = fh.create_group("entry/instrument/detector/detectorSpecific")
        specific.create_dataset("pixel_mask", data=mask)
        specific.create_dataset("flatfield", data=np.ones(FRAME.shape, np.float32))
    keep = mask == 0
    frames = list(iter_patterns(tmp_path / "series_master.h5"))
    assert len(frames) == 2 and frames[0].metadata["hdf5_dataset"] == "entry/data/data_000001"
    assert frames[0].metadata["pixel_mask"] == "entry/instrument/detector/detectorSpecific/pixel_mask"
    assert np.isnan(frames[1].data[:, 7]).all()
    np.testing.assert_array_equal(frames[1].data[keep], (FRAME.clip(0) + 1)[keep])
    with h5py.File(tmp_path / "series_data_000002.h5", "w") as fh:  # the series' second data file arrives
        fh.create_dataset("entry/data/data", data=stack + 10)
    assert count_frames(tmp_path / "series_master.h5") == 4
    assert read_pattern(tmp_path / "series_master.h5", frame=0).metadata["hdf5_series"] == [
        "entry/data/data_000001", "entry/data/data_000002"]  # the master's names of its parts
    np.testing.assert_array_equal(read_pattern(tmp_path / "series_master.h5", frame=3).data[keep],
                                  (FRAME.clip(0) + 11)[keep])
    assert [p.frame for p in iter_patterns(tmp_path / "series_master.h5")] == [0, 1, 2, 3]


def test_an_eiger_master_file_copied_without_its_data_files_names_them(tmp_path):
    """The most common mistake with Eiger series: the master file copied alone. The error names the missing
    data files, not 'no image dataset'."""
    with h5py.File(tmp_path / "series_master.h5", "w") as fh:
        for i in range(1, 6):
            fh[f"entry/data/data_{i:06d}"] = h5py.ExternalLink(f"series_data_{i:06d}.h5", "/entry/data/data")
        fh.create_dataset("entry/instrument/detector/detectorSpecific/pixel_mask",
                          data=np.zeros(FRAME.shape, np.uint32))
    with pytest.raises(PatternReadError, match=r"series_master\.h5: its frames are in series_data_000001\.h5, "
                                               r"series_data_000002\.h5, series_data_000003\.h5 and 2 more \(external "
                                               r"links.*not found beside it: copy them with this file"):
        read_pattern(tmp_path / "series_master.h5")


def test_a_tiff_with_a_thumbnail_before_its_frame_reads_the_frame(tmp_path):
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tw:
        tw.write(np.zeros((8, 6), np.uint8))
        tw.write(FRAME)
    pattern = read_pattern(tmp_path / "thumb.tif")
    assert pattern.data.shape == FRAME.shape and pattern.metadata["ImageLength"] == 40  # the frame's own tags
    np.testing.assert_array_equal(pattern.data[FRAME >= 0], FRAME[FRAME >= 0])


def test_npy_and_multiframe_npy(tmp_path):
    np.save(tmp_path / "one.npy", FRAME)
    np.save(tmp_path / "stack.npy", np.stack([FRAME, FRAME]))
    np.testing.assert_array_equal(read_pattern(tmp_path / "one.npy").data, FRAME)
    assert [p.name for p in iter_patterns(tmp_path / "stack.npy")] == ["stack.npy#0", "stack.npy#1"]


def test_pilatus_raw_by_known_shape_and_given_shape(tmp_path):
    frame = RNG.poisson(5, size=(195, 487)).astype("<i4")
    frame.tofile(tmp_path / "p100k.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "p100k.raw").data, frame)
    FRAME.astype("<i4").tofile(tmp_path / "odd.raw")
    with pytest.raises(PatternReadError, match="give the shape"):
        read_pattern(tmp_path / "odd.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "odd.raw", shape=(40, 30)).data, FRAME)


@pytest.mark.parametrize("shape", [(195, 1475), (1475, 195), (512, 2068), (2068, 512)])
def test_raw_wide_detector_lying_or_standing_reads_in_the_layout_it_was_written(tmp_path, shape):
    """195×1475 and 1475×195 int32 frames (a Pilatus 300K-W; an Eiger2 1M-W: 512×2068) have one size; the
    layout whose vertical neighbours vary least is the one the pattern was written in."""
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    rings = 200 * (1 + np.cos(np.hypot(rows - shape[0] * 1.2, cols + 40) / 9.0))
    frame = np.random.default_rng(3).poisson(rings).astype("<i4")
    frame.tofile(tmp_path / "p300kw.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "p300kw.raw").data, frame)


def test_raw_ccd_and_float_frames_read_by_size_and_values(tmp_path):
    """A 16-bit CCD .raw is known by its size; a float32 .raw (a corrected frame) by its values."""
    ccd = RNG.poisson(300, size=(1024, 1024)).astype("<u2")
    ccd.tofile(tmp_path / "ccd.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "ccd.raw").data, ccd)
    corrected = (RNG.poisson(5, size=(195, 487)) / 3.7).astype("<f4")
    corrected.tofile(tmp_path / "corrected.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "corrected.raw").data, corrected)
    FRAME.clip(0).astype("<u2").tofile(tmp_path / "small16.raw")
    np.testing.assert_array_equal(read_pattern(tmp_path / "small16.raw", shape=(40, 30)).data,
                                  np.where(FRAME < 0, np.nan, FRAME))  # its gap row of zeros is fill
    with pytest.raises(PatternReadError, match="does not match shape 41x30"):
        read_pattern(tmp_path / "small16.raw", shape=(41, 30))


@pytest.mark.parametrize("shape, dtype", [((1043, 981), "<u2"), ((1062, 1028), "<i4"), ((700, 700), "<i4"),
                                          ((600, 600), "<u2")])
def test_raw_of_a_known_detector_at_the_other_depth_or_of_a_square_detector_reads_without_a_shape(
        tmp_path, shape, dtype):
    """A 16-bit Pilatus 1M read-out, an Eiger2 1M frame, and square frames of no listed detector are read by
    their size alone; a size neither known nor square still asks for the shape (above)."""
    frame = RNG.poisson(40, size=shape).astype(dtype)
    frame.tofile(tmp_path / "frame.raw")
    pattern = read_pattern(tmp_path / "frame.raw")
    np.testing.assert_array_equal(pattern.data, frame)
    assert pattern.metadata["raw_shape"] == list(shape)


def _bad_inputs(tmp_path):
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "text.tif").write_text("this is not an image\n")
    tifffile.imwrite(tmp_path / "whole.tif", RNG.integers(0, 1000, (200, 200), dtype=np.int32))
    blob = (tmp_path / "whole.tif").read_bytes()
    (tmp_path / "truncated.tif").write_bytes(blob[: len(blob) // 3])
    tifffile.imwrite(tmp_path / "rgb.tif", RNG.integers(0, 255, (50, 60, 3), dtype=np.uint8), photometric="rgb")
    np.save(tmp_path / "complex.npy", FRAME.astype(np.complex64))
    np.save(tmp_path / "nan.npy", np.full((20, 20), np.nan, np.float32))
    np.save(tmp_path / "pixel.npy", np.ones((1, 1), np.float32))
    tifffile.imwrite(tmp_path / "stack.tif", np.stack([FRAME] * 5))
    return {
        "missing.tif": "no such file",
        "empty.tif": "empty file",
        "text.tif": "not a TIFF file",
        "truncated.tif": "file cut short",
        "rgb.tif": "RGB",
        "complex.npy": "complex",
        "nan.npy": "all NaN",
        "pixel.npy": "too small",
        "stack.tif": "3-D stack of 5 frames",
    }


def test_bad_inputs_raise_one_named_error(tmp_path):
    for name, reason in _bad_inputs(tmp_path).items():
        with pytest.raises(PatternReadError) as info:
            read_pattern(tmp_path / name)
        message = str(info.value)
        assert name in message and reason.lower() in message.lower(), message
        assert "\n" not in message


def test_unreadable_file(tmp_path, monkeypatch):
    import xicam.camsort.io as camsort_io

    path = tmp_path / "locked.tif"
    tifffile.imwrite(path, FRAME)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads whatever the mode says: make open() refuse as it would for a user

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(camsort_io, "open", refuse, raising=False)
    with pytest.raises(PatternReadError, match="permission denied"):
        read_pattern(path)


def test_frame_paths_filters_by_extension(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.tif", "b.edf", "d.osc", "notes.txt", "sub/c.cbf"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in frame_paths([tmp_path])] == ["a.tif", "b.edf", "d.osc"]
    assert [p.name for p in frame_paths([tmp_path], recursive=True)] == ["a.tif", "b.edf", "d.osc", "c.cbf"]


def test_a_folder_is_listed_by_one_read_with_links_resolved_and_linked_folders_not_entered(tmp_path, monkeypatch):
    """A folder's frames come from its listing: only links are resolved one by one (a folder of 100,000
    frames, polled by ``camsort watch``, is not resolved file by file); a link to a frame of the folder is
    that frame, a broken link and a link to a folder are not frames, and a recursive scan does not follow
    links into folders (which could loop)."""
    (tmp_path / "data" / "sub").mkdir(parents=True)
    for name in ("data/b.tif", "data/a.tif", "data/sub/c.tif", "elsewhere.tif"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "data" / "z_same_as_a.tif").symlink_to(tmp_path / "data" / "a.tif")
    (tmp_path / "data" / "outside.tif").symlink_to(tmp_path / "elsewhere.tif")
    (tmp_path / "data" / "broken.tif").symlink_to(tmp_path / "gone.tif")
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)
    resolves = []
    real_resolve = Path.resolve
    monkeypatch.setattr(Path, "resolve", lambda self, *a, **k: resolves.append(self) or real_resolve(self, *a, **k))
    listed = resolved_frame_paths([tmp_path / "data"], recursive=True)
    assert [str(p.relative_to(tmp_path)) for p in listed] == ["data/a.tif", "data/b.tif", "data/outside.tif",
                                                              "data/sub/c.tif"]
    assert listed[tmp_path / "data" / "outside.tif"] == real_resolve(tmp_path / "elsewhere.tif")
    assert listed[tmp_path / "data" / "sub" / "c.tif"] == real_resolve(tmp_path / "data" / "sub" / "c.tif")
    assert sorted(p.name for p in resolves) == ["data", "outside.tif", "z_same_as_a.tif"]


def test_a_folder_that_cannot_be_listed_is_a_one_line_error_naming_it(tmp_path, unlistable):
    unlistable[tmp_path] = PermissionError(13, "Permission denied")
    with pytest.raises(CamsortError, match=f"^{re.escape(str(tmp_path))}: cannot list the folder: Permission denied$"):
        frame_paths([tmp_path])


def test_a_sub_folder_that_cannot_be_listed_is_named_and_the_others_listed(tmp_path, unlistable):
    for name in ("a.tif", "day1/b.tif", "day2/c.tif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        tifffile.imwrite(tmp_path / name, FRAME)
    unlistable[tmp_path / "day1"] = PermissionError(13, "Permission denied")
    unlisted: list[str] = []
    assert [p.name for p in frame_paths([tmp_path], True, unlisted)] == ["a.tif", "c.tif"]
    assert unlisted == [f"{tmp_path / 'day1'}: cannot list the folder: Permission denied"]


def test_a_folder_lists_frames_saved_without_an_ending_by_their_first_bytes(tmp_path):
    """py4xs' example frames are TIFFs named ``..._WAXS``; series are written as ``image.0001``."""
    tifffile.imwrite(tmp_path / "tiff.tif", FRAME)
    (tmp_path / "film-sth0.60.60s_WAXS").write_bytes((tmp_path / "tiff.tif").read_bytes())
    (tmp_path / "tiff.tif").unlink()
    fabio.edfimage.EdfImage(data=FRAME).write(str(tmp_path / "image.0001"))
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "scan_0002"))
    np.save(tmp_path / "a.npy", FRAME)
    (tmp_path / "a.npy").rename(tmp_path / "array")
    (tmp_path / "README").write_text("{ notes about the run }")
    (tmp_path / "log.0003").write_text("HeaderID but no brace")
    (tmp_path / "preview.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (tmp_path / "frame.txt").write_bytes((tmp_path / "film-sth0.60.60s_WAXS").read_bytes())  # .txt: not sniffed
    found = frame_paths([tmp_path])
    assert [p.name for p in found] == ["array", "film-sth0.60.60s_WAXS", "image.0001", "scan_0002"]
    for path in found:
        np.testing.assert_array_equal(np.nan_to_num(read_pattern(path).data, nan=-1), FRAME)


def test_a_ge_flat_panel_file_as_aps_writes_it_is_found_and_read_frame_by_frame(tmp_path):
    """APS' GE panels write ``NAME_00001.ge2``: 8192 header bytes (blanked to zeros since 2018), then
    2048x2048 uint16 frames."""
    frames = RNG.poisson(50, (2, 2048, 2048)).astype(np.uint16)
    (tmp_path / "CeO2_00001.ge2").write_bytes(bytes(8192) + frames.tobytes())
    assert [p.name for p in frame_paths([tmp_path])] == ["CeO2_00001.ge2"]
    patterns = list(iter_patterns(tmp_path / "CeO2_00001.ge2"))
    assert [p.frame for p in patterns] == [0, 1] and patterns[0].metadata["format"] == "ge"
    for pattern, frame in zip(patterns, frames):
        np.testing.assert_array_equal(pattern.data, frame)


def test_a_folder_lists_frames_compressed_with_gzip_or_bzip2_and_they_read_as_written(tmp_path):
    """Archives keep frames as .edf.bz2 or .cbf.gz: a folder scan finds them (not a gzipped HDF5 file or
    text), and each reads as the frame written."""
    import bz2
    import gzip

    import fabio

    fabio.edfimage.EdfImage(data=FRAME).write(str(tmp_path / "a.edf"))
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "b.cbf"))
    tifffile.imwrite(tmp_path / "c.tiff", FRAME)
    for name, packer in (("a.edf", bz2), ("b.cbf", gzip), ("c.tiff", bz2)):
        (tmp_path / f"{name}.{'bz2' if packer is bz2 else 'gz'}").write_bytes(
            packer.compress((tmp_path / name).read_bytes()))
        (tmp_path / name).unlink()
    for name in ("d.h5.gz", "notes.txt.gz", "e.mar2400"):
        (tmp_path / name).write_bytes(b"x")
    found = frame_paths([tmp_path])
    assert [p.name for p in found] == ["a.edf.bz2", "b.cbf.gz", "c.tiff.bz2", "e.mar2400"]
    for path in found[:3]:
        np.testing.assert_array_equal(read_pattern(path).stored, FRAME)


def test_a_fits_file_as_an_als_ccd_writes_it_reads_its_image_and_header(tmp_path):
    """ALS soft X-ray CCDs write FITS: a header-only primary HDU with the motors, a table of I0 values,
    then the image (unsigned 16-bit, stored with BZERO). It reads as written, gzipped too; a FITS file
    without an image gets a one-line reason."""
    import gzip

    from astropy.io import fits

    frame = RNG.integers(237, 60000, size=(40, 30)).astype(np.uint16)
    primary = fits.PrimaryHDU()
    primary.header["EXPOSURE"] = 2.0
    primary.header["HIERARCH Beamline Energy"] = 269.99
    table = fits.BinTableHDU.from_columns([fits.Column(name="0", format="E", array=np.ones(49))], name="Izeros")
    fits.HDUList([primary, table, fits.ImageHDU(frame, name="Images")]).writeto(tmp_path / "ccd.fits")
    (tmp_path / "ccd2.fits.gz").write_bytes(gzip.compress((tmp_path / "ccd.fits").read_bytes()))
    for name in ("ccd.fits", "ccd2.fits.gz"):
        pattern = read_pattern(tmp_path / name)
        np.testing.assert_array_equal(pattern.stored, frame)
        assert pattern.metadata["format"] == "fits"
        assert pattern.metadata["Beamline Energy"] == 269.99 and pattern.metadata["EXPOSURE"] == 2.0
    fits.HDUList([primary, table]).writeto(tmp_path / "table.fits")
    with pytest.raises(PatternReadError, match=r"table.fits: no image in this FITS file \(its 2 HDU"):
        read_pattern(tmp_path / "table.fits")
    whole = (tmp_path / "ccd.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(whole[:-1000])
    with pytest.raises(PatternReadError, match=r"cut.fits: unreadable FITS image: File may have been truncated"):
        read_pattern(tmp_path / "cut.fits")
    (tmp_path / "cut2.fits").write_bytes(whole[:-4000])  # the image's header only: its data is gone
    with pytest.raises(PatternReadError, match=r"cut2.fits: no image .* tables; .* file is corrupted") as error:
        read_pattern(tmp_path / "cut2.fits")
    assert "\n" not in str(error.value)
    assert [p.name for p in frame_paths([tmp_path])] == ["ccd.fits", "ccd2.fits.gz", "cut.fits", "cut2.fits",
                                                         "table.fits"]


def test_a_folder_lists_master_and_nexus_files_and_not_the_data_files_they_link_to(tmp_path):
    """An Eiger master file reads its data files, a Diamond NeXus scan file its detector's: a folder scan
    keeps the files that link and leaves out the linked ones, so no frame is sorted twice."""
    for name in ("s1_data_000001.h5", "s1_data_000002.h5", "lone_data_000001.h5", "i15-eiger_000001.h5"):
        with h5py.File(tmp_path / name, "w") as fh:
            fh.create_dataset("entry/data/data", data=np.ones((2, 8, 9), np.uint32))
    with h5py.File(tmp_path / "s1_master.h5", "w") as fh:
        for i in (1, 2):
            fh[f"entry/data/data_00000{i}"] = h5py.ExternalLink(f"s1_data_00000{i}.h5", "/entry/data/data")
    with h5py.File(tmp_path / "i15.nxs", "w") as fh:
        fh["entry/instrument/eiger/data"] = h5py.ExternalLink("i15-eiger_000001.h5", "/entry/data/data")
    (tmp_path / "x.tif").write_bytes(b"x")
    assert [p.name for p in frame_paths([tmp_path])] == ["i15.nxs", "lone_data_000001.h5", "s1_master.h5", "x.tif"]
    assert [p.name for p in frame_paths([tmp_path / "s1_data_000001.h5"])] == ["s1_data_000001.h5"]  # asked for


def test_real_frames_read_with_headers(real_frames):
    for technique, path in real_frames.items():
        p = read_pattern(path)
        assert p.data.shape == (1043, 981), technique
        assert p.metadata["dtype"] == "int32"
        assert np.nanmax(p.data) > 1000
    assert "count_time" in read_pattern(real_frames["SAXS"]).metadata


def test_a_gzipped_tiff_reads_and_prints_nothing(tmp_path, capfd):
    """fabio prints a debug line opening a .tif.gz; camsort's stdout (``predict --json``) stays clean."""
    import gzip

    tifffile.imwrite(tmp_path / "f.tif", FRAME)
    (tmp_path / "f.tif.gz").write_bytes(gzip.compress((tmp_path / "f.tif").read_bytes()))
    capfd.readouterr()
    np.testing.assert_array_equal(read_pattern(tmp_path / "f.tif.gz").stored, FRAME)
    assert capfd.readouterr().out == ""
    # reader threads of a sort each quiet stdout in turn, and leave it as it was
    from concurrent.futures import ThreadPoolExecutor

    before = sys.stdout
    with ThreadPoolExecutor(4) as pool:
        assert all(p.shape == FRAME.shape for p in pool.map(read_pattern, [tmp_path / "f.tif.gz"] * 16))
    assert sys.stdout is before


def test_stacks_of_1d_patterns_are_not_taken_for_frames(tmp_path):
    """Reduction software stores integrated 1-D patterns as rows of a 2-D array (50 × 4038): never a
    frame, in an HDF5 file beside one or alone, nor in a plain array file."""
    with h5py.File(tmp_path / "both.h5", "w") as fh:
        fh["processed/result/data"] = np.ones((50, 4038))
        fh["entry/data/data"] = FRAME
    assert read_pattern(tmp_path / "both.h5").metadata["hdf5_dataset"] == "entry/data/data"
    with h5py.File(tmp_path / "reduced.h5", "w") as fh:
        fh["processed/result/data"] = np.ones((50, 4038))
    with pytest.raises(PatternReadError, match="no numeric image dataset"):
        read_pattern(tmp_path / "reduced.h5")
    np.save(tmp_path / "lines.npy", np.ones((20, 1512), np.float32))
    with pytest.raises(PatternReadError, match=r"lines.npy: a 20×1512 array is too narrow .*1-D patterns"):
        read_pattern(tmp_path / "lines.npy")


def test_a_multi_page_tiff_is_opened_page_by_page_and_a_cut_page_is_named_alone(tmp_path):
    """open_frames leaves a multi-page TIFF on disk and reads each page when asked for; a page whose data
    the file no longer holds (cut short) is an error naming the file and the frame, the others read."""
    from xicam.camsort.io import _LazyStack, open_frames

    stack = RNG.integers(0, 1000, (5, 64, 80)).astype(np.int32)
    tifffile.imwrite(tmp_path / "series.tif", stack, compression="zlib")
    blob = (tmp_path / "series.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(blob[:-3000])  # into the last page's compressed data
    with open_frames(tmp_path / "cut.tif") as frames:
        assert isinstance(frames.stack, _LazyStack) and frames.nframes == 5
        for i in range(4):
            np.testing.assert_array_equal(frames.get(i).stored, stack[i])
            assert frames.get(i).frame == i
        with pytest.raises(PatternReadError, match=r"cut\.tif: frame 4: compressed data corrupt or cut short"):
            frames.get(4)
    assert count_frames(tmp_path / "series.tif") == 5


def test_frames_appended_to_a_tiff_one_write_at_a_time_are_all_read(tmp_path):
    """tifffile's TiffWriter makes each write a series of its own: such a file's frames are all read
    (it once gave its first frame only), and a reduced thumbnail after a frame is not taken for one."""
    stack = RNG.integers(0, 1000, (4, 64, 80)).astype(np.int32)
    with tifffile.TiffWriter(tmp_path / "appended.tif") as tif:
        for frame in stack:
            tif.write(frame)
    assert count_frames(tmp_path / "appended.tif") == 4
    assert [p.frame for p in iter_patterns(tmp_path / "appended.tif")] == [0, 1, 2, 3]
    np.testing.assert_array_equal(read_pattern(tmp_path / "appended.tif", frame=2).stored, stack[2])
    with pytest.raises(PatternReadError, match="3-D stack of 4 frames"):
        read_pattern(tmp_path / "appended.tif")
    with tifffile.TiffWriter(tmp_path / "thumbnail.tif") as tif:
        tif.write(stack[0])
        tif.write(stack[0][::4, ::4])
    np.testing.assert_array_equal(read_pattern(tmp_path / "thumbnail.tif").stored, stack[0])


def test_folder_listing_benchmark_lists_every_file_and_reports_its_ratio(tmp_path, monkeypatch, capsys):
    """``benchmarks/folder_listing.py`` (docs/performance.md) times the listing against ``os.listdir``."""
    import runpy

    script = Path(__file__).parents[1] / "benchmarks" / "folder_listing.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path), "--files", "50"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert out.startswith(f"50 files under {tmp_path}: os.listdir ") and "x the bare read)" in out
    assert not list(tmp_path.iterdir())  # its folder is removed


def _read_within(path: Path, seconds: float = 60) -> list:
    """The frames of ``path`` (or the PatternReadError), read in a thread that must end within ``seconds``."""
    import threading

    result: list = []

    def read() -> None:
        try:
            result.extend(iter_patterns(path))
        except PatternReadError as exc:
            result.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"reading {path.name} did not end"
    return result


def test_frames_cut_short_are_errors_never_a_hang_or_zeros(tmp_path):
    """A file cut short (a disk full, a copy interrupted): fabio read a CBF cut in its binary section's header
    for ever, and padded an EDF's missing data, or a gzip stream that ends early, with zeros (a frame of zeros
    sorted as NOT_SCATTERING)."""
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "whole.cbf"))
    fabio.edfimage.EdfImage(data=FRAME).write(str(tmp_path / "whole.edf"))
    cbf, edf = (tmp_path / "whole.cbf").read_bytes(), (tmp_path / "whole.edf").read_bytes()
    in_binary_header = cbf.index(b"--CIF-BINARY-FORMAT-SECTION--") + 60
    data_starts = cbf.index(b"\x0c\x1a\x04\xd5") + 4
    damaged = cbf.replace(b"--CIF-BINARY-FORMAT-SECTION--\r\n", b"--CIF-BINARY-FORMA_-SECTION--\r\n")
    cut = {"header.cbf": cbf[:in_binary_header], "header.cbf.gz": gzip.compress(cbf[:in_binary_header]),
           "data.cbf": cbf[:data_starts + 100], "marker.cbf": damaged, "magic.cbf": b"###?BF" + damaged[6:],
           "data.edf": edf[:len(edf) - 100], "stream.edf.gz": gzip.compress(edf)[:-300],
           "data.edf.gz": gzip.compress(edf[:len(edf) - 100])}
    for name, data in cut.items():
        (tmp_path / name).write_bytes(data)
    said = {name: str(_read_within(tmp_path / name)[0]) for name in cut}
    size = int(re.search(rb"X-Binary-Size: *(\d+)", cbf)[1])
    assert said == {
        "header.cbf": f"{tmp_path / 'header.cbf'}: CBF file cut short or damaged: no image data follows its binary "
                      "section's header",
        "header.cbf.gz": f"{tmp_path / 'header.cbf.gz'}: CBF file cut short or damaged: no image data follows its "
                         "binary section's header",
        "data.cbf": f"{tmp_path / 'data.cbf'}: CBF file cut short: 100 of the frame's {size} bytes of (compressed) "
                    "data",
        "marker.cbf": f"{tmp_path / 'marker.cbf'}: CBF file cut short or damaged: no image data follows its binary "
                      "section's header",
        "magic.cbf": f"{tmp_path / 'magic.cbf'}: CBF file cut short or damaged: no image data follows its binary "
                     "section's header",
        "data.edf": f"{tmp_path / 'data.edf'}: file cut short: {FRAME.nbytes - 100} of the frame's {FRAME.nbytes} "
                    "bytes of data",
        "stream.edf.gz": f"{tmp_path / 'stream.edf.gz'}: compressed file cut short or corrupt (Compressed file "
                         "ended before the end-of-stream marker was reached)",
        "data.edf.gz": f"{tmp_path / 'data.edf.gz'}: file cut short: {FRAME.nbytes - 100} of the frame's "
                       f"{FRAME.nbytes} bytes of data"}
    np.testing.assert_array_equal(_read_within(tmp_path / "whole.cbf")[0].stored, FRAME)
    at = cbf.index(b"_array_data.data")  # a header longer than fabio looks through for the binary section
    long_header = b"".join(b"# a long header's line %05d of 64 characters, or about that\r\n" % i for i in range(160))
    (tmp_path / "long_header.cbf").write_bytes(cbf[:at] + long_header + cbf[at:])
    np.testing.assert_array_equal(_read_within(tmp_path / "long_header.cbf")[0].stored, FRAME)
    (tmp_path / "whole.edf.gz").write_bytes(gzip.compress(edf))
    np.testing.assert_array_equal(_read_within(tmp_path / "whole.edf.gz")[0].stored, FRAME)
    huge = edf.replace(b"Dim_1 = 30 ", b"Dim_1 = 9000000 ")  # a damaged header: 1.4 GB of data declared
    assert huge != edf
    (tmp_path / "huge.edf").write_bytes(huge)
    tracemalloc.start()
    with pytest.raises(PatternReadError, match=r"huge.edf: file cut short: 4800 of the frame's 1440000000 bytes"):
        read_pattern(tmp_path / "huge.edf")
    assert tracemalloc.get_traced_memory()[1] < 50e6  # refused from its header, never padded with zeros
    tracemalloc.stop()
    series = fabio.edfimage.EdfImage(data=FRAME)  # a series whose last frame the file cuts short
    series.append_frame(fabio.edfimage.EdfFrame(data=FRAME + 1))
    series.write(str(tmp_path / "series.edf"))
    (tmp_path / "series.edf").write_bytes((tmp_path / "series.edf").read_bytes()[:-100])
    with open_frames(tmp_path / "series.edf") as frames:
        np.testing.assert_array_equal(frames.get(0).stored, FRAME)
        with pytest.raises(PatternReadError, match=r"series.edf: frame 1: file cut short: \d+ of the frame's"):
            frames.get(1)


def test_a_named_pipe_or_a_device_given_as_a_frame_is_refused_never_opened(tmp_path):
    """Opening a named pipe waits for a writer (for ever), and a device may never end: named as an input, each
    is an error naming what it is, without being opened."""
    os.mkfifo(tmp_path / "pipe.tif")
    assert str(_read_within(tmp_path / "pipe.tif", 30)[0]) == (
        f"{tmp_path / 'pipe.tif'}: not a regular file but a named pipe (FIFO), not a frame")
    assert str(_read_within(Path("/dev/zero"), 30)[0]) == (
        "/dev/zero: not a regular file but a character device, not a frame")
    assert str(_read_within(tmp_path, 30)[0]) == f"{tmp_path}: is a directory, not a frame"


def test_a_cbf_whose_data_does_not_match_its_checksum_is_an_error(tmp_path):
    """A CBF records its data's MD5 (Pilatus and fabio write it); fabio only logs a mismatch and decodes the damaged
    data (one byte changed shifts every pixel after it), which was sorted as a frame."""
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "whole.cbf"))
    whole = (tmp_path / "whole.cbf").read_bytes()
    at = whole.index(b"\x0c\x1a\x04\xd5") + 100
    damaged = whole[:at] + bytes([whole[at] ^ 0x04]) + whole[at + 1:]
    (tmp_path / "damaged.cbf").write_bytes(damaged)
    (tmp_path / "damaged.cbf.gz").write_bytes(gzip.compress(damaged))
    (tmp_path / "whole.cbf.gz").write_bytes(gzip.compress(whole))
    for name in ("damaged.cbf", "damaged.cbf.gz"):
        with pytest.raises(PatternReadError) as info:
            read_pattern(tmp_path / name)
        assert info.value.reason == "CBF data damaged: it does not match the MD5 checksum its header records"
    for name in ("whole.cbf", "whole.cbf.gz"):
        np.testing.assert_array_equal(read_pattern(tmp_path / name).stored, FRAME)
    (tmp_path / "unchecked.cbf").write_bytes(re.sub(rb"Content-MD5: *\S+\r?\n", b"", damaged))
    assert read_pattern(tmp_path / "unchecked.cbf").shape == FRAME.shape  # no checksum recorded: nothing to check


def test_damaged_files_are_named_in_plain_words(tmp_path):
    """What tifffile, numpy, HDF5, zlib and fabio raise on a damaged file reaches the user in plain words ("file
    cut short"), not as the library's "failed to read 2400 bytes, got 1200" or "truncated file: eof = ..."."""
    tifffile.imwrite(tmp_path / "whole.tif", FRAME)
    np.save(tmp_path / "whole.npy", FRAME)
    with h5py.File(tmp_path / "whole.h5", "w") as fh:
        fh["entry/data/data"] = np.stack([FRAME] * 3)
    fabio.adscimage.AdscImage(data=FRAME.astype(np.uint16)).write(str(tmp_path / "whole.img"))
    fabio.edfimage.EdfImage(data=FRAME).write(str(tmp_path / "whole.edf"))
    fabio.cbfimage.CbfImage(data=FRAME).write(str(tmp_path / "whole.cbf"))
    whole = {end: (tmp_path / f"whole.{end}").read_bytes() for end in ("tif", "npy", "h5", "img", "edf", "cbf")}
    deflated = gzip.compress(whole["edf"])
    damaged = {"cut.tif": whole["tif"][:len(whole["tif"]) - 1200], "cut.npy": whole["npy"][:-100],
               "cut.h5": whole["h5"][:len(whole["h5"]) // 2], "cut.img": whole["img"][:-101],
               "key.edf": whole["edf"].replace(b"ByteOrder", b"ByteOrdxr"),
               "byte.cbf": whole["cbf"].replace(b"_array_data", b"_arr\xe4y_data", 1),
               "flip.edf.gz": deflated[:20] + bytes([deflated[20] ^ 0x55]) + deflated[21:]}
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
    said = {}
    for name in damaged:
        with pytest.raises(PatternReadError) as info:
            read_pattern(tmp_path / name)
        said[name] = info.value.reason
    assert said == {
        "cut.tif": f"file cut short: {FRAME.nbytes - 1200} of {FRAME.nbytes} bytes of image data there",
        "cut.npy": "file cut short: its header declares more data than it holds",
        "cut.h5": f"HDF5 file cut short: {len(whole['h5']) // 2} of its {len(whole['h5'])} bytes",
        "cut.img": "file cut short or its header damaged: its data does not end on a whole pixel",
        "key.edf": "damaged or incomplete header: it has no 'BYTEORDER' key",
        "byte.cbf": "damaged header: a byte that is not text (0xe4) where text belongs",
        "flip.edf.gz": said["flip.edf.gz"]}
    assert re.fullmatch(r"compressed data corrupt or cut short \(invalid [^()]+\)", said["flip.edf.gz"])
    failure = OSError("Unable to synchronously open file (bad superblock status flags)")
    assert plain_reason(failure) is None  # one camsort has no words for keeps the library's
    assert plain_reason(KeyError("NROWS")) is None  # a KeyError is a header's key only where said so


def test_damaged_files_of_every_format_read_as_frames_or_named_errors(tmp_path, capsys):
    """``benchmarks/damaged_files.py`` (docs/performance.md): cut and bit-flipped files of eleven formats never
    hang a reader or crash it or the folder's listing (a damaged CBF hung fabio, a damaged HDF5 crashed the
    listing, until 2026-12-03)."""
    import runpy

    script = Path(__file__).parents[1] / "benchmarks" / "damaged_files.py"
    main = runpy.run_path(str(script))["main"]
    assert main([str(tmp_path), "--per-format", "12", "--seed", "3", "--timeout", "60"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["format"] == ["files", "frames", "error", "hang", "crash"]
    assert len(rows) == 11 + 3 and rows["all"][0] == "132" and rows["all"][3:] == ["0", "0"]
    assert rows["listing"] == ["the", "folder:", "132", "of", "132", "files", "listed", "as", "frame", "files"]
    assert len(list((tmp_path / "damaged").iterdir())) == 132  # kept in the folder given, to look at


def _virtual_series(folder: Path, parts: int = 2) -> Path:
    """A NeXus file whose frames are a virtual dataset over ``parts`` data files of two frames each, as Diamond's
    Odin writes an Eiger's series (the data files are not written here)."""
    layout = h5py.VirtualLayout(shape=(2 * parts, *FRAME.shape), dtype=FRAME.dtype)
    for n in range(parts):
        layout[2 * n:2 * n + 2] = h5py.VirtualSource(f"scan_{n + 1:06d}.h5", "data", shape=(2, *FRAME.shape))
    with h5py.File(folder / "scan.nxs", "w") as fh:
        fh.create_virtual_dataset("entry/data/data", layout, fillvalue=0)
    return folder / "scan.nxs"


def _data_file(folder: Path, n: int) -> None:
    with h5py.File(folder / f"scan_{n:06d}.h5", "w") as fh:
        fh["data"] = np.stack([FRAME + 10 * n, FRAME + 10 * n + 1])


def test_a_virtual_dataset_reads_its_data_files_frames_once_and_names_those_not_there(tmp_path):
    """A listing leaves the data files to the NeXus file that maps them (or every frame is sorted twice), and a
    frame whose data file is not there is an error, not HDF5's fill value (a blank frame, NOT_SCATTERING)."""
    nexus = _virtual_series(tmp_path)
    with pytest.raises(PatternReadError, match=r"scan\.nxs: its frames are in scan_000001\.h5, scan_000002\.h5 \(a "
                                               r"virtual dataset.*not found beside it: copy them with this file"):
        read_pattern(nexus, frame=0)
    _data_file(tmp_path, 1)
    assert [p.name for p in frame_paths([tmp_path])] == ["scan.nxs"]
    with open_frames(nexus) as frames:
        np.testing.assert_array_equal(frames.get(1).stored, FRAME + 11)
        with pytest.raises(PatternReadError, match=r"scan\.nxs: frame 2: its data file scan_000002\.h5 is not there"):
            frames.get(2)
    _data_file(tmp_path, 2)
    assert [int(p.stored[0, 0] - FRAME[0, 0]) for p in iter_patterns(nexus)] == [10, 11, 20, 21]


def test_a_virtual_dataset_copied_from_where_it_was_written_finds_its_data_files_beside_it(tmp_path):
    """Odin names data files by their absolute paths at the beamline; HDF5 then finds them by their base names
    beside the NeXus file they were copied with, and so must camsort (not call them missing)."""
    (tmp_path / "beamline").mkdir()
    layout = h5py.VirtualLayout(shape=(2, *FRAME.shape), dtype=FRAME.dtype)
    layout[0:2] = h5py.VirtualSource(str(tmp_path / "beamline" / "scan_000001.h5"), "data", shape=(2, *FRAME.shape))
    with h5py.File(tmp_path / "scan.nxs", "w") as fh:
        fh.create_virtual_dataset("entry/data/data", layout, fillvalue=0)
    _data_file(tmp_path, 1)  # copied beside the NeXus file; the beamline's folder is empty
    assert [p.name for p in frame_paths([tmp_path])] == ["scan.nxs"]
    assert [int(p.stored[0, 0] - FRAME[0, 0]) for p in iter_patterns(tmp_path / "scan.nxs")] == [10, 11]
