"""``camsort demo``: simulate an unlabelled mixed folder, sort it with the default model, report.

The demo is the main job end to end on data made on the spot: native-size simulated frames of
every technique (plus a few non-scattering images) under anonymous names, sorted by the shipped
model, scored against the hidden truth, with Grad-CAM overlays and a Markdown report.
"""
from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from . import CLASSES, NOT_SCATTERING, TECHNIQUES, manifest
from .io import write_tiff
from .negatives import not_scattering_batch


def make_mixed_folder(folder: Path, per_class: int, seed: int) -> dict[str, str]:
    """Write shuffled, anonymously named frames to ``folder``; returns file name -> true class."""
    from .simulate import simulate

    rng = np.random.default_rng(seed)
    items = [(t, simulate(t, rng).data) for t in TECHNIQUES for _ in range(per_class)]
    items += [(NOT_SCATTERING, img) for img in not_scattering_batch(max(2, per_class // 5), seed + 1)]
    order = rng.permutation(len(items))
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for n, i in enumerate(order):
        label, data = items[i]
        name = f"frame_{n:05d}.tif"
        if not (folder / name).exists():
            write_tiff(folder / name, np.nan_to_num(data).astype(np.int32))
        truth[name] = label
    return truth


def run_demo(out: str | Path, per_class: int = 25, seed: int = 7) -> int:
    """Run the demo into ``out`` and print where the manifest, overlays and report are."""
    from .sorter import load_cached
    from .sortjob import sort_frames

    out = Path(out)
    inputs, sorted_dir = out / "input", out / "sorted"
    print(f"simulating {per_class} frames per technique into {inputs} ...")
    truth = make_mixed_folder(inputs, per_class, seed)
    (out / "truth.json").write_text(json.dumps(truth, indent=0))
    sorter = load_cached(None)
    t0 = time.perf_counter()
    summary = sort_frames([inputs], sorted_dir, sorter, progress=True)
    seconds = time.perf_counter() - t0
    rows = manifest.read(sorted_dir / "manifest.csv")
    predicted = {Path(k[0]).name: r["technique"] for k, r in rows.items()}
    timing = (f"sorted in {seconds:.1f} s, {summary.sorted / seconds:.1f} frames/s, reading included"
              if summary.sorted else f"an earlier run had sorted every frame (delete {out} to time a new run)")
    report = _report(out, truth, predicted, summary.lines(), timing, sorter)
    overlays = _overlays(out / "gradcam", inputs, truth, sorter)
    for line in summary.lines():
        print(line)
    print(f"accuracy vs truth: {report['accuracy']:.4f} on {report['n']} frames "
          f"({report['abstained']} UNSURE); {timing}")
    print(f"sorted frames: {sorted_dir}/<TECHNIQUE>/\nmanifest:      {sorted_dir / 'manifest.csv'}")
    if overlays:
        print(f"Grad-CAM:      {overlays}")
    print(f"report:        {out / 'report.md'}")
    return 0 if not summary.errors else 3


def _report(out: Path, truth: dict[str, str], predicted: dict[str, str], summary: list[str],
            timing: str, sorter) -> dict:
    names = sorted(truth)
    y = [truth[n] for n in names]
    p = [predicted.get(n, "MISSING") for n in names]
    correct = sum(a == b for a, b in zip(y, p))
    labels = list(CLASSES) + ["UNSURE"]
    confusion = Counter(zip(y, p))
    lines = ["# camsort demo report", "", f"Model: default model, classes {', '.join(CLASSES)}; "
             f"recipe `{json.dumps(sorter.info.get('recipe', {}))}`.", "",
             f"Frames: {len(names)}; correct {correct} ({correct / len(names):.2%}); "
             f"{timing}.", "",
             "## Confusion (rows: truth, columns: outcome)", "",
             "| truth \\ outcome | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for t in CLASSES:
        lines.append(f"| {t} | " + " | ".join(str(confusion.get((t, o), 0)) for o in labels) + " |")
    lines += ["", "## Sort summary", "", "```", *summary, "```", ""]
    (out / "report.md").write_text("\n".join(lines))
    with open(out / "predictions.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "truth", "outcome"])
        writer.writerows(zip(names, y, p))
    return {"n": len(names), "accuracy": correct / len(names),
            "abstained": sum(v == "UNSURE" for v in p)}


def _overlays(folder: Path, inputs: Path, truth: dict[str, str], sorter) -> Path | None:
    """One Grad-CAM overlay per technique when the sorter's featurizer is a CNN."""
    from .gradcam import explain_files

    firsts = [inputs / next(n for n in sorted(truth) if truth[n] == t) for t in TECHNIQUES
              if any(v == t for v in truth.values())]
    written = explain_files(sorter, firsts, folder)
    return folder if written else None
