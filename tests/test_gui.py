"""The CamSort Xi-cam GUI: found by Xi-cam, predicts off the GUI thread, shows, filters, exports, never crashes.

One Xi-cam main window serves the module (as `camsort gui` builds it); each test starts from an
empty Sort stage. Frames are simulated at a binned size so the whole file runs in well under a minute.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from xicam.camsort import CLASSES, UNSURE
from xicam.camsort.calibration import shown
from xicam.camsort.datasets import read_labelled_folder
from xicam.camsort.io import read_pattern, write_tiff
from xicam.camsort.metadata_check import check_metadata, patterns_odds
from xicam.camsort.preprocess import preprocess
from xicam.camsort.simulate import simulate

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui

WAIT_MS = 120_000
TECHNIQUES_OF_BATCH = ("SAXS", "WAXS", "GISAXS", "GIWAXS", "SAXS", "GIWAXS")


@pytest.fixture(scope="module")
def xicam(qapp):
    """Xi-cam's main window with every installed plugin collected and CamSort selected; and the plugin."""
    from xicam.camsort.gui.app import main_window, settle

    window, plugin = main_window()
    window.resize(1400, 900)
    window.show()
    settle(0.5)  # Xi-cam's own start-up events (its toolbar animations, deferred layouts) run here, not in a test
    yield window, plugin
    plugin.sort_stage.shutdown()
    window.close()


@pytest.fixture
def stage(xicam, qtbot):
    """The plugin's Sort stage, emptied before and after the test."""
    stage = xicam[1].sort_stage
    stage.clear()
    yield stage
    stage.cancel()
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    stage.clear()
    stage.table.set_filter("All outcomes")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> list[Path]:
    """Six simulated frames (int32 TIFFs with their simulator header) and a corrupt 'bad.tif' last.

    The first (SAXS) frame's header claims a grazing incidence angle, as a stale header would.
    """
    folder = tmp_path_factory.mktemp("batch")
    paths = []
    for i, technique in enumerate(TECHNIQUES_OF_BATCH):
        pattern = simulate(technique, 100 + i, long_side=256)
        paths.append(folder / f"frame_{i}.tif")  # no technique in the name: a name is weighed as evidence
        header = {**pattern.metadata, **({"incidence_angle": 0.3} if i == 0 else {})}
        write_tiff(paths[-1], pattern.data.astype(np.int32), header)
    bad = folder / "bad.tif"
    bad.write_text("this is not a detector frame\n")
    return [*paths, bad]


def _load(stage, qtbot, paths) -> list:
    stage.add_paths([str(p) for p in paths])
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    return stage.results.rows


def _tick(stage, qtbot, name: str, checked: bool) -> None:
    """Set a yes/no workflow input through the tick box Xi-cam's editor shows for it, as a user does."""
    from qtpy.QtWidgets import QCheckBox, QTreeWidgetItemIterator

    operation = next(op for op in stage.workflow.operations if name in op.input_names)
    stage.editor.setParameters(operation)
    qtbot.wait(50)  # the editor unblocks the new parameters' signals in a queued event
    found, items = [], QTreeWidgetItemIterator(stage.editor.operationeditor)
    while items.value():
        if getattr(items.value(), "param", None) is not None and items.value().param.name() == name:
            found.append(items.value())
        items += 1
    [item] = found
    assert item.param.type() == "bool" and isinstance(item.widget, QCheckBox)
    item.widget.setChecked(checked)
    assert operation.filled_values[name] is checked


def _pixels(widget) -> np.ndarray:
    from qtpy.QtGui import QImage

    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    bits = image.constBits()
    bits.setsize(image.byteCount())
    return np.frombuffer(bits, np.uint8).reshape(image.height(), image.bytesPerLine()).copy()


