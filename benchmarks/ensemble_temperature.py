"""The ensemble's own temperature: fitted again, and scored with and without it on the simulated sets.

Makes each member's calibration split again from its recipe's seed (as ``camsort train --default``
does; about 8 minutes), fits the ensemble's temperature on them pooled, and prints, for the sets of
``benchmarks/compare_models.py`` (cached there), the log-likelihood loss, the expected calibration
error, the share of frames sure enough to be sorted and how many of those are right, at the temperature
1 and at the model's own::

    python benchmarks/ensemble_temperature.py [--model MODEL_DIR] [--cache DIR]

Raw probabilities, without the noise gate (which overrides both alike). Top-1 accuracy is the same at
any temperature.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from xicam.camsort import NOT_SCATTERING
from xicam.camsort.calibration import (apply_temperature, expected_calibration_error, fit_temperature,
                                      negative_log_likelihood)
from xicam.camsort.sorter import Sorter, label_indices
from xicam.camsort.training import DEFAULT_RECIPE, pooled_calibration_set

sys.path.insert(0, str(Path(__file__).parent))
from compare_models import simulated_sets  # noqa: E402  (a sibling script)

POOLED = {"four sets": ("recipe held-out", "seed 777", "fresh wide", "fresh als733"),
          "five unseen detectors": ("unseen",)}
"""Rows that pool sets by the start of their names: the rule's four sets, and the unseen detectors."""


def scores(mean: np.ndarray, y_idx: np.ndarray, temperature: float, threshold: float) -> str:
    """NLL, ECE, share sorted and share of the sorted right of ``mean`` rescaled by ``temperature``."""
    p = apply_temperature(mean, temperature)
    sure, right = p.max(1) >= threshold, p.argmax(1) == y_idx
    return (f"NLL {negative_log_likelihood(p, y_idx):.3f}  ECE {expected_calibration_error(p, y_idx):.3f}  "
            f"sorted {100 * sure.mean():5.1f} %  right {100 * right[sure].mean():5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="an ensemble's directory (default: the shipped model)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "camsort" / "compare"))
    args = parser.parse_args()
    model = Sorter.load(args.model)
    X, y_idx = pooled_calibration_set({**DEFAULT_RECIPE, **model.info["recipe"]})  # keys added since: defaults
    mean = model.raw_proba(X)
    print(f"{len(y_idx)} calibration frames: temperature fitted {fit_temperature(mean, y_idx):.4f}, "
          f"the model's {model.temperature:.4f}; ECE {expected_calibration_error(mean, y_idx):.3f} -> "
          f"{expected_calibration_error(apply_temperature(mean, model.temperature), y_idx):.3f}")
    sets = {name: (model.raw_proba(Xs), label_indices(ys)) for name, (Xs, ys) in simulated_sets(
        Path(args.cache), model.size).items() if set(ys) != {NOT_SCATTERING}}
    rows = {**{name.split(" (")[0]: [name] for name in sets},
            **{row: [n for n in sets if n.startswith(prefixes)] for row, prefixes in POOLED.items()}}
    for row, names in rows.items():
        mean = np.concatenate([sets[n][0] for n in names])
        y = np.concatenate([sets[n][1] for n in names])
        for temperature, tag in ((1.0, "T = 1"), (model.temperature, "own T")):
            print(f"{row:28s}{len(y):6d}  {tag:6s} {scores(mean, y, temperature, model.threshold)}", flush=True)


if __name__ == "__main__":
    main()
