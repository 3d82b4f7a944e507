"""``camsort bench``: what camsort costs on this machine, as rates and as ratios to references measured
in the same run (the numpy GEMM rate, the page-cache read rate, a camSortXS-style per-image loop)."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Scale:
    """How much ``camsort bench`` measures: frames to sort (and ten times as many for the scaling figure),
    the GEMM reference's matrix size, and the LeNet run (frames per class, target val accuracy, epochs)."""

    frames: int
    gemm_n: int
    lenet: tuple[int, float, int]


FULL = Scale(1000, 2048, (300, 0.9, 25))
QUICK = Scale(100, 1024, (40, 0.7, 6))
"""``camsort bench --quick``."""


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_gflops(n: int = 2048) -> float:
    """float32 matrix multiply rate of numpy's BLAS (GFLOP/s): the machine's compute reference."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    return 2 * n**3 / _best_of(lambda: a @ b) / 1e9


def model_flops(model: Any) -> float:
    """Multiply-adds x 2 of the Conv2D and Dense layers of a Keras model, per input image."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += 2 * h * w * c_out * kh * kw * layer.input.shape[-1]
        elif kind == "Dense":
            total += 2 * layer.input.shape[-1] * layer.units
    return float(total)


def _write_frames(folder: Path, n: int) -> list[Path]:
    """``n`` Pilatus-1M TIFFs: four simulated templates written once, the rest hard links to them.

    Links keep 10,000 frames from costing 40 GB; every frame is still opened, decoded and hashed.
    """
    from .io import write_tiff
    from .simulate import simulate

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"frame_{i:05d}.tif"
        if i < 4:
            write_tiff(path, simulate(("SAXS", "WAXS", "GISAXS", "GIWAXS")[i], rng, detector="pilatus1m").data
                       .astype(np.int32))
        else:
            os.link(paths[i % 4], path)
        paths.append(path)
    return paths


def sort_rate(folder: Path, out: Path, sorter, mode: str = "copy") -> float:
    """Frames per second of ``sort_frames`` over a folder."""
    from .sortjob import sort_frames

    os.sync()  # start with no earlier phase's writeback sharing the disk
    t0 = time.perf_counter()
    summary = sort_frames([folder], out, sorter, mode=mode, progress=False)
    return summary.sorted / (time.perf_counter() - t0)


def copy_rate(paths: list[Path], dest: Path) -> float:
    """The disk's reference for copy mode: files per second of plain ``shutil.copy2`` of the same files."""
    import shutil

    dest.mkdir()
    os.sync()
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        shutil.copy2(path, dest / f"{i:05d}.tif")
    return len(paths) / (time.perf_counter() - t0)


def decide_file(sorter: Any, path: Path) -> list[dict[str, Any]]:
    """One frame from its file to its outcome (read, preprocess, decide): what the latency figure times."""
    from .io import read_pattern
    from .preprocess import preprocess

    return sorter.decide(preprocess(read_pattern(path).data, sorter.size)[None])


def _warm(model_dir: str | None, path: Path) -> None:
    """What a worker's first task costs once (imports, building the sort workflow, loading the model and its
    prediction function), paid before the clock starts: build the workflow, then decide ``path``."""
    from .sorter import load_cached
    from .workflows import load, to_workflow

    to_workflow(load("sort"))
    decide_file(load_cached(model_dir), path)


def dask_sort_rates(folder: Path, out: Path, model_dir: str | None) -> tuple[float, float]:
    """Frames per second of ``sort.yml`` (manifest-only) on a LocalCluster of one, then two single-threaded workers.

    The cluster grows from one worker to two between the runs; every worker is warmed (``_warm``) before each
    clock starts: this measures the steady state.
    """
    from .executors import DaskExecutor
    from .runner import run_mapped
    from .workflows import load

    spec, rates = load("sort"), []
    with DaskExecutor.start("local", workers=1, threads=1) as executor:
        for workers in (1, 2):
            executor.cluster.scale(workers)
            executor.client.wait_for_workers(workers)
            executor.client.run(_warm, model_dir, next(folder.iterdir()))
            t0 = time.perf_counter()
            summary = run_mapped(spec, [str(folder)], out / f"dask{workers}", executor, model=model_dir,
                                 mode="manifest-only", progress=False)
            rates.append(summary.sorted / (time.perf_counter() - t0))
    return rates[0], rates[1]