def test_xicam_discovers_the_plugin_and_shows_its_sort_stage(xicam):
    from xicam.plugins import manager

    from xicam.camsort.gui import CamSortPlugin

    window, plugin = xicam
    assert isinstance(manager.get_plugin_by_name("camsort", "GUIPlugin"), CamSortPlugin)
    assert plugin in manager.get_plugins_of_type("GUIPlugin") and plugin.name == "CamSort"
    nodes = window.pluginmodewidget._nodes  # the main window's plugin/stage list (its toolbar)
    plugin_node = next(n for n in nodes if n.object is plugin)
    assert [child.name for child in plugin_node.children] == ["Sort"]
    assert any(n.name == "Sort" and n.object is plugin.stages["Sort"] for n in nodes)
    stage = plugin.sort_stage
    assert window.currentGUIPlugin is plugin
    assert window.centralWidget().currentWidget() is stage.view
    assert window.leftwidget.widget() is stage.loader and window.rightwidget.widget() is stage.panel
    assert window.bottomwidget.widget() is stage.table
    from xicam.camsort.gui.workflow import parameter
    from xicam.camsort.workflows import load

    shipped = load("sort")  # the workflow panel shows camsort's shipped sort workflow, as an Xi-cam Workflow
    assert stage.editor.workflow is stage.workflow and stage.workflow.name == shipped["name"]
    assert len(stage.workflow.operations) == len(shipped["operations"]) == stage.editor.workflowview.model().rowCount()
    assert parameter(stage.workflow, "model_dir") is None and parameter(stage.workflow, "mode") == "copy"


def test_real_frames_fill_the_table_with_the_cores_predictions(stage, qtbot, real_frames, cnn_sorter):
    rows = _load(stage, qtbot, real_frames.values())
    assert len(rows) == 4 and not any(r.error for r in rows)
    for row in rows:
        pattern = read_pattern(row.source)  # decided as the core does, with what its header and name say
        expected = cnn_sorter.reconsider(cnn_sorter.decide(preprocess(pattern.data, cnn_sorter.size)[None]),
                                         patterns_odds([pattern]))[0]
        assert row.label == expected["label"] and np.allclose(row.probabilities, expected["probabilities"])
        assert row.cam is not None and row.cam.shape == (cnn_sorter.size,) * 2
    assert stage.loader.progress.value() == stage.loader.progress.maximum() == 4
    assert stage.panel.label.text() == rows[0].label.replace("_", " ")  # the first row is shown at once


def test_batch_with_a_corrupt_file_gets_an_error_row_not_a_crash(stage, qtbot, batch, monkeypatch):
    from xicam.camsort.gui import worker

    threads = []
    predict_files = worker.predict_files

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return predict_files(*args, **kwargs)

    monkeypatch.setattr(worker, "predict_files", spy)
    rows = _load(stage, qtbot, batch)
    assert threads and all(t is not threading.main_thread() for t in threads)  # predicted off the GUI thread
    assert [Path(r.source).name for r in rows] == [p.name for p in batch]
    good, bad = rows[:-1], rows[-1]
    assert all(r.label in (*CLASSES, UNSURE) and not r.error for r in good)
    assert bad.label == "ERROR" and "not a TIFF file" in bad.error
    from xicam.camsort.gui.table import NOTE

    table = stage.table.view.model()
    note = table.index(len(rows) - 1, NOTE).data()
    assert note == bad.error and "\n" not in note
    stage.select(len(rows) - 1)
    assert stage.panel.label.text() == "ERROR" and bad.error in stage.panel.detail.text()
    assert stage.view.image_view.image is None and "not a TIFF file" in stage.view.title.text()
    assert "; 1 error(s)" in stage.loader.status.text()


