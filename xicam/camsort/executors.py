"""Run workflows on dask: in this process, on a LocalCluster, on Slurm (dask-jobqueue) or at a scheduler address.

A workflow execution is one task: the worker rebuilds the Xi-cam ``Workflow`` from its spec (plain
data, so nothing but registered operations can run), fills the task's inputs and computes the
graph with dask's synchronous scheduler. ``DaskExecutor.map`` sends one task per batch; failed
tasks are retried, tasks of a lost worker are rescheduled by dask, and results are handed back
in input order. ``DaskExecutor`` also serves as an Xi-cam executor (``execute_synchronous``).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import CamsortError

def run_once(spec: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Execute a workflow spec in this process with ``kwargs`` filled in; outputs of its end nodes by node name."""
    import dask

    from .workflows import to_workflow

    workflow = to_workflow(spec)
    workflow.fill_kwargs(**kwargs)
    graph, end_ids = workflow.as_dask_graph()
    names = {op.id: op.camsort_node for op in workflow.operations}
    results = dask.get(graph, end_ids)
    return {names[i]: r for i, r in zip(end_ids, results)}


def load_profile(config: str | os.PathLike) -> dict[str, Any]:
    """The ``cluster:`` keyword arguments of a dask-jobqueue profile in ``hpc/`` (YAML, safe_load)."""
    path = Path(config)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CamsortError(f"{path}: cannot read executor profile: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cluster"), dict):
        raise CamsortError(f"{path}: an executor profile needs a 'cluster:' mapping of SLURMCluster arguments")
    return dict(data["cluster"])  # $VARS stay literal: the job script expands them on the compute node


def worker_env(threads: int) -> dict[str, str]:
    """Environment that keeps a worker's classifiers, BLAS and TensorFlow to its own ``threads``."""
    return {name: str(threads) for name in ("CAMSORT_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")} | {
        "TF_NUM_INTEROP_THREADS": "1"}


def slurm_cluster(config: str | os.PathLike, threads: int = 1):
    """A ``dask_jobqueue.SLURMCluster`` from a profile; workers run with ``CAMSORT_THREADS`` = cores per worker."""
    from dask_jobqueue import SLURMCluster

    kwargs = load_profile(config)
    cores, processes = int(kwargs.get("cores", threads)), int(kwargs.get("processes", 1))
    per_worker = max(1, cores // max(1, processes))
    prologue = list(kwargs.pop("job_script_prologue", []))
    prologue += [f"export {k}={v}" for k, v in worker_env(per_worker).items()]
    return SLURMCluster(job_script_prologue=prologue, **kwargs)


class DaskExecutor:
    """Maps workflow executions over a ``distributed.Client`` (or runs them in-process for ``process``)."""

    def __init__(self, client=None, retries: int = 2, cluster=None):
        self.client, self.retries, self.cluster = client, retries, cluster

    @classmethod
    def start(cls, where: str = "local", workers: int = 2, threads: int = 1, config: str | os.PathLike | None = None,
              retries: int = 2) -> "DaskExecutor":
        """Start ``process``, ``local`` (LocalCluster), ``slurm`` (profile), a scheduler address or a scheduler file."""
        if where == "process":
            return cls(None, retries)
        from distributed import Client, LocalCluster

        from .worker_setup import ImportXicam

        cluster = None
        if where == "local":
            env = worker_env(threads)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR, env=env)
        elif where == "slurm":
            if not config:
                raise CamsortError("the slurm executor needs --config PROFILE.yaml (see hpc/)")
            cluster = slurm_cluster(config, threads)
            cluster.scale(workers)
        if cluster is not None:
            client = Client(cluster)
        elif where.endswith(".json") and Path(where).is_file():
            client = Client(scheduler_file=where)
        else:
            client = Client(where)
        client.register_plugin(ImportXicam())
        return cls(client, retries, cluster)

    def map(self, spec: dict[str, Any], kwargs_list: list[dict[str, Any]], progress: bool = True,
            desc: str = "tasks") -> Iterator[tuple[int, dict[str, dict[str, Any]]]]:
        """(index, end outputs) of every execution, as they finish; failed tasks are retried."""
        from tqdm import tqdm

        bar = tqdm(total=len(kwargs_list), unit=desc, disable=not progress, file=sys.stderr, dynamic_ncols=True)
        try:
            if self.client is None:
                for i, kwargs in enumerate(kwargs_list):
                    yield i, run_once(spec, kwargs)
                    bar.update()
                return
            from distributed import as_completed

            futures = self.client.map(run_once, [spec] * len(kwargs_list), kwargs_list, retries=self.retries,
                                      pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                yield index[future.key], future.result()
                bar.update()
        finally:
            bar.close()

    def map_ordered(self, spec: dict[str, Any], kwargs_list: list[dict[str, Any]], progress: bool = True,
                    desc: str = "tasks") -> Iterator[dict[str, dict[str, Any]]]:
        """End outputs of every execution in input order, each yielded as soon as all before it are done."""
        pending: dict[int, dict] = {}
        nxt = 0
        for i, result in self.map(spec, kwargs_list, progress, desc):
            pending[i] = result
            while nxt in pending:
                yield pending.pop(nxt)
                nxt += 1

    def execute(self, wf, client=None):
        """Xi-cam's executor protocol: run the whole workflow as one task; returns its end results."""
        from .workflows import from_workflow

        spec = from_workflow(wf)
        yield threading.current_thread()
        client = client or self.client
        result = run_once(spec, {}) if client is None else client.submit(run_once, spec, {}, pure=False,
                                                                           retries=self.retries).result()
        wf.lastresult = list(result.values())
        return wf.lastresult

    def close(self) -> None:
        """Shut down the client and any cluster this executor started."""
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
