"""The paper's Algorithm 1 as a resumable study: every featurization x dataset variant x classifier,
StandardScaler -> PCA -> classifier under stratified k-fold CV, seven metrics, Table III, box plots.

Networks are trained on one half of the labelled frames and every variant is evaluated on the
other half (the paper's 50/50 split), so no CV fold ever scores frames the network learned from.
Each combination writes its own JSON (temp file + rename) and is skipped when it exists, so an
interrupted or re-submitted study resumes; :func:`run_job` is the unit a sweep maps to workers.
"""
from __future__ import annotations

import csv
import json
import os
import time
from itertools import product
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from . import TECHNIQUES
from .errors import CamsortError
from .metrics import METRICS, cross_validate, summarise


def run_combination(features: np.ndarray, labels: np.ndarray, classifier: str, n_components: int = 5,
                    folds: int = 5, seed: int = 0, tune_iter: int = 0,
                    groups: np.ndarray | None = None) -> list[dict[str, Any]]:
    """CV records of scaler -> PCA -> ``classifier`` on one feature matrix (pure: a sweep's work unit).

    With ``tune_iter`` > 0 the classifier is tuned inside every training fold (nested randomized
    search over :data:`classify.SEARCH_SPACES`), so the scores stay honest. ``groups`` keeps rows of one
    source frame (BLA's rotated copies) on one side of every split, outer and inner.
    """
    from sklearn.model_selection import RandomizedSearchCV, StratifiedGroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    from .classify import SEARCH_SPACES, make_classifier
    from .reduce import make_reducer

    def model(train: np.ndarray | None = None):
        clf = make_classifier(classifier, random_state=seed)
        if tune_iter > 0:
            inner = (StratifiedKFold(3, shuffle=True, random_state=seed) if train is None else
                     list(StratifiedGroupKFold(3, shuffle=True, random_state=seed).split(
                         features[train], labels[train], groups[train])))
            clf = RandomizedSearchCV(clf, SEARCH_SPACES[classifier], n_iter=tune_iter, scoring="f1_macro",
                                     cv=inner, random_state=seed)
        return make_pipeline(make_reducer(n_components, random_state=seed), clf)

    return cross_validate(model, features, labels, k=folds, seed=seed, groups=groups)


def run_job(job: dict[str, Any], folds: int = 5, seed: int = 0, tune_iter: int = 0,
            n_components: int = 5) -> list[dict[str, Any]]:
    """Evaluate one sweep job (a saved feature matrix and a classifier name); returns its CV records."""
    with np.load(job["features_path"], allow_pickle=False) as matrix:
        groups = matrix["groups"] if "groups" in matrix.files else None
        return run_combination(matrix["features"], matrix["labels"], job["classifier"], n_components=n_components,
                               folds=folds, seed=seed, tune_iter=tune_iter, groups=groups)