def lenet_training(per_class: int, target: float, epochs: int, size: int = 128) -> dict[str, float]:
    """Seconds and epochs the default network (lenet-fast) needs to reach ``target`` validation accuracy."""
    from .features import make_featurizer
    from .training import simulated_set

    X, y = simulated_set(per_class, seed=7, size=size)
    labels = np.unique(y, return_inverse=True)[1]
    net = make_featurizer("lenet-fast", epochs=epochs, patience=epochs, seed=0).fit(X, labels)
    accuracy, elapsed = net.history_["val_accuracy"], net.history_["elapsed_s"]
    reached = next((i for i, a in enumerate(accuracy) if a >= target), None)
    return {"lenet_train_images": len(X), "lenet_target_val_accuracy": target,
            "lenet_best_val_accuracy": max(accuracy), "lenet_epoch_s": elapsed[-1] / len(elapsed),
            "lenet_epochs_to_target": None if reached is None else reached + 1,
            "lenet_s_to_target": None if reached is None else elapsed[reached]}


def camsortxs_style(sorter, paths: list[Path]) -> float:
    """The reference: per-image read, skimage resize, ``model.predict`` and a pandas row append."""
    import pandas as pd
    from skimage.transform import resize

    from .io import read_pattern

    net = sorter.featurizer.features_model
    size = sorter.featurizer.input_size_
    table = pd.DataFrame(columns=["path", "technique"])
    t0 = time.perf_counter()
    for path in paths:
        data = np.log1p(np.clip(read_pattern(path).data, 0, None))
        image = resize(data / max(data.max(), 1e-9), (size, size))
        features = net.predict(image[None, ..., None], verbose=0)
        label = sorter.classifier.predict(sorter.reducer.transform(features))[0]
        table = pd.concat([table, pd.DataFrame([{"path": str(path), "technique": label}])], ignore_index=True)
    return len(paths) / (time.perf_counter() - t0)


def run(quick: bool = False, model_dir: str | None = None) -> dict[str, Any]:
    """Measure everything; returns a JSON-able dict of rates and ratios."""
    from .io import read_pattern
    from .preprocess import preprocess
    from .sorter import load_cached

    scale = QUICK if quick else FULL
    n, m = scale.frames, min(scale.frames, 50)
    sorter = load_cached(model_dir)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.platform(),
                               "cpus": os.cpu_count(), "frames": n, "quick": quick,
                               "model_networks": len(getattr(sorter, "members", [sorter]))}
    results["gemm_gflops"] = gemm_gflops(scale.gemm_n)
    with tempfile.TemporaryDirectory() as tmp:
        folder, large = Path(tmp) / "in", Path(tmp) / "in10"
        folder.mkdir()
        large.mkdir()
        paths = _write_frames(folder, n)
        paths[0].read_bytes()  # the four templates are now in the page cache: reading is bounded by decoding
        t = _best_of(lambda: [read_pattern(p) for p in paths[:m]], 2)
        results["read_per_s"] = m / t
        frames = [read_pattern(p).data for p in paths[:m]]
        results["preprocess_per_s"] = m / _best_of(lambda: [preprocess(f, sorter.size) for f in frames], 2)
        X = np.stack([preprocess(f, sorter.size) for f in frames] * 4)
        sorter.featurizer.transform(X[:8])
        t = _best_of(lambda: sorter.featurizer.transform(X), 2)
        results["featurize_per_s"] = len(X) / t
        flops = model_flops(sorter.featurizer.model_)
        results["featurizer_gflop_per_pattern"] = flops / 1e9
        results["efficiency"] = flops * len(X) / t / 1e9 / results["gemm_gflops"]
        results["copy_only_per_s"] = copy_rate(paths, Path(tmp) / "copied")
        results["sort_per_s"] = sort_rate(folder, Path(tmp) / "out", sorter)
        results["sort_vs_copy_only"] = results["sort_per_s"] / results["copy_only_per_s"]
        results["sort_manifest_only_per_s"] = sort_rate(folder, Path(tmp) / "out-m", sorter, "manifest-only")
        _write_frames(large, 10 * n)
        results["scaling_frames"] = [n, 10 * n]
        results["sort_10x_manifest_only_per_s"] = sort_rate(large, Path(tmp) / "out-10", sorter, "manifest-only")
        results["scaling_time_ratio_10x"] = (results["sort_manifest_only_per_s"]
                                             / results["sort_10x_manifest_only_per_s"] * 10)
        t = _best_of(lambda: decide_file(sorter, paths[0]), 5)
        results["latency_ms"] = 1000 * t
        ref = camsortxs_style(sorter, paths[: min(n, 60)])
        results["camsortxs_style_per_s"] = ref
        results["speedup"] = results["sort_per_s"] / ref
        rates = dask_sort_rates(folder, Path(tmp), model_dir)
        results["dask_1_worker_per_s"], results["dask_2_worker_per_s"] = rates
        results["dask_speedup_2_workers"] = results["dask_2_worker_per_s"] / results["dask_1_worker_per_s"]
    results.update(lenet_training(*scale.lenet))
    return results


