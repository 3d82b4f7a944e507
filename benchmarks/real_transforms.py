"""Sort labelled real frames as other beamlines and pipelines would write them: a robustness table.

Each frame of a labelled folder (``ROOT/<TECHNIQUE>/...``, e.g. ``../shared/examples/real``) is
transformed in the ways frames differ between instruments — other units than counts, a CCD
pedestal or dark subtraction, binning, 16-bit clipping, NaN gaps, a turned or flipped mount, a
small detector's crop, a round detector's disc, an Eiger's 16-bit mode — written to a TIFF, read
back as camsort reads any frame, and sorted by a model. Prints the top class and its probability per
frame and transform, and the count right::

    python benchmarks/real_transforms.py ../shared/examples/real [--model DIR]
"""
from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from xicam.camsort.calibration import shown
from xicam.camsort.datasets import read_labelled_folder
from xicam.camsort.io import read_pattern, write_tiff
from xicam.camsort.preprocess import preprocess_batch
from xicam.camsort.simulate import bin_frame
from xicam.camsort.sorter import Sorter


def _disc(frame: np.ndarray, fill: float) -> np.ndarray:
    """What a round detector (mar345, MarCCD) records: the inscribed disc, ``fill`` outside it."""
    h, w = frame.shape
    yy, xx = np.ogrid[:h, :w]
    outside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 > (min(h, w) / 2) ** 2
    return np.where(outside, fill, frame)


def _crop(frame: np.ndarray, shape: tuple[int, int] = (619, 487)) -> np.ndarray:
    """The centre of the frame as a smaller detector (Pilatus 300K) would see it."""
    h, w = frame.shape
    ch, cw = min(h, shape[0]), min(w, shape[1])
    return frame[(h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw]


def transforms(rng: np.random.Generator) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Name -> transform of a float64 frame in counts (negative values mark gaps)."""
    return {
        "none": lambda f: f,
        "x100": lambda f: f * 100,
        "per second (0.49 s)": lambda f: f / 0.49,
        "binned 2x2": lambda f: bin_frame(f, max(f.shape) // 2),
        "clipped to uint16": lambda f: np.clip(f, 0, 65535).astype(np.uint16),
        "16-bit, gaps at 65535": lambda f: np.where(f < 0, 65535, np.clip(f, 0, 65534)).astype(np.uint16),
        "gaps as NaN": lambda f: np.where(f < 0, np.nan, f),
        "per monitor (1e-6)": lambda f: (f * 1e-6).astype(np.float32),
        "flat field, absolute": lambda f: (f * 2e-4 * rng.uniform(0.9, 1.1, f.shape)).astype(np.float32),
        "dark-subtracted CCD": lambda f: np.where(f < 0, 0, f - np.median(f) / 2 + rng.normal(0, 3, f.shape)),
        "weak (counts / 20)": lambda f: rng.poisson(np.clip(f, 0, None) / 20).astype(float),
        "pedestal +1000": lambda f: np.where(f < 0, f, f + 1000),
        "turned 90": np.rot90,
        "turned 270": lambda f: np.rot90(f, 3),
        "flipped up-down": np.flipud,
        "transposed": np.transpose,
        "Pilatus 300K crop": _crop,
        "round detector, 0 outside": lambda f: _disc(f, 0.0),
        "round detector, NaN outside": lambda f: _disc(f, np.nan),
    }


def _as_read(frame: np.ndarray, folder: Path) -> np.ndarray:
    """The frame as camsort reads it after a beamline wrote it (in its dtype) to a TIFF."""
    path = folder / "frame.tif"
    write_tiff(path, frame)
    return read_pattern(path).data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="labelled folder ROOT/<TECHNIQUE>/...")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    args = parser.parse_args()
    sorter = Sorter.load(args.model)
    table = read_labelled_folder(args.root)
    frames = [np.nan_to_num(read_pattern(p).data.astype(np.float64), nan=-1.0) for p in table["path"]]  # gaps < 0
    truth = table["technique"]
    print(f"{'transform':28s}" + "".join(f"{t:>16s}" for t in truth))
    right = total = 0
    folder = Path(tempfile.mkdtemp(prefix="camsort-transforms-"))
    for name, transform in transforms(np.random.default_rng(0)).items():
        outcome = sorter.decide(preprocess_batch([_as_read(transform(f), folder) for f in frames], sorter.size))
        cells = []
        for t, o in zip(truth, outcome):
            ok = o["top"] == t
            right, total = right + ok, total + 1
            cells.append(f"{'' if ok else 'x '}{o['top']} {shown(max(o['probabilities']), 2):.2f}")
        print(f"{name:28s}" + "".join(f"{c:>16s}" for c in cells))
    print(f"right: {right} of {total}")
    (folder / "frame.tif").unlink(missing_ok=True)
    folder.rmdir()


if __name__ == "__main__":
    main()