def write_json_atomic(path: Path, data: Any, indent: int | None = None) -> None:
    """Write JSON through a temp file and a rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=indent))
    os.replace(tmp, path)


PRETRAINED, FINETUNED = "lenet-pretrained", "lenet-finetuned"
"""The shipped default model's network (its first member's), a LeNet pretrained on the simulator, frozen or
fine-tuned on the study's network half (the paper's pretrained and fine-tuned featurizations were ImageNet CNNs)."""
ENSEMBLE_FINETUNED = "lenet-ensemble-finetuned"
"""Each of the shipped ensemble's networks (three runs of one recipe, other seeds) fine-tuned on the network half;
a frame's features are theirs side by side (3 x 192), which the scaler and PCA then reduce as any featurization's."""

FINETUNE_LEARNING_RATE = 1e-4
"""A tenth of the LeNets' rate from scratch, as for the Keras networks' fine-tuning."""

FINETUNE_TURNS = ("BLA",)
"""The dataset variants whose networks are fine-tuned with the shipped recipe's flips and quarter turns: BLA, which
holds every frame in four orientations. UB and BL are fine-tuned on their frames as recorded: a study's frames
come from fixed set-ups, each in one orientation, a cue the turns would hide (2026-12-03: docs/results.md)."""


def fitted_featurizer(name: str, X_fit: np.ndarray, y_fit: np.ndarray, seed: int, with_turns: bool = False):
    """The featurizer ``name`` fitted on the network half (``lenet-pretrained`` needs no fitting); a shipped
    network is fine-tuned on the frames as they are, or with ``with_turns`` also flipped and turned."""
    from sklearn.pipeline import FeatureUnion

    from .ensemble import member_dirs
    from .features import make_featurizer
    from .sorter import DEFAULT_MODEL_DIR, load_cached

    if name in (PRETRAINED, FINETUNED, ENSEMBLE_FINETUNED):
        shipped = load_cached()  # verifies the shipped files' checksums
        if name == PRETRAINED:
            return shipped.featurizer
        networks = member_dirs(DEFAULT_MODEL_DIR)
        if name == FINETUNED:
            return _fine_tuned(networks[0], X_fit, y_fit, seed, with_turns)
        return FeatureUnion([(network.name, _fine_tuned(network, X_fit, y_fit, seed, with_turns))
                             for network in networks])
    params = {"seed": seed} if name.startswith("lenet") else {}
    return make_featurizer(name, **params).fit(X_fit, y_fit)


def _fine_tuned(network: Path, X_fit: np.ndarray, y_fit: np.ndarray, seed: int, with_turns: bool):
    """A fresh copy of the sorter's network in ``network``, trained further on ``X_fit`` at the fine-tuning rate,
    with ``with_turns`` on flipped and turned copies too."""
    from .features import load_featurizer

    spec = json.loads((network / "config.json").read_text())["featurizer"]
    params = {"seed": seed, "learning_rate": FINETUNE_LEARNING_RATE, "augment": with_turns}
    return load_featurizer({**spec, "params": params}, network / "featurizer").fine_tune(X_fit, y_fit)


def _features(out: Path, name: str, X_fit: np.ndarray, y_fit: np.ndarray, X_eval: np.ndarray, seed: int,
              with_turns: bool) -> np.ndarray:
    """Features of the evaluation half, cached per featurizer and fine-tuning (networks fit on the other half)."""
    cache = out / "features" / f"{name}{'-turns' if with_turns else ''}.npy"
    if cache.exists():
        return np.load(cache, allow_pickle=False)
    F = fitted_featurizer(name, X_fit, y_fit, seed, with_turns).transform(X_eval)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, F)
    return F


def _images(data: str | os.PathLike, out: Path, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preprocessed images (cached in OUT/features), technique labels and groups of a labelled folder."""
    from .datasets import labelled_images, read_labelled_folder

    cache = out / "features" / "images.npy"
    if cache.exists():
        X, table = np.load(cache, allow_pickle=False), read_labelled_folder(data)
    else:
        X, _, table = labelled_images(data, size)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, X)
    return X, np.array(table["technique"]), np.array(table["group"])


def sweep_jobs(data: str | os.PathLike, out: str | os.PathLike, featurizers: list[str], classifiers: list[str],
               variants: list[str], size: int = 128, seed: int = 0) -> list[dict[str, Any]]:
    """Featurize each (featurizer, variant) once into ``OUT/features/*.npz`` and list the combinations not yet run.

    A combination is done when its ``OUT/runs/<featurizer>_<variant>_<classifier>.json`` exists (the
    success marker); matrices whose combinations are all done are not featurized again.
    """
    from .datasets import group_split, variant_indices

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    X, labels, groups = _images(data, out, size)
    y = np.array([TECHNIQUES.index(t) for t in labels])
    fit_idx, eval_idx = group_split(labels, groups, 0.5, seed)
    jobs = []
    for name in featurizers:
        for variant in variants:
            todo = [c for c in classifiers if not (out / "runs" / f"{name}_{variant}_{c}.json").exists()]
            matrix = out / "features" / f"{name}_{variant}.npz"
            if todo and not matrix.exists():
                idx, turns = variant_indices(labels[eval_idx], variant, seed)
                with_turns = variant in FINETUNE_TURNS
                arrays = {"labels": y[eval_idx][idx]}
                if variant == "BLA":  # rotated copies are featurized on their own
                    evaluated = X[eval_idx]  # indexed once: each X[eval_idx] is a copy its views would keep alive
                    rotated = np.stack([np.rot90(evaluated[i], k) for i, k in zip(idx, turns)])
                    fitted = fitted_featurizer(name, X[fit_idx], y[fit_idx], seed, with_turns)
                    arrays["features"] = fitted.transform(rotated)
                    arrays["groups"] = idx  # the four turns of a frame share a group: CV never splits them
                else:
                    features = _features(out, name, X[fit_idx], y[fit_idx], X[eval_idx], seed, with_turns)
                    arrays["features"] = features[idx]
                np.savez(matrix.with_suffix(".tmp.npz"), **arrays)
                os.replace(matrix.with_suffix(".tmp.npz"), matrix)
            jobs += [{"featurizer": name, "variant": variant, "classifier": c, "features_path": str(matrix),
                      "run": str(out / "runs" / f"{name}_{variant}_{c}.json")} for c in todo]
    return jobs


