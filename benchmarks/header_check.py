"""How often the header cross-check flags a prediction, on simulated frames given the header a beamline writes.

Simulates native-size frames of every technique (mixed detectors, rotated mounts included), gives each
a Pilatus-style header of its own geometry, sorts them with the model, and counts, once for a header with
the wavelength, distance, pixel size and beam centre (the q range is checked) and once for a header with
the distance only (the distance is), and once for a header with the incidence angle (0 in transmission):
flags against the frame's own technique (false alarms), against each other technique (what the check could
catch), against the model's wrong top classes, and what deciding with the header weighed
(:meth:`Sorter.reconsider`) does to top-1::

    python benchmarks/header_check.py [--per-class 100] [--seed 20261203] [--model MODEL_DIR]
"""
from __future__ import annotations

import argparse

import numpy as np

from xicam.camsort import TECHNIQUES
from xicam.camsort.metadata_check import check_metadata, claims, weighed_odds
from xicam.camsort.preprocess import preprocess
from xicam.camsort.simulate import simulate_batch
from xicam.camsort.simulate.geometry import HC_KEV_A
from xicam.camsort.sorter import Sorter


def stored_beam(row: float, col: float, shape: tuple[int, int], turns: int) -> tuple[float, float]:
    """The beam's (column, row) in the frame as stored after ``np.rot90(frame, turns)`` of a frame of ``shape``."""
    rows, cols = shape
    for _ in range(turns % 4):
        row, col, rows, cols = cols - col, row, cols, rows
    return col, row


def headers(params: dict, shape: tuple[int, int]) -> dict[str, dict[str, str]]:
    """The frame's geometry as a Pilatus camserver header, whole and with the distance alone."""
    turns = params["rotate"]
    unrotated = shape if turns % 2 == 0 else shape[::-1]
    x, y = stored_beam(params["beam_row"], params["beam_col"], unrotated, turns)
    distance = {"Detector_distance": f"{params['distance_m']:.5f} m"}
    return {"full geometry": {**distance, "Wavelength": f"{HC_KEV_A / params['energy_kev']:.5f} A",
                              "Pixel_size": f"{params['pixel_um']:.0f}e-6 m x {params['pixel_um']:.0f}e-6 m",
                              "Beam_xy": f"({x:.2f}, {y:.2f}) pixels"},
            "distance only": distance,
            "incidence angle (0 in transmission)": {"incident_angle": f"{params.get('alpha_i_deg', 0.0):.4f}"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--model", help="a model directory (default: the shipped model)")
    args = parser.parse_args()
    frames, labels, _, params = simulate_batch(args.per_class, args.seed)
    model = Sorter.load(args.model)
    decided = model.decide(np.stack([preprocess(f, model.size) for f in frames]))
    tops = [d["top"] for d in decided]
    wrong = [i for i, (t, y) in enumerate(zip(tops, labels)) if t != y]
    print(f"{len(frames)} frames ({args.per_class} per technique, seed {args.seed}); "
          f"the model's top class wrong on {len(wrong)}")
    for kind in headers(params[0], frames[0].shape):
        header = [headers(p, f.shape)[kind] for p, f in zip(params, frames)]
        flags = {(i, t): check_metadata(header[i], t, "", frames[i].shape) != ""
                 for i in range(len(frames)) for t in TECHNIQUES}
        print(f"\nheader with {kind}:")
        print(f"{'truth':8s} {'flagged against its own technique':>34s}   " +
              "   ".join(f"against {t:6s}" for t in TECHNIQUES))
        for truth in TECHNIQUES:
            mine = [i for i, y in enumerate(labels) if y == truth]
            row = [f"{sum(flags[i, t] for i in mine):3d} of {len(mine):3d}" for t in TECHNIQUES]
            row = ["       -      " if t == truth else f"{r:>14s}" for t, r in zip(TECHNIQUES, row)]
            print(f"{truth:8s} {sum(flags[i, truth] for i in mine):25d} of {len(mine):3d}   " + " ".join(row))
        caught = [i for i in wrong if flags.get((i, tops[i]))]
        alarms = [i for i, y in enumerate(labels) if flags[i, y]]
        for i in alarms:
            print(f"  false alarm: {labels[i]} frame {i} ({params[i]['detector']}, turned {params[i]['rotate']}): "
                  f"{check_metadata(header[i], labels[i], '', frames[i].shape)}")
        print(f"the model's wrong top classes flagged: {len(caught)} of {len(wrong)} "
              f"({', '.join(f'{labels[i]} -> {tops[i]}' for i in caught) or 'none'})")
        weighed = [d["top"] for d in model.reconsider(decided, [weighed_odds(claims(h, "", f.shape))
                                                                for h, f in zip(header, frames)])]
        fixed = [i for i in wrong if weighed[i] == labels[i]]
        broken = [i for i, y in enumerate(labels) if tops[i] == y != weighed[i]]
        print(f"decided with the header weighed: top-1 {np.mean(np.array(tops) == labels):.1%} -> "
              f"{np.mean(np.array(weighed) == labels):.1%} "
              f"({len(fixed)} wrong made right, {len(broken)} right made wrong)")


if __name__ == "__main__":
    main()
