"""Adapt a model to one instrument with a few of its real frames, and sort its frames the adaptation
did not see: ALS 7.3.3's AgB frames (leave one out of five) and Diamond I15-1's powder frames (adapt
on one file's 10 frames, sort the other file's 20). The frames come from ``pypi_frames.py``'s cache::

    python benchmarks/adapt_real.py [--cache DIR] [--model DIR] [--simulated N]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

import xicam.camsort.adapt as adapting
from xicam.camsort import CLASSES
from xicam.camsort.calibration import shown
from xicam.camsort.io import iter_patterns
from xicam.camsort.preprocess import preprocess_batch
from xicam.camsort.sorter import Sorter

sys.path.insert(0, str(Path(__file__).parent))
import pypi_frames  # noqa: E402  (a sibling script)

ALS733 = ("AgB_00001.edf", "AgB_00002.edf", "AgB_00008.edf", "AgB_5s_hi_2m.edf", "AgB_5s_lo_2m.edf")
I15_TRAIN, I15_TEST = "i15-1-100243-fastcs_eiger_000001.h5", "i15-1-100245-fastcs_eiger_000001.h5"


def _said(outcome: dict) -> str:
    top = CLASSES[int(np.argmax(outcome["probabilities"]))]
    p = max(outcome["probabilities"])
    return f"{top} {shown(p, 2):.2f}" if outcome["label"] == top else f"UNSURE ({top} {shown(p, 2):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "camsort" / "pypi-frames")
    parser.add_argument("--model", help="model to adapt (default: the shipped one)")
    parser.add_argument("--simulated", type=int, default=300, help="simulated frames per technique mixed in")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    base = Sorter.load(args.model)
    mix = adapting.simulated_mix(args.simulated, args.seed, base.size)  # one set for every fold
    files = {Path(f.member).name: pypi_frames.fetch(f, args.cache) for f in pypi_frames.FRAMES
             if Path(f.member).name in ALS733 + (I15_TRAIN, I15_TEST)}
    X = {name: preprocess_batch((p.data for p in iter_patterns(path)), base.size) for name, path in files.items()}

    def adapted(names: list[str], label: str) -> Sorter:
        images = np.concatenate([X[n] for n in names])
        return adapting.adapt(base, images, np.full(len(images), label, dtype=object),
                              simulated_per_class=args.simulated, seed=args.seed, simulated=mix)

    print(f"{'frames (truth)':<36} {'shipped':<22} adapted on the others")
    for name in ALS733:
        model = adapted([n for n in ALS733 if n != name], "SAXS")
        print(f"{'ALS 7.3.3 ' + name + ' (SAXS)':<36} {_said(base.decide(X[name])[0]):<22} "
              f"{_said(model.decide(X[name])[0])}")
    model = adapted([I15_TRAIN], "WAXS")
    for tag, sorter in (("shipped", base), (f"adapted on {I15_TRAIN[6:12]}", model)):
        out = sorter.decide(X[I15_TEST])
        counts = Counter(o["label"] for o in out)
        print(f"Diamond I15-1 {I15_TEST[6:12]}, {len(out)} frames (WAXS), {tag}: {dict(counts)}, "
              f"mean p(WAXS) {np.mean([o['probabilities'][CLASSES.index('WAXS')] for o in out]):.2f}")


if __name__ == "__main__":
    main()