def test_what_the_header_weighed_or_contradicts_is_shown(stage, qtbot, batch):
    rows = _load(stage, qtbot, batch[:2])  # the first frame's header has an incidence angle: weighed, and said so
    assert rows[0].weighed.startswith("weighed: header incidence angle 0.3 deg suggests grazing incidence "
                                      "(image alone:")
    assert rows[0].check == ""
    assert (rows[0].label in ("SAXS", "WAXS")) == rows[0].weighed.endswith("the image outweighed it")
    stage.select(0)
    assert stage.panel.check.text().startswith("⚖ Weighed: header incidence angle 0.3 deg")
    pattern = read_pattern(rows[1].source)
    assert rows[1].weighed == "" and rows[1].check == check_metadata(pattern.metadata, rows[1].label)
    stage.select(1)
    assert "no incidence angle or distance" in stage.panel.check.text()


def test_classify_frames_weigh_metadata_off_decides_by_the_images_alone_in_the_table_and_the_export(
        stage, qtbot, batch, tmp_path):
    """Unticking Classify frames' weigh_metadata in the workflow editor (``--ignore-metadata``) predicts again by
    the images alone: the first frame's grazing header is then only held against the outcome, and the export
    records it."""
    weighed = _load(stage, qtbot, batch[:1])[0]
    assert weighed.weighed.startswith("weighed: header incidence angle 0.3 deg")
    _tick(stage, qtbot, "weigh_metadata", False)
    assert stage.weigh_metadata is False
    try:
        stage.editor.workflow_widget.run_button.click()
        qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
        [alone] = stage.results.rows
        assert alone.weighed == "" and not np.allclose(alone.probabilities, weighed.probabilities)
        assert alone.check == check_metadata(read_pattern(alone.source).metadata, alone.label)
        with qtbot.waitSignal(stage.sigExported, timeout=WAIT_MS):
            stage.export_to(str(tmp_path / "sorted"))
        assert json.loads((tmp_path / "sorted" / "sort_settings.json").read_text())["weigh_metadata"] is False
        with open(tmp_path / "sorted" / "manifest.csv", newline="") as fh:
            [row] = list(csv.DictReader(fh))
        assert row["technique"] == alone.label and not row["metadata_check"].startswith("weighed")
    finally:
        stage.workflow.fill_kwargs(weigh_metadata=True)


def test_selecting_a_row_shows_its_frame_and_cam_and_the_overlay_toggles(stage, qtbot, batch):
    from xicam.camsort.gui.imaging import cam_placement, log_image

    rows = _load(stage, qtbot, batch[:3])
    stage.select(2)
    row = rows[2]
    view = stage.view
    assert np.array_equal(view.image_view.image, log_image(read_pattern(row.source).data))
    crop, _ = cam_placement(row.cam, row.shape)
    assert np.array_equal(view.cam_item.image, crop)
    assert stage.panel.label.text() == row.label.replace("_", " ")
    assert stage.panel.bars[row.top].value() == round(row.p_top * 1000)
    assert len(row.members) == 3  # the shipped ensemble: each member's top class is shown too
    assert ("lenet-fast → PCA(32) → xgboost, averaged over 3 members and each frame's mirror image"
            in stage.loader.model_info.text())
    assert "Members: " + ", ".join(f"{t} {shown(p, 2):.2f}" for t, p in row.members) in stage.panel.detail.text()

    view.set_overlay(False)
    without = _pixels(view.image_view)
    view.set_overlay(True)
    with_cam = _pixels(view.image_view)
    assert np.abs(with_cam.astype(int) - without).sum() > 1000
    view.opacity.setValue(10)
    assert not np.array_equal(_pixels(view.image_view), with_cam)


