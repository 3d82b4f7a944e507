"""Test-session set-up: a throw-away HOME (Xi-cam writes ~/Xi-CAM Plugins), offscreen Qt, quiet TF."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ["HOME"] = tempfile.mkdtemp(prefix="camsort-home-")
atexit.register(shutil.rmtree, os.environ["HOME"], ignore_errors=True)  # not one more folder in /tmp per run
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REAL_DIR = Path(os.environ.get("CAMSORT_REAL_DIR",
                               Path(__file__).resolve().parents[2] / "shared" / "examples" / "real"))
"""The four real frames beside the checkout (../shared/examples/real); tests skip when absent."""


@pytest.fixture(scope="session")
def xicam_plugins():
    """Xi-cam's plugin manager with every plugin loaded. Xi-cam loads them in a thread after
    ``collect_plugins`` returns, and one prints to stdout ("CAMLINK is not installed"): waiting here keeps
    that print out of a later test's captured output."""
    from xicam.camsort import compat  # noqa: F401
    from xicam.plugins import manager

    manager.collect_plugins()
    deadline = time.monotonic() + 120
    while manager.plugin_loader.isRunning() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not manager.plugin_loader.isRunning(), "Xi-cam still loading plugins after 120 s"
    return manager


@pytest.fixture(scope="session")
def real_frames() -> dict[str, Path]:
    """Technique -> path of the real example frame of that technique."""
    if not REAL_DIR.is_dir():
        pytest.skip(f"real example frames not found at {REAL_DIR}")
    frames = {d.name: next(p for p in sorted(d.iterdir()) if p.is_file())
              for d in sorted(REAL_DIR.iterdir()) if d.is_dir()}
    if len(frames) < 4:
        pytest.skip(f"expected 4 technique folders in {REAL_DIR}, found {sorted(frames)}")
    return frames



@pytest.fixture(scope="session")
def cnn_sorter():
    """The model shipped in the package (a LeNet sorter with fixed weights: deterministic tests)."""
    from xicam.camsort.sorter import load_cached

    return load_cached(None)


def write_simulated_frames(folder: Path, n: int, seed: int, long_side: int) -> Path:
    """``n`` simulated TIFFs cycling through the four techniques, frame ``i`` of ``TECHNIQUES[i % 4]`` named
    ``frame_<i>.tif`` (a technique in a name would be weighed in the decision)."""
    from xicam.camsort import TECHNIQUES
    from xicam.camsort.io import write_tiff
    from xicam.camsort.simulate import simulate

    for i in range(n):
        technique = TECHNIQUES[i % 4]
        write_tiff(folder / f"frame_{i:02d}.tif", simulate(technique, seed + i, long_side=long_side).data)
    return folder


def glowing_waxs(seed: int) -> np.ndarray:
    """A WAXS frame of an instrument with a small beamstop, where the powder's own small-angle scattering
    glows around the beam: a kind of real frame (Dioptas' CeO2 on a PI CCD) the shipped model calls SAXS."""
    from xicam.camsort.simulate import simulate

    data = simulate("WAXS", seed, detector="pilatus1m", beam_fraction=(0.5, 0.5), long_side=256).data
    rows, cols = data.shape
    r = np.hypot(*np.mgrid[:rows, :cols] - np.array([rows / 2, cols / 2])[:, None, None])
    glow = np.nanmax(data) * 20 / (1 + (r / 4.0) ** 2) ** 1.5
    return np.where(data >= 0, data + np.round(glow), data)


@pytest.fixture
def unlistable(monkeypatch) -> dict[Path, OSError]:
    """Folders ``os.scandir`` refuses to list, each with its error (not readable, a file server away), as tests
    run as root cannot make them; delete a folder's entry to let it be listed again."""
    refused: dict[Path, OSError] = {}
    real_scandir = os.scandir

    def scandir(path="."):
        exc = refused.get(Path(path))
        if exc is not None:
            raise exc
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return refused