JobMapper = Callable[[list[dict[str, Any]], dict[str, Any]], Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]]
"""Maps :func:`run_job` over jobs with shared parameters, yielding (job, records) as each finishes."""


def run_in_process(jobs: list[dict[str, Any]], params: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list]]:
    """The serial :data:`JobMapper`: every job in this process, in order."""
    for job in jobs:
        yield job, run_job(job, **params)


def run_study(data: str | os.PathLike, out: str | os.PathLike, featurizers: list[str], classifiers: list[str],
              variants: list[str], folds: int = 5, size: int = 128, seed: int = 0, tune_iter: int = 0,
              n_components: int = 5, log=print, mapper: JobMapper = run_in_process) -> Path:
    """Run every missing combination (through ``mapper``), then write results.csv, table3.md, plots and report.md."""
    params = {"folds": folds, "seed": seed, "tune_iter": tune_iter, "n_components": n_components}
    check_parameters(out, {**params, "size": size, "fine_tune_turns": list(FINETUNE_TURNS)})
    jobs = sweep_jobs(data, out, featurizers, classifiers, variants, size=size, seed=seed)
    start = time.perf_counter()
    for job, records in mapper(jobs, params):
        write_json_atomic(Path(job["run"]), {"featurizer": job["featurizer"], "variant": job["variant"],
                                              "classifier": job["classifier"], "folds": records})
        log(f"{job['featurizer']:<11} {job['variant']:<4} {job['classifier']:<9} "
            f"kappa {summarise(records)['kappa_mean']:.4f}")
    if jobs:
        log(f"{len(jobs)} combination(s) evaluated in {time.perf_counter() - start:.1f} s")
    return write_report(out)


PARAMETERS = "study.json"
"""The parameters a results folder was run with, so that a resumed study cannot mix in other ones."""


def check_parameters(out: str | os.PathLike, params: dict[str, Any]) -> None:
    """Record ``params`` in a new results folder; refuse to resume one that was run with other parameters."""
    path = Path(out) / PARAMETERS
    if path.is_file():
        before = json.loads(path.read_text())
        changed = {k: (before[k], v) for k, v in params.items() if k in before and before[k] != v}
        if changed:
            said = ", ".join(f"{k} {old} (now {new})" for k, (old, new) in changed.items())
            raise CamsortError(f"{out}: this study was run with {said}; resume it with the same parameters "
                               "or give another --out")
        params = {**before, **params}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, params, indent=1)


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
    params = json.loads((out / PARAMETERS).read_text()) if (out / PARAMETERS).is_file() else {}
    components, folds = params.get("n_components", 5), params.get("folds", "k")
    report = ["# camsort study", "", f"Scaler -> PCA({components}) -> classifier, stratified {folds}-fold; networks "
              "trained on the", "other half of the frames. Values are mean ± std over folds, in %.", "",
              f"Parameters: {json.dumps(params)}" if params else "", "", "## Table III", "",
              *lines, "", "## kappa across classifiers", "", "![kappa](kappa_boxplots.png)", "",
              "## Confusion of the best combination", "", "![confusion](confusion_best.png)", "",
              "All folds: `results.csv`.", ""]
    (out / "report.md").write_text("\n".join(report))
    return out / "report.md"


def _plots(out: Path, runs: list[dict], best: dict) -> None:
    from .figures import save_figure, subplots

    names, variants = sorted({r["featurizer"] for r in runs}), sorted({r["variant"] for r in runs})
    fig, axes = subplots(len(names), len(variants), figsize=(3.2 * len(variants), 2.8 * len(names)))
    for (i, name), (j, variant) in product(enumerate(names), enumerate(variants)):  # a row per featurization
        ax = axes[i, j]
        chosen = [r for r in runs if (r["featurizer"], r["variant"]) == (name, variant)]
        if not chosen:
            ax.axis("off")
            continue
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