def test_a_long_file_name_is_shortened_on_screen_and_does_not_widen_the_window(stage, qtbot, tmp_path):
    """Beamline file names run to 100 characters: the view's title and the panel show them shortened in the
    middle (the outcome first, the name's end last, whole in the tooltip) rather than stretching the window
    beyond the screen."""
    from qtpy.QtWidgets import QLabel

    long = tmp_path / ("pywaxs_sample_" + "x2.002_th0.300_0.49s_" * 6 + "maxs.tif")
    write_tiff(long, simulate("SAXS", 3, long_side=256).data)
    width = stage.view.minimumSizeHint().width()
    rows = _load(stage, qtbot, [long])
    stage.select(0)
    title = stage.view.title
    assert title.text() == f"{rows[0].label} · Grad-CAM of {rows[0].top}  —  {long.name}" == title.toolTip()
    title.resize(500, title.height())  # as wide as it is beside the overlay controls in a 1680-px window
    shown = QLabel.text(title)  # what is painted
    assert shown.startswith(f"{rows[0].label} · Grad-CAM of") and "…" in shown and shown.endswith("_maxs.tif")
    assert stage.view.minimumSizeHint().width() == width and stage.panel.minimumSizeHint().width() < 400
    assert stage.panel.file.text() == long.name and stage.panel.path.text() == str(tmp_path)


def test_filter_shows_only_one_technique(stage, qtbot, batch):
    rows = _load(stage, qtbot, batch)
    label = rows[0].label
    stage.table.set_filter(label)
    shown = stage.table.visible_rows()
    assert shown and all(r.label == label for r in shown)
    assert len(shown) == sum(r.label == label for r in rows) < len(rows)
    stage.table.set_filter("ERROR")
    assert [r.error != "" for r in stage.table.visible_rows()] == [True]
    stage.table.set_filter("All outcomes")
    assert len(stage.table.visible_rows()) == len(rows)


def test_export_copies_files_byte_identical_with_a_manifest(stage, qtbot, batch, tmp_path):
    rows = _load(stage, qtbot, batch)
    out = tmp_path / "sorted"
    with qtbot.waitSignal(stage.sigExported, timeout=WAIT_MS) as exported:
        stage.export_to(str(out))
    summary = exported.args[0]
    assert summary.sorted == len(batch) - 1 and len(summary.errors) == 1
    for row in rows[:-1]:
        copy = out / row.label / Path(row.source).name
        assert copy.read_bytes() == Path(row.source).read_bytes()
    with open(out / "manifest.csv", newline="") as fh:
        manifest = {Path(r["source"]).name: r for r in csv.DictReader(fh)}
    assert {name: r["technique"] for name, r in manifest.items()} == {Path(r.source).name: r.label for r in rows}
    assert "not a TIFF file" in manifest["bad.tif"]["error"]
    assert "Exported" in stage.loader.status.text()
    from xicam.camsort.gui.workflow import parameter

    assert parameter(stage.workflow, "out") == str(out)  # the workflow panel shows where the frames went
    # the folder records what it was sorted with; exporting into it with other settings is refused, and said
    import json

    settings = json.loads((out / "sort_settings.json").read_text())
    assert settings["mode"] == "copy" and settings["threshold"] == 0.6 and len(settings["model_sha256"]) == 64
    (out / "sort_settings.json").write_text(json.dumps(dict(settings, mode="manifest-only")))
    before = sorted(p.name for p in out.rglob("*"))
    stage.export_to(str(out))
    qtbot.waitUntil(lambda: "Export failed" in stage.loader.status.text(), timeout=WAIT_MS)
    assert "mode manifest-only then, copy now" in stage.loader.status.text()
    assert sorted(p.name for p in out.rglob("*")) == before


def test_cancel_stops_the_prediction_and_run_workflow_resumes(stage, qtbot, batch, tmp_path):
    many = []
    for i in range(5):  # 30 files: four batches of 8
        for path in batch[:-1]:
            many.append(tmp_path / f"{i}_{path.name}")
            many[-1].write_bytes(path.read_bytes())
    with qtbot.waitSignal(stage.results.rowsInserted, timeout=WAIT_MS):
        stage.add_paths([str(p) for p in many])
    stage.loader.cancel.click()
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    assert 0 < len(stage.results.rows) < len(many)
    assert stage.loader.status.text().startswith("Cancelled")
    run = stage.editor.workflow_widget.run_button  # Xi-cam's "Run Workflow" predicts the whole batch again
    assert not run.isChecked()
    run.click()
    assert stage.busy and run.isChecked()
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    assert len(stage.results.rows) == len(many) and not run.isChecked()