def format_table(results: dict[str, Any]) -> str:
    """The human-readable table printed by ``camsort bench``."""
    to_target = (f"{results['lenet_s_to_target']:.0f} s ({results['lenet_epochs_to_target']} epochs)"
                 if results["lenet_s_to_target"] is not None else "not reached")
    rows = [
        ("numpy GEMM (reference)", f"{results['gemm_gflops']:.1f} GFLOP/s"),
        ("read Pilatus-1M TIFF (page cache)", f"{results['read_per_s']:.0f} frames/s"),
        ("preprocess to model input", f"{results['preprocess_per_s']:.0f} frames/s"),
        (f"featurize (one CNN of {results['model_networks']}, batch)", f"{results['featurize_per_s']:.0f} patterns/s"),
        ("  CNN cost / fraction of GEMM rate", f"{results['featurizer_gflop_per_pattern']:.3f} GFLOP, "
                                              f"efficiency {results['efficiency']:.2f}"),
        ("plain shutil.copy2 of the frames (reference)", f"{results['copy_only_per_s']:.1f} files/s"),
        ("end-to-end sort (read..copy..manifest)", f"{results['sort_per_s']:.1f} frames/s, "
                                                   f"{results['sort_vs_copy_only']:.2f}x the plain copy"),
        ("  manifest-only", f"{results['sort_manifest_only_per_s']:.1f} frames/s"),
        (f"  {results['scaling_frames'][1]} frames, manifest-only", f"{results['sort_10x_manifest_only_per_s']:.1f} "
         f"frames/s: 10x the frames took {results['scaling_time_ratio_10x']:.1f}x the time"),
        ("single-pattern latency", f"{results['latency_ms']:.1f} ms"),
        ("camSortXS-style loop (reference)", f"{results['camsortxs_style_per_s']:.1f} frames/s"),
        ("speed-up over it", f"{results['speedup']:.1f}x"),
        ("sort.yml on dask, 1 / 2 workers", f"{results['dask_1_worker_per_s']:.1f} / "
                                            f"{results['dask_2_worker_per_s']:.1f} frames/s: "
                                            f"{results['dask_speedup_2_workers']:.2f}x"),
        (f"LeNet training to val acc {results['lenet_target_val_accuracy']}",
         f"{to_target}, {results['lenet_epoch_s']:.1f} s/epoch on {results['lenet_train_images']} images"),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main(quick: bool, json_out: str | None, model_dir: str | None) -> dict[str, Any]:
    """Run, print the table, and write JSON when asked."""
    results = run(quick, model_dir)
    print(format_table(results))
    if json_out:
        Path(json_out).write_text(json.dumps(results, indent=1) + "\n")
    return results
