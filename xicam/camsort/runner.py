"""``camsort run``: execute a workflow file headless over input files through an executor.

A mapped workflow (``map: true``) gets the pending input files in batches, one task per batch, and
its ``rows`` outputs become ``OUT/manifest.csv`` with exactly the resume and no-overwrite rules of
``camsort sort`` (:class:`sortjob.SortJob`). A single-execution workflow gets the inputs at once
and its JSON-able end outputs are written to ``OUT/result.json``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CamsortError
from .executors import DaskExecutor
from .sortjob import SortJob, SortSummary, work_units
from .study import write_json_atomic


def run_kwargs(out: str | os.PathLike, model: str | None, mode: str) -> dict[str, Any]:
    """Inputs every execution gets: OUT, the mode, the model directory and, for a model, its input size."""
    kwargs: dict[str, Any] = {"out": str(out), "mode": mode}
    if model:
        from .sorter import load_cached

        kwargs.update(model_dir=str(model), size=load_cached(model).size)
    return kwargs


def run_mapped(spec: dict[str, Any], inputs: list[str], out: str | os.PathLike, executor: DaskExecutor, *,
               model: str | None = None, mode: str = "copy", recursive: bool = False, batch_size: int = 32,
               progress: bool = True, all_detectors: bool = False, weigh_metadata: bool = True,
               shape: tuple[int, int] | None = None) -> SortSummary:
    """Map a ``map: true`` workflow over batches of the pending files; rows go to the manifest in input order.
    ``all_detectors`` and ``shape`` (its ``raw_shape``) reach the read operation as in ``camsort sort``,
    ``weigh_metadata`` the classify operation (off: ``--ignore-metadata``; also off where the workflow sets it
    off)."""
    from . import manifest
    from .sort_settings import run_settings
    from .sorter import for_run, load_cached

    weigh_metadata = weigh_metadata and all((node.get("params") or {}).get("weigh_metadata", True) is not False
                                            for node in spec["operations"].values())
    job = SortJob(inputs, out, mode=mode, recursive=recursive, all_detectors=all_detectors,
                  settings=run_settings(for_run(load_cached(model), weigh_metadata=weigh_metadata), mode))
    with job:  # the folder's lock is held from here to the end
        common = {**run_kwargs(job.out, model, mode), "all_detectors": all_detectors,
                  "weigh_metadata": weigh_metadata, "raw_shape": "x".join(map(str, shape)) if shape else ""}
        done_by_source: dict[str, list[list[str]]] = {}
        for source, frame in job.done:  # frames finished inside files that still have work
            done_by_source.setdefault(source, []).append([source, frame])
        kwargs_list = []
        for batch in _batches(work_units(job.pending(), all_detectors), batch_size):
            sources = dict.fromkeys(str(Path(u["path"] if isinstance(u, dict) else u).resolve()) for u in batch)
            done = [k for source in sources for k in done_by_source.get(source, [])]
            job.summary.skipped += sum(len(done_by_source.pop(s, [])) for s in sources)  # once per file
            kwargs_list.append({**common, spec["input"]: batch, "done": done})
        for result in executor.map_ordered(spec, kwargs_list, progress, desc="batch"):
            rows = [row for outputs in result.values() for row in outputs.get("rows", [])]
            job.record([{k: v for k, v in row.items() if k in manifest.COLUMNS} for row in rows])
    return job.summary


def _batches(units: list[tuple[str | dict, int]], frames: int) -> list[list[str | dict]]:
    """Units of work grouped into batches of about ``frames`` frames (a part of a long stack is a batch)."""
    batches: list[list[str | dict]] = [[]]
    load = 0
    for unit, weight in units:
        if batches[-1] and load + weight > frames:
            batches.append([])
            load = 0
        batches[-1].append(unit)
        load += weight
    return batches if batches[-1] else []


def run_single(spec: dict[str, Any], inputs: list[str], out: str | os.PathLike, executor: DaskExecutor, *,
               model: str | None = None, progress: bool = True) -> Path:
    """Execute a ``map: false`` workflow once with the input(s); write its JSON-able outputs to OUT/result.json."""
    if len(inputs) != 1:
        raise CamsortError(f"workflow {spec['name']!r} takes one --input ({spec['input']}), got {len(inputs)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {**run_kwargs(out.resolve(), model, "copy"), spec["input"]: str(inputs[0])}
    (_, result), = executor.map(spec, [kwargs], progress, desc="run")
    path = out / "result.json"
    write_json_atomic(path, {"workflow": spec["name"], "input": str(inputs[0]), "outputs": _jsonable(result)}, indent=1)
    return path


def _jsonable(value: Any) -> Any:
    """Plain JSON values; arrays become lists, fitted models become a note of their type."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 100_000 else f"<array {value.shape} {value.dtype}>"
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return f"<{type(value).__name__}>"


SLOWEST_FIRST = ("catboost", "xgboost", "lightgbm", "et", "rf")
"""Classifiers by typical fit time on this study's matrices, slowest first."""


def sweep_mapper(executor: DaskExecutor, spec: dict[str, Any], progress: bool = True):
    """A :data:`study.JobMapper` that runs each combination as one execution of the sweep workflow."""
    def mapper(jobs: list[dict[str, Any]], params: dict[str, Any]):
        jobs = sorted(jobs, key=lambda job: SLOWEST_FIRST.index(job["classifier"]))  # long tasks first: short tail
        kwargs_list = [{spec["input"]: job["features_path"], "classifier": job["classifier"], **params} for job in jobs]
        for i, result in executor.map(spec, kwargs_list, progress, desc="combination"):
            records = [r for outputs in result.values() for r in outputs.get("records", [])]
            yield jobs[i], records

    return mapper
