"""Workflow files, Xi-cam operations and the dask executor: registered ops only, round trips, same results."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from xicam.camsort import workflows
from xicam.camsort.errors import CamsortError
from xicam.camsort.executors import DaskExecutor, run_once
from xicam.camsort.runner import run_mapped
from xicam.camsort.sortjob import sort_frames

from conftest import write_simulated_frames

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("sort", "gradcam", "lenet_pca_rf", "sweep")


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    """Twelve simulated frames of all four techniques, plus one corrupt file."""
    folder = write_simulated_frames(tmp_path_factory.mktemp("frames"), 12, seed=100, long_side=300)
    (folder / "broken.tif").write_text("not a tiff")
    return folder


@pytest.fixture(scope="module")
def two_workers():
    with DaskExecutor.start("local", workers=2, threads=1) as executor:
        yield executor


def _manifest(path: Path) -> list[tuple]:
    """Manifest rows without the run's own folder: source, technique, probabilities, metadata check, error,
    output name."""
    with open(path, newline="") as fh:
        return [(r["source"], r["technique"], *[r[k] for k in r if k.startswith("p_")], r["metadata_check"], r["error"],
                 Path(r["output"]).relative_to(path.parent).as_posix() if r["output"] else "")
                for r in csv.DictReader(fh)]


def test_every_operation_is_registered_and_discovered_by_xicam(xicam_plugins):
    from xicam.camsort.operations import OPERATIONS

    for name, op in OPERATIONS.items():
        found = xicam_plugins.get_plugin_by_name(f"camsort_{name}", "OperationPlugin")
        assert found is not None and found._func is op._func, name
    categories = {op.categories[0][1] for op in OPERATIONS.values()}
    assert {"Read", "Preprocess", "Featurize", "Reduce", "Classify", "Evaluate", "Explain"} <= categories


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_workflow_round_trips(name, tmp_path):
    spec = workflows.load(name)
    workflow = workflows.to_workflow(spec)
    assert len(workflow.operations) == len(spec["operations"])
    assert workflows.from_workflow(workflow) == spec
    saved = workflows.dump(workflows.from_workflow(workflow), tmp_path / f"{name}.yml")
    assert workflows.load(saved) == spec
    assert (ROOT / "workflows" / f"{name}.yml").read_text() == workflows.resolve(name).read_text()


@pytest.mark.parametrize("text, reason", [
    ("operations: {x: {op: os.system}}", "not a registered camsort operation"),
    ("operations: {x: {op: 'xicam.camsort.io:read_pattern'}}", "not a registered camsort operation"),
    ("operations: {x: !!python/object/apply:os.system ['true']}", "not a valid YAML workflow"),
    ("operations: {x: {op: read_frames, params: {evil: 1}}}", "has no inputs ['evil']"),
    ("operations: {x: {op: read_frames}}\nlinks: ['x.items -> y.items']", "undefined operation 'y'"),
    ("operations: {x: {op: read_frames}, y: {op: preprocess_frames}}\nlinks: ['x.nope -> y.items']",
     "has no output 'nope'"),
    ("operations: {x: {op: read_frames}}\nimport: os", "unknown keys ['import']"),
    ("operations: {x: {op: classify_frames, params: {weigh_metadata: 'no'}}}",
     "(classify_frames): weigh_metadata must be true or false, not 'no'"),
    ("operations: {x: {op: place_frames, params: {mode: move}}}",
     "mode must be one of copy, link, symlink, manifest-only, not 'move'"),
    ("operations: {x: {op: preprocess_frames, params: {size: 8}}}", "size must be from 16 to 1024, not 8"),
    ("operations: {x: {op: preprocess_frames, params: {size: 64.5}}}", "size must be a whole number, not 64.5"),
    ("- just a list", "a workflow file is a mapping"),
])
def test_bad_workflow_files_are_rejected_with_the_reason(tmp_path, text, reason):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(CamsortError) as err:
        workflows.load(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_the_editor_shows_each_input_by_its_type_and_hides_linked_ones():
    """Xi-cam builds an input's control from its annotation: yes/no inputs are tick boxes, sizes spin boxes within
    their limits, modes drop-downs; arrays and batches arrive by links and are not shown."""
    from xicam.camsort.operations import OPERATIONS

    def controls(name):
        return {p["name"]: (p["type"], p.get("limits"), p["value"]) for p in OPERATIONS[name]().as_parameter()}

    assert controls("read_frames") == {"all_detectors": ("bool", None, False), "raw_shape": ("str", None, "")}
    assert controls("preprocess_frames") == {"size": ("int", [16, 1024], 256)}
    assert controls("classify_frames") == {"model_dir": ("str", None, ""), "weigh_metadata": ("bool", None, True)}
    assert controls("place_frames") == {"out": ("str", None, ""),
                                        "mode": ("list", ["copy", "link", "symlink", "manifest-only"], "copy")}
    assert controls("cross_validate_classifier")["classifier"][:2] == (
        "list", ["rf", "et", "lightgbm", "xgboost", "catboost"])
    assert controls("predict") == {}  # a classifier and a feature matrix: both arrive by links


def test_set_overrides_parameters_and_rejects_unknown_nodes():
    spec = workflows.with_params(workflows.load("sort"), ["place.mode=link", "preprocess.size=64"])
    assert spec["operations"]["place"]["params"]["mode"] == "link"
    assert spec["operations"]["preprocess"]["params"]["size"] == 64
    with pytest.raises(CamsortError, match="NODE.PARAM=VALUE"):
        workflows.with_params(spec, ["nowhere.size=3"])
    assert workflows.with_params(spec, ["classify.weigh_metadata=no"])["operations"]["classify"]["params"][
        "weigh_metadata"] is False  # YAML's no
    with pytest.raises(CamsortError, match="weigh_metadata must be true or false, not 'off please'"):
        workflows.with_params(spec, ["classify.weigh_metadata=off please"])


def test_sort_workflow_on_dask_equals_camsort_sort(frames, tmp_path, cnn_sorter, two_workers):
    """The same outcomes, notes and copies as ``camsort sort``, a grazing frame whose file name gives its angle
    weighed alike; a re-run retries only the broken file."""
    inbox = tmp_path / "in"
    shutil.copytree(frames, inbox)
    shutil.copy(frames / "frame_02.tif", inbox / "film_th0.200_5s.tif")  # a GISAXS frame, named with its angle
    reference = sort_frames([inbox], tmp_path / "sorted", cnn_sorter, progress=False)
    spec = workflows.load("sort")
    summary = run_mapped(spec, [str(inbox)], tmp_path / "run", two_workers, batch_size=3, progress=False)
    assert summary.counts == reference.counts and len(summary.errors) == 1 and "broken.tif" in summary.errors[0]
    assert summary.weighed == reference.weighed == 1
    assert _manifest(tmp_path / "run" / "manifest.csv") == _manifest(tmp_path / "sorted" / "manifest.csv")
    with open(tmp_path / "run" / "manifest.csv", newline="") as fh:
        notes = {Path(r["source"]).name: r["metadata_check"] for r in csv.DictReader(fh) if r["metadata_check"]}
    assert list(notes) == ["film_th0.200_5s.tif"]
    assert notes["film_th0.200_5s.tif"].startswith("weighed: file name incidence angle 0.2 deg suggests grazing")
    for copy in (tmp_path / "run").glob("*/*.tif"):
        assert copy.read_bytes() == (inbox / copy.name).read_bytes()
    again = run_mapped(spec, [str(inbox)], tmp_path / "run", two_workers, batch_size=3, progress=False)
    assert again.skipped == 13 and sum(again.counts.values()) == 0  # only the broken file is retried


def test_run_sort_decides_by_the_images_alone_with_ignore_metadata_or_the_parameter_off(frames, tmp_path, cnn_sorter,
                                                                                     two_workers):
    """``camsort run sort --ignore-metadata`` and ``--set classify.weigh_metadata=false`` both give what
    ``camsort sort --ignore-metadata`` gives, and record it in sort_settings.json."""
    import json

    from xicam.camsort.sorter import for_run

    (tmp_path / "in").mkdir()
    shutil.copy(frames / "frame_02.tif", tmp_path / "in" / "film_th0.200_5s.tif")
    reference = sort_frames([tmp_path / "in"], tmp_path / "sorted", for_run(cnn_sorter, weigh_metadata=False),
                            progress=False, mode="manifest-only")
    spec = workflows.load("sort")
    for out, spec_run, weigh in (("flag", spec, False),
                                 ("set", workflows.with_params(spec, ["classify.weigh_metadata=false"]), True)):
        summary = run_mapped(spec_run, [str(tmp_path / "in")], tmp_path / out, two_workers, progress=False,
                             mode="manifest-only", weigh_metadata=weigh)
        assert summary.weighed == reference.weighed == 0
        assert _manifest(tmp_path / out / "manifest.csv") == _manifest(tmp_path / "sorted" / "manifest.csv")
        assert json.loads((tmp_path / out / "sort_settings.json").read_text())["weigh_metadata"] is False
    weighed = run_mapped(spec, [str(tmp_path / "in")], tmp_path / "weighed", two_workers, progress=False,
                         mode="manifest-only")
    assert weighed.weighed == 1


def test_sort_workflow_sorts_every_detector_of_a_file_as_camsort_sort_does(tmp_path, cnn_sorter, two_workers):
    """``camsort run sort --all-detectors``: a SAXS and a WAXS detector in one HDF5 file, each frame to its
    technique, the same manifest as ``camsort sort --all-detectors``; a re-run does nothing."""
    (tmp_path / "shots").mkdir()
    shots = write_simulated_frames(tmp_path / "shots", 2, seed=8, long_side=200)  # both over 64 px a side
    frames = {"saxs": tifffile.imread(shots / "frame_00.tif"), "waxs": tifffile.imread(shots / "frame_01.tif")}
    (tmp_path / "in").mkdir()
    with h5py.File(tmp_path / "in" / "two.h5", "w") as fh:
        fh["scan/data/saxs_image"] = frames["saxs"][None]
        fh["scan/data/waxs_image"] = frames["waxs"][None]
    reference = sort_frames([tmp_path / "in"], tmp_path / "sorted", cnn_sorter, progress=False, all_detectors=True)
    spec = workflows.load("sort")
    summary = run_mapped(spec, [str(tmp_path / "in")], tmp_path / "run", two_workers, progress=False,
                         all_detectors=True)
    assert summary.sorted == reference.sorted == 2 and not summary.errors
    assert _manifest(tmp_path / "run" / "manifest.csv") == _manifest(tmp_path / "sorted" / "manifest.csv")
    again = run_mapped(spec, [str(tmp_path / "in")], tmp_path / "run", two_workers, progress=False,
                       all_detectors=True)
    assert again.sorted == 0 and again.skipped == 2


def test_a_long_stack_reaches_the_workers_in_parts_with_the_results_of_camsort_sort(frames, tmp_path, cnn_sorter,
                                                                                      two_workers):
    """``camsort run sort`` hands a worker a part of a long HDF5 stack, never the whole: 70 frames in one file
    go out as parts of 32, 32 and 6 frames, and the manifest is the one ``camsort sort`` writes."""
    from xicam.camsort.runner import _batches
    from xicam.camsort.sortjob import work_units

    shots = [tifffile.imread(p) for p in sorted(frames.glob("*.tif")) if p.name != "broken.tif"]
    (tmp_path / "in").mkdir()
    with h5py.File(tmp_path / "in" / "series.h5", "w") as fh:
        rows, cols = min(f.shape[0] for f in shots), min(f.shape[1] for f in shots)  # one detector's frames
        fh.create_dataset("entry/data/data", data=np.stack([shots[i % len(shots)][:rows, :cols] for i in range(70)]))
    units = work_units([tmp_path / "in" / "series.h5"])
    assert [(u["start"], u["stop"], n) for u, n in units] == [(0, 32, 32), (32, 64, 32), (64, 70, 6)]
    assert [len(b) for b in _batches(units + [("a.tif", 1)] * 3, 32)] == [1, 1, 4]  # the last part with 3 files
    reference = sort_frames([tmp_path / "in"], tmp_path / "sorted", cnn_sorter, progress=False, mode="manifest-only")
    summary = run_mapped(workflows.load("sort"), [str(tmp_path / "in")], tmp_path / "run", two_workers,
                         progress=False, mode="manifest-only")
    assert summary.sorted == reference.sorted == 70 and not summary.errors
    assert _manifest(tmp_path / "run" / "manifest.csv") == _manifest(tmp_path / "sorted" / "manifest.csv")


def test_one_worker_gives_the_same_results_as_two(frames, tmp_path, two_workers):
    spec = workflows.load("sort")
    with DaskExecutor.start("local", workers=1) as one:
        run_mapped(spec, [str(frames)], tmp_path / "one", one, batch_size=2, progress=False, mode="manifest-only")
    run_mapped(spec, [str(frames)], tmp_path / "two", two_workers, batch_size=5, progress=False, mode="manifest-only")
    assert _manifest(tmp_path / "one" / "manifest.csv") == _manifest(tmp_path / "two" / "manifest.csv")


def test_a_worker_killed_mid_run_still_yields_complete_results(frames, tmp_path, two_workers):
    spec = workflows.load("sort")
    client = two_workers.client
    kwargs = [{"paths": [str(p)], "out": str(tmp_path / "out"), "mode": "manifest-only"}
              for p in sorted(frames.glob("*.tif"))]
    pids = list(client.run(os.getpid).values())
    results = {}
    for i, result in two_workers.map(spec, kwargs, progress=False):
        results[i] = result["place"]["rows"]
        if len(results) == 1:  # a worker process dies while the other tasks are queued or running
            os.kill(pids[0], signal.SIGKILL)
    assert sorted(results) == list(range(len(kwargs)))
    assert [rows[0]["source"] for _, rows in sorted(results.items())] == [str(Path(k["paths"][0]).resolve())
                                                                         for k in kwargs]
    client.wait_for_workers(2, timeout=60)
    assert pids[0] not in client.run(os.getpid).values()  # the worker really died and was replaced


def test_xicam_executor_protocol_runs_a_workflow(frames, two_workers):
    workflow = workflows.to_workflow(workflows.load("sort"))
    workflow.fill_kwargs(paths=[str(frames / "frame_00.tif")], mode="manifest-only", out="unused")  # a SAXS frame
    results = workflow.execute_synchronous(executor=two_workers)
    assert results[0]["rows"][0]["technique"] in ("SAXS", "UNSURE")


def test_lenet_pca_rf_workflow_runs_once_and_scores(tmp_path):
    from xicam.camsort.datasets import write_dataset

    write_dataset(tmp_path / "data", 40, seed=5, size=64)
    spec = workflows.with_params(workflows.load("lenet_pca_rf"), ["load.size=32", "evaluate.folds=2"])
    result = run_once(spec, {"folder": str(tmp_path / "data")})
    summary = result["evaluate"]["summary"]
    assert 0 <= summary["accuracy_mean"] <= 1 and len(result["evaluate"]["records"]) == 2


def test_sweep_maps_combinations_and_resumes(tmp_path, two_workers):
    from xicam.camsort.datasets import write_dataset
    from xicam.camsort.runner import sweep_mapper
    from xicam.camsort.study import run_study

    write_dataset(tmp_path / "data", 12, seed=6, size=96)
    mapper = sweep_mapper(two_workers, workflows.load("sweep"), progress=False)
    log: list[str] = []
    run_study(tmp_path / "data", tmp_path / "out", ["hist"], ["rf", "et", "lightgbm"], ["BL", "BLA"], folds=3, size=32,
              log=log.append, mapper=mapper)
    assert sorted(p.name for p in (tmp_path / "out" / "runs").glob("*.json")) == sorted([
        f"hist_{v}_{c}.json" for v in ("BL", "BLA") for c in ("et", "lightgbm", "rf")])
    serial = tmp_path / "serial"
    run_study(tmp_path / "data", serial, ["hist"], ["rf", "et", "lightgbm"], ["BL", "BLA"], folds=3, size=32,
              log=lambda *_: None)
    def metrics(folder: Path) -> list[list[str]]:  # everything but the fit/predict seconds
        return [line.split(",")[:-2] for line in (folder / "results.csv").read_text().splitlines()]

    assert metrics(serial) == metrics(tmp_path / "out")  # BLA's groups reach the workflow's CV too
    log.clear()
    run_study(tmp_path / "data", tmp_path / "out", ["hist"], ["rf", "et", "lightgbm"], ["BL", "BLA"], folds=3, size=32,
              log=log.append, mapper=mapper)
    assert log == []


def test_slurm_dry_run_prints_the_configured_job_script(tmp_path):
    out = subprocess.run([sys.executable, "-m", "xicam.camsort.cli", "run", "sort", "--input", str(tmp_path),
                          "--out", str(tmp_path / "o"), "--executor", "slurm", "--config",
                          str(ROOT / "hpc" / "perlmutter.yaml"), "--dry-run"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for expected in ("#SBATCH -A m0000", "#SBATCH --qos=regular", "#SBATCH --constraint=cpu", "#SBATCH -t 02:00:00",
                     "distributed.cli.dask_worker", "export CAMSORT_THREADS=4", "source $SCRATCH/camsort/.venv"):
        assert expected in out.stdout, expected
    assert not (tmp_path / "o").exists()


def test_operations_compose_a_study_graph():
    from xicam.camsort import operations as ops

    rng = np.random.default_rng(0)
    images = rng.random((40, 32, 32), dtype=np.float32)
    labels = np.repeat(np.arange(4), 10)
    images += labels[:, None, None] * 0.5
    features, _ = ops.featurize_hist()(images=images)
    reduced, reducer = ops.reduce_features()(features=features, n_components=3)
    classifier = ops.fit_rf()(features=reduced, labels=labels)
    predictions, probabilities = ops.predict()(classifier=classifier, features=reducer.transform(features))
    assert probabilities.shape == (40, 4)
    assert ops.score_predictions()(labels=labels, predictions=predictions)["accuracy"] > 0.9


def test_camsort_run_names_the_files_and_folders_that_failed_on_stderr(frames, tmp_path, unlistable, capfd):
    """As ``camsort sort`` does: each error on stderr, exit code 3 (the summary alone gave only their count)."""
    from xicam.camsort.cli import EXIT_PARTIAL, main

    (tmp_path / "in" / "day2").mkdir(parents=True)
    for name in ("frame_00.tif", "broken.tif"):
        shutil.copy(frames / name, tmp_path / "in" / name)
    unlistable[tmp_path / "in" / "day2"] = PermissionError(13, "Permission denied")
    argv = ["run", "sort", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-r", "-q", "--executor", "process"]
    assert main(argv) == EXIT_PARTIAL
    printed = capfd.readouterr()  # file descriptors: Xi-cam's messages module wants stderr's
    assert printed.out.startswith("sorted 1 frame(s), skipped 0 already done, 2 error(s)\n")
    assert printed.err.splitlines() == [f"camsort: error: {tmp_path / 'in' / 'day2'}: cannot list the folder: "
                                        "Permission denied",
                                        f"camsort: error: {tmp_path / 'in' / 'broken.tif'}: not a TIFF file (no TIFF "
                                        "signature in its first bytes)"]


@pytest.mark.parametrize("executor", ["process", "local"])
def test_camsort_run_prints_no_qt_timer_warnings(frames, tmp_path, executor):
    """Xi-cam's thread manager starts a Qt timer as it is imported: with no Qt application (a CLI run) Qt printed
    ``QObject::startTimer: Timers can only be used with threads started with QThread``, and each dask worker, which
    imported Xi-cam in a task's thread, ``QObject::killTimer: ...`` as it ended."""
    (tmp_path / "in").mkdir()
    for name in ("frame_00.tif", "frame_01.tif"):
        shutil.copy(frames / name, tmp_path / "in" / name)
    run = subprocess.run([sys.executable, "-m", "xicam.camsort.cli", "run", "sort", "-i", str(tmp_path / "in"),
                          "-o", str(tmp_path / "out"), "-q", "--executor", executor, "--workers", "2",
                          "--mode", "manifest-only"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("sorted 2 frame(s)")
    assert "QObject::" not in run.stderr, run.stderr[-2000:]
