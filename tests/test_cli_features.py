"""`camsort train-cnn` and `camsort featurize` on a labelled folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from xicam.camsort.cli import EXIT_ERROR, main
from xicam.camsort.datasets import write_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, 10, seed=12, size=128)
    return root


def test_train_cnn_then_featurize(data, tmp_path, capsys):
    model = tmp_path / "net.keras"
    assert main(["train-cnn", "--data", str(data), "--out", str(model), "--epochs", "2", "--size", "64"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert model.is_file() and report["epochs_run"] == 2 and 0 <= report["best_val_accuracy"] <= 1
    out = tmp_path / "f.npz"
    assert main(["featurize", "--method", "lenet-fast", "--data", str(data), "--model", str(model),
                 "--out", str(out), "--size", "64"]) == 0
    npz = np.load(out, allow_pickle=False)
    assert npz["features"].shape == (40, 192) and list(npz["labels"][:1]) == ["SAXS"] and len(npz["paths"]) == 40


def test_featurize_texture_and_missing_model(data, tmp_path, capsys):
    out = tmp_path / "g.npz"
    assert main(["featurize", "--method", "glcm", "--data", str(data), "--out", str(out), "--size", "64"]) == 0
    assert np.load(out, allow_pickle=False)["features"].shape == (40, 24)
    assert main(["featurize", "--method", "lenet", "--data", str(data), "--out", str(out)]) == EXIT_ERROR
    assert "needs --model" in capsys.readouterr().err


def test_gradcam_command_writes_overlays_and_names_bad_files(data, tmp_path, capsys):
    frame = sorted((data / "GISAXS").glob("*.tif"))[0]
    bad = tmp_path / "bad.tif"
    bad.write_text("no")
    assert main(["gradcam", str(frame), str(bad), "--out", str(tmp_path / "cam")]) == 3
    captured = capsys.readouterr()
    assert captured.out.strip().endswith(".gradcam.png") and "bad.tif" in captured.err
    assert len(list((tmp_path / "cam").glob("*.png"))) == 1


def test_featurize_keras_application_without_weights_names_the_file(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    out = tmp_path / "r.npz"
    assert main(["featurize", "--method", "resnet50", "--data", str(data), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(tmp_path / "keras" / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") in err
    assert "--weights FILE" in err and not out.exists()


@pytest.mark.parametrize("argv, said", [
    (["similar", "q.tif", "--index", "idx", "--top", "0"], "argument --top: a whole number of at least 1 is needed, "
                                                           "not '0'"),
    (["sort", "in", "--out", "out", "--workers", "-2"], "argument --workers: a whole number of at least 1"),
    (["run", "sort", "-i", "in", "-o", "out", "--batch-size", "0"], "argument --batch-size: a whole number of at"),
    (["info", "f.tif", "--frames", "two"], "argument --frames: a whole number of at least 0 is needed, not 'two'"),
    (["watch", "in", "--out", "out", "--interval", "0"], "argument --interval: seconds above 0 are needed, not '0'"),
    (["watch", "in", "--out", "out", "--settle", "-1"], "argument --settle: seconds of at least 0 are needed"),
    (["adapt", "--data", "lab", "--out", "m", "--user-share", "2"], "argument --user-share: a probability in (0, 1]"),
])
def test_numbers_out_of_range_are_refused_by_the_option_that_takes_them(argv, said, capsys):
    """``similar --top 0`` ended in scikit-learn's traceback, ``sort --workers 0`` and ``-2`` ran as if given 1,
    ``watch --interval 0`` polled without pause: each is now the usage error of its option, before anything runs."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and said in capsys.readouterr().err