def test_a_folder_that_is_not_a_model_is_reported_not_fatal(stage, qtbot, batch, tmp_path):
    _load(stage, qtbot, batch[:1])
    stage.set_model(str(tmp_path))
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    assert "no camsort model here" in stage.loader.status.text() and not stage.results.rows
    stage.set_model(None)
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    assert len(stage.results.rows) == 1


def test_frames_labelled_in_the_gui_adapt_the_model_which_then_reads_the_others_right(stage, qtbot, tmp_path,
                                                                                        monkeypatch):
    from qtpy.QtWidgets import QFileDialog

    from tests.conftest import glowing_waxs
    from xicam.camsort.sorter import DEFAULT_MODEL_DIR, Sorter

    paths = []
    for seed in range(12):  # an instrument whose WAXS frames glow around the beam: the shipped model says SAXS
        paths.append(tmp_path / f"ceo2_{seed:02d}.tif")
        write_tiff(paths[-1], glowing_waxs(seed))
    rows = _load(stage, qtbot, paths)
    assert [r.top for r in rows[6:]].count("SAXS") >= 4 and not stage.loader.adapt.isEnabled()
    assert not stage.loader.save_labels.isEnabled()
    for n in range(6):  # the user says what the first six are, in the panel's "Your label"
        stage.select(n)
        stage.panel.truth.setCurrentText("WAXS")
        stage.panel.truth.activated.emit(stage.panel.truth.currentIndex())
    stage.select(5)
    stage.panel.truth.setCurrentIndex(0)  # ... and takes the sixth back
    stage.panel.truth.activated.emit(0)
    assert [r.truth for r in rows] == ["WAXS"] * 5 + [None] * 7 and stage.loader.adapt.isEnabled()
    from xicam.camsort.gui.table import LABEL

    assert stage.results.index(0, LABEL).data() == "WAXS"  # the "Your label" column

    stage.adapt_to(str(DEFAULT_MODEL_DIR))  # never written over
    assert "choose a new folder" in stage.loader.status.text() and stage._adapter is None
    stage.adapt_to(str(tmp_path))  # a folder of other files: refused before any work
    assert f"{tmp_path}: exists and is not a camsort model" in stage.loader.status.text() and stage._adapter is None

    labelled = tmp_path / "labelled"  # the labels, saved as a labelled folder that camsort adapt --data reads
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(labelled))
    stage.loader.save_labels.click()
    qtbot.waitUntil(lambda: stage._label_saver is None, timeout=WAIT_MS)
    assert f"saved to {labelled}: 5 frame(s) written" in stage.loader.status.text()
    assert sorted(p.name for p in (labelled / "WAXS").iterdir()) == [p.name for p in paths[:5]]
    assert all((labelled / "WAXS" / p.name).read_bytes() == p.read_bytes() for p in paths[:5])
    assert read_labelled_folder(labelled)["technique"] == ["WAXS"] * 5

    stage.adapt_simulated = 60
    out = tmp_path / "adapted"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    stage.loader.adapt.click()
    assert "Adapting the model to 5 labelled frame(s) (WAXS 5)" in stage.loader.status.text()
    qtbot.waitUntil(lambda: stage._adapter is None and not stage.busy, timeout=WAIT_MS)
    assert stage.loader.model.currentText() == str(out) and "adapted to 5 labelled" in stage.loader.model_info.text()
    stale, rows = rows[0], stage.results.rows
    assert len(rows) == 12 and [r.truth for r in rows] == ["WAXS"] * 5 + [None] * 7  # labels outlive re-prediction
    stage.label_row(stale, "SAXS")  # a row the new prediction replaced: its frame's new row takes the label
    assert rows[0].truth == "SAXS" and stage.labels[rows[0].key] == "SAXS"
    assert [r.label for r in rows[6:]].count("WAXS") >= 5, [r.label for r in rows[6:]]  # frames nobody labelled
    record = Sorter.load(out).info["adapted"]  # a verified model, recording what it learnt from
    assert [(Path(f["file"]).name, f["label"]) for f in record["labelled_in_gui"]] == \
        [(p.name, "WAXS") for p in paths[:5]]
    stage.clear()
    assert not stage.labels and not stage.loader.adapt.isEnabled()
    stage.set_model(None)
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)

    stage.add_paths([labelled])  # the saved folder, loaded again: its frames come back with their labels
    qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
    rows = stage.results.rows
    assert sorted(Path(r.source).name for r in rows) == [p.name for p in paths[:5]]
    assert [r.truth for r in rows] == ["WAXS"] * 5 and stage.loader.adapt.isEnabled()
    assert stage.results.index(0, LABEL).data() == "WAXS"
    stage.clear()
    sorted_out = tmp_path / "sorted"  # a sorted folder's technique folders are predictions, not labels
    (sorted_out / "SAXS").mkdir(parents=True)
    write_tiff(sorted_out / "SAXS" / "a.tif", glowing_waxs(0))
    stage.add_paths([sorted_out])
    assert not stage.labels and not stage.files
    assert stage.loader.status.text() == (f"No frame files in {sorted_out} (a folder's sub-folders are not read: "
                                          "add them one by one)")


