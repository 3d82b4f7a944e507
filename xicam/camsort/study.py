"""The paper's Algorithm 1 as a resumable study: every featurization x dataset variant x classifier,
StandardScaler -> PCA -> classifier under stratified k-fold CV, seven metrics, Table III, box plots.

Networks are trained on one half of the labelled frames and every variant is evaluated on the
other half (the paper's 50/50 split), so no CV fold ever scores frames the network learned from.
Each combination writes its own JSON (temp file + rename) and is skipped when it exists, so an
interrupted or re-submitted study resumes; :func:`run_combination` is the unit a sweep maps.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import TECHNIQUES
from .metrics import METRICS, cross_validate, summarise


def run_combination(features: np.ndarray, labels: np.ndarray, classifier: str, n_components: int = 5,
                    folds: int = 5, seed: int = 0) -> list[dict[str, Any]]:
    """CV records of scaler -> PCA -> ``classifier`` on one feature matrix (pure: a sweep's work unit)."""
    from sklearn.pipeline import make_pipeline

    from .classify import make_classifier
    from .reduce import make_reducer

    def model():
        return make_pipeline(make_reducer(n_components, random_state=seed), make_classifier(classifier, random_state=seed))

    return cross_validate(model, features, labels, k=folds, seed=seed)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _features(out: Path, name: str, X_fit: np.ndarray, y_fit: np.ndarray, X_eval: np.ndarray, seed: int) -> np.ndarray:
    """Features of the evaluation half, cached per featurizer (networks fit on the other half)."""
    from .features import make_featurizer

    cache = out / "features" / f"{name}.npy"
    if cache.exists():
        return np.load(cache, allow_pickle=False)
    params = {"seed": seed} if name.startswith("lenet") else {}
    featurizer = make_featurizer(name, **params).fit(X_fit, y_fit)
    F = featurizer.transform(X_eval)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, F)
    return F


def run_study(data: str | os.PathLike, out: str | os.PathLike, featurizers: list[str], classifiers: list[str],
              variants: list[str], folds: int = 5, size: int = 128, seed: int = 0,
              log=print) -> Path:
    """Run every missing combination, then write results.csv, table3.md, plots and report.md."""
    from .datasets import group_split, read_labelled_folder, variant_indices
    from .io import read_pattern
    from .preprocess import preprocess_batch

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    table = read_labelled_folder(data)
    labels = np.array(table["technique"])
    images_cache = out / "features" / "images.npy"
    if images_cache.exists():
        X = np.load(images_cache, allow_pickle=False)
    else:
        X = preprocess_batch((read_pattern(p).data for p in table["path"]), size)
        images_cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(images_cache, X)
    y = np.array([TECHNIQUES.index(t) for t in labels])
    fit_idx, eval_idx = group_split(labels, np.array(table["group"]), 0.5, seed)
    for name in featurizers:
        for variant in variants:
            idx, turns = variant_indices(labels[eval_idx], variant, seed)
            todo = [c for c in classifiers if not (out / "runs" / f"{name}_{variant}_{c}.json").exists()]
            if not todo:
                continue
            if variant == "BLA":  # rotated copies are featurized on their own
                from .features import make_featurizer

                rotated = np.stack([np.rot90(X[eval_idx][i], k) for i, k in zip(idx, turns)])
                params = {"seed": seed} if name.startswith("lenet") else {}
                F = make_featurizer(name, **params).fit(X[fit_idx], y[fit_idx]).transform(rotated)
            else:
                F = _features(out, name, X[fit_idx], y[fit_idx], X[eval_idx], seed)[idx]
            for clf in todo:
                records = run_combination(F, y[eval_idx][idx], clf, folds=folds, seed=seed)
                _write_json_atomic(out / "runs" / f"{name}_{variant}_{clf}.json",
                                   {"featurizer": name, "variant": variant, "classifier": clf, "folds": records})
                log(f"{name:<11} {variant:<4} {clf:<9} kappa {summarise(records)['kappa_mean']:.4f}")
    return write_report(out)


def write_report(out: str | os.PathLike) -> Path:
    """results.csv (per fold + summary rows), table3.md, kappa box plots, best confusion matrix, report.md."""
    out = Path(out)
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    columns = ["featurizer", "variant", "classifier", "fold", *METRICS, "fit_s", "predict_s"]
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for run in runs:
            for r in run["folds"]:
                writer.writerow([run["featurizer"], run["variant"], run["classifier"], r["fold"],
                                 *[f"{r[m]:.6f}" for m in (*METRICS, "fit_s", "predict_s")]])
            s = summarise(run["folds"])
            writer.writerow([run["featurizer"], run["variant"], run["classifier"], "mean",
                             *[f"{s[f'{m}_mean']:.6f}" for m in (*METRICS, "fit_s", "predict_s")]])
    best: dict[tuple[str, str], dict] = {}
    for run in runs:
        key = (run["featurizer"], run["variant"])
        if key not in best or summarise(run["folds"])["kappa_mean"] > summarise(best[key]["folds"])["kappa_mean"]:
            best[key] = run
    lines = ["| featurization | dataset | best classifier | " + " | ".join(METRICS) + " |",
             "|---" * (len(METRICS) + 3) + "|"]
    for (name, variant), run in sorted(best.items()):
        s = summarise(run["folds"])
        cells = [f"{100 * s[f'{m}_mean']:.2f} ± {100 * s[f'{m}_std']:.2f}" for m in METRICS]
        lines.append(f"| {name} | {variant} | {run['classifier']} | " + " | ".join(cells) + " |")
    (out / "table3.md").write_text("\n".join(lines) + "\n")
    _plots(out, runs, best)
    report = ["# camsort study", "", "Scaler -> PCA(5) -> classifier, stratified k-fold; networks trained on the",
              "other half of the frames. Values are mean ± std over folds, in %.", "", "## Table III", "",
              *lines, "", "## kappa across classifiers", "", "![kappa](kappa_boxplots.png)", "",
              "## Confusion of the best combination", "", "![confusion](confusion_best.png)", "",
              "All folds: `results.csv`.", ""]
    (out / "report.md").write_text("\n".join(report))
    return out / "report.md"


def _plots(out: Path, runs: list[dict], best: dict) -> None:
    from .figures import save_figure, subplots

    groups = sorted({(r["featurizer"], r["variant"]) for r in runs})
    fig, axes = subplots(1, len(groups), figsize=(3.2 * len(groups), 3.2))
    for ax, (name, variant) in zip(axes[0], groups):
        chosen = [r for r in runs if (r["featurizer"], r["variant"]) == (name, variant)]
        ax.boxplot([[f["kappa"] for f in r["folds"]] for r in chosen])
        ax.set_xticks(range(1, len(chosen) + 1), [r["classifier"] for r in chosen], rotation=45, fontsize=7)
        ax.set_title(f"{name} / {variant}", fontsize=8)
        ax.set_ylabel("Cohen's kappa", fontsize=8)
    save_figure(fig, out / "kappa_boxplots.png")
    top = max(best.values(), key=lambda r: summarise(r["folds"])["kappa_mean"])
    confusion = np.sum([np.array(f["confusion"]) for f in top["folds"]], axis=0)
    fig, axes = subplots(1, 1, figsize=(4, 3.6))
    ax = axes[0, 0]
    ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    names = list(TECHNIQUES)[: confusion.shape[0]]
    ax.set_xticks(range(len(names)), names, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(f"{top['featurizer']} / {top['variant']} / {top['classifier']}", fontsize=8)
    save_figure(fig, out / "confusion_best.png")
