"""The package installs as an Xi-cam plugin: compat, namespace, entry points, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xicam.camsort
from xicam.camsort.cli import EXIT_ERROR, EXIT_PARTIAL, main

ROOT = Path(__file__).resolve().parents[1]


def test_namespace_package_has_no_xicam_init():
    assert not (ROOT / "xicam" / "__init__.py").exists()
    assert Path(xicam.camsort.__file__).parent == ROOT / "xicam" / "camsort"


def test_compat_restores_aliases_xicam_needs():
    import collections

    from xicam.camsort import compat

    compat.apply()
    assert collections.MutableMapping is collections.abc.MutableMapping
    assert np.int is int and np.float is float


def test_xicam_imports_in_a_fresh_interpreter_only_through_compat():
    code = ("import xicam.camsort.compat, xicam.plugins, pyqtgraph; from xicam.core.execution import Workflow; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_an_operation_found_by_xicam_runs(xicam_plugins):
    op = xicam_plugins.get_plugin_by_name("camsort_preprocess_frame", "OperationPlugin")
    image = op()(image=np.random.default_rng(0).poisson(3, (100, 80)).astype(np.float32), size=32)
    assert image[0].shape == (32, 32) if isinstance(image, tuple) else image.shape == (32, 32)


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and xicam.camsort.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "info" in capsys.readouterr().out


def test_cli_info_json_and_errors(tmp_path, capsys):
    import tifffile

    good = tmp_path / "good.tif"
    tifffile.imwrite(good, np.arange(12, dtype=np.uint16).reshape(3, 4))
    bad = tmp_path / "bad.tif"
    bad.write_text("nope")
    assert main(["info", "--json", str(good)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [3, 4] and info["dtype"] == "uint16" and info["max"] == 11 and info["count_scale"] == 1
    assert info["weighed"] == []
    named = tmp_path / "film_th0.120_WAXS.tif"  # what the name says, as a decision would weigh it
    tifffile.imwrite(named, np.arange(12, dtype=np.uint16).reshape(3, 4))
    assert main(["info", str(named)]) == 0
    assert ("weighed in decisions: file name incidence angle 0.12 deg suggests grazing incidence; "
            "file name 'WAXS' suggests wide angle") in capsys.readouterr().out
    normalised = tmp_path / "per_monitor.tif"  # counts divided by a monitor: named as not counts
    counts = np.random.default_rng(0).poisson(3, (200, 200)).astype(np.float32)
    tifffile.imwrite(normalised, counts * np.float32(2e-6))
    assert main(["info", str(normalised)]) == 0
    assert "not photon counts: one photon reads about 2e-06" in capsys.readouterr().out
    assert main(["info", str(good), str(bad)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.tif" in err and "Traceback" not in err
    assert main(["info", str(bad)]) == EXIT_ERROR
    # a stack: the first frames described, the rest counted (a series may hold thousands)
    import h5py

    with h5py.File(tmp_path / "series.h5", "w") as fh:
        fh["entry/data/data"] = np.random.default_rng(1).poisson(3, (10, 40, 30)).astype(np.int32)
    assert main(["info", str(tmp_path / "series.h5")]) == 0
    out = capsys.readouterr().out
    assert out.count("format hdf5, shape 40x30") == 3 and f"... and 7 more frame(s) of {tmp_path / 'series.h5'}" in out
    assert main(["info", "--frames", "0", "--json", str(tmp_path / "series.h5")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in rows] == list(range(10)) and {r["frames_in_file"] for r in rows} == {10}


def test_console_script_runs():
    exe = Path(sys.executable).parent / "camsort"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "camsort" in out.stdout