def test_cam_placement_maps_the_letterboxed_square_onto_the_frame():
    from xicam.camsort.gui.imaging import cam_placement

    cam = np.arange(128 * 128, dtype=np.float32).reshape(128, 128)
    crop, (x, y, width, height) = cam_placement(cam, (1043, 981))
    scale = 1043 / 128
    assert crop.shape[0] == 128 and crop.shape[1] in (121, 122, 123)
    assert y == 0 and height == pytest.approx(1043)
    assert -scale < x <= 0 and 981 <= x + width < 981 + scale
    assert np.array_equal(crop, cam[:, 3:3 + crop.shape[1]])


def test_camsort_gui_screenshot_runs_xicam_offscreen(batch, tmp_path):
    png = tmp_path / "shot.png"
    exe = Path(sys.executable).parent / "camsort"
    out = subprocess.run([str(exe), "gui", str(batch[0]), str(batch[-1]), "--screenshot", str(png), "--select", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 50_000


def test_xicam_search_line_edit_resizes_without_type_error(qtbot):
    from xicam.camsort import gui  # noqa: F401  (installs the Xi-cam widget fixes)
    from xicam.gui.widgets.searchlineedit import SearchLineEdit

    edit = SearchLineEdit()
    qtbot.addWidget(edit)
    edit.resize(301, 37)  # odd height: Xi-cam's own resizeEvent would call move() with a float
    edit.show()
    qtbot.waitExposed(edit)
    assert edit.clearButton.y() == (edit.rect().bottom() + 1 - edit.clearButton.sizeHint().height()) // 2


def test_predictions_on_dask_workers_equal_the_threads(stage, qtbot, batch):
    from xicam.camsort.executors import DaskExecutor

    here = [(r.source, r.label, r.probabilities, r.error) for r in _load(stage, qtbot, batch)]
    stage.clear()
    with DaskExecutor.start("local", workers=2) as executor:
        stage.executor = executor
        try:
            rows = _load(stage, qtbot, batch)
        finally:
            stage.executor = None
    assert [(r.source, r.label, r.probabilities, r.error) for r in rows] == here
    assert all(r.cam is not None for r in rows if not r.error)


def test_all_detectors_of_read_frames_shows_and_exports_the_other_detectors_frames(stage, qtbot, tmp_path):
    """An HDF5 file with a SAXS and a WAXS detector (as NSLS-II LiX writes): the status line says the
    WAXS frames are not shown; ticking Read frames' all_detectors predicts, shows and exports them."""
    import h5py
    from qtpy.QtCore import Qt

    from xicam.camsort.gui.imaging import log_image
    from xicam.camsort.gui.table import FRAME

    saxs, waxs = "scan/primary/data/pil1M_image", "scan/primary/data/pilW2_image"
    path = tmp_path / "lix.h5"
    with h5py.File(path, "w") as fh:
        fh[saxs] = simulate("SAXS", 10, long_side=256).data[None].astype(np.int32)
        fh[waxs] = np.stack([simulate("WAXS", s, long_side=256).data[:120, :120] for s in (5, 9)]).astype(np.int32)
    rows = _load(stage, qtbot, [path])
    assert [r.name for r in rows] == ["lix.h5"]
    hint = "1 HDF5 file(s) hold other detectors' images: tick all_detectors in Read frames"
    assert hint in stage.loader.status.text()
    _tick(stage, qtbot, "all_detectors", True)
    try:
        stage.editor.workflow_widget.run_button.click()
        qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
        rows = stage.results.rows
        assert [r.name for r in rows] == ["lix.h5", "lix.h5:pilW2_image#0", "lix.h5:pilW2_image#1"]
        assert "other detectors" not in stage.loader.status.text()
        stage.table.view.sortByColumn(FRAME, Qt.DescendingOrder)
        assert [r.name for r in stage.table.visible_rows()] == [r.name for r in rows[::-1]]
        stage.table.view.sortByColumn(-1, Qt.AscendingOrder)
        stage.select(2)
        assert np.array_equal(stage.view.image_view.image, log_image(read_pattern(path, frame=1, dataset=waxs).data))
        out = tmp_path / "sorted"
        with qtbot.waitSignal(stage.sigExported, timeout=WAIT_MS) as exported:
            stage.export_to(str(out))
        assert exported.args[0].sorted == 3
        with open(out / "manifest.csv", newline="") as fh:
            manifest = {r["frame"]: r for r in csv.DictReader(fh)}
        assert {key: r["technique"] for key, r in manifest.items()} == {
            "": rows[0].label, f"{waxs}[0]": rows[1].label, f"{waxs}[1]": rows[2].label}
        np.testing.assert_array_equal(read_pattern(manifest[f"{waxs}[1]"]["output"]).data,
                                      read_pattern(path, frame=1, dataset=waxs).data)
    finally:
        stage.workflow.fill_kwargs(all_detectors=False)


def test_raw_shape_of_read_frames_reads_headerless_frames_of_any_detector(stage, qtbot, tmp_path):
    """A headerless .raw whose size names no known detector is an error row until Read frames' raw_shape gives
    its shape; then it is predicted and exported, and a malformed shape stops with a one-line reason."""
    raw = tmp_path / "odd.raw"
    simulate("SAXS", 4, long_side=256).data[:70, :50].astype("<i4").tofile(raw)  # no detector is 70x50
    rows = _load(stage, qtbot, [raw])
    assert "matches no known detector shape" in rows[0].error
    try:
        for text, stops in (("70 by 50", True), ("70x50", False)):
            stage.workflow.fill_kwargs(raw_shape=text)
            stage.editor.workflow_widget.run_button.click()
            qtbot.waitUntil(lambda: not stage.busy, timeout=WAIT_MS)
            said = stage.loader.status.text()
            assert ("Read frames' raw_shape: shape must look like ROWSxCOLS" in said) == stops, said
        [row] = stage.results.rows
        assert not row.error and row.shape == (70, 50)
        with qtbot.waitSignal(stage.sigExported, timeout=WAIT_MS) as exported:
            stage.export_to(str(tmp_path / "sorted"))
        assert exported.args[0].sorted == 1 and not exported.args[0].errors
    finally:
        stage.workflow.fill_kwargs(raw_shape="")
