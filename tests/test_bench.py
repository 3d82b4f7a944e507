"""``camsort bench --quick`` produces every figure as well-formed JSON (values are reported, not asserted).

The quick scale is shrunk here (12 frames, a two-epoch LeNet): the figures are the same, only from fewer frames."""
from __future__ import annotations

import json
import math

from xicam.camsort import bench
from xicam.camsort.cli import main

KEYS = ("gemm_gflops", "read_per_s", "preprocess_per_s", "featurize_per_s", "featurizer_gflop_per_pattern",
        "efficiency", "copy_only_per_s", "sort_per_s", "sort_vs_copy_only", "sort_manifest_only_per_s",
        "sort_10x_manifest_only_per_s",
        "scaling_time_ratio_10x", "latency_ms", "camsortxs_style_per_s", "speedup", "dask_1_worker_per_s",
        "dask_2_worker_per_s", "dask_speedup_2_workers", "lenet_epoch_s", "lenet_best_val_accuracy")


def test_bench_quick_writes_every_figure(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(bench, "QUICK", bench.Scale(12, 256, (10, 0.5, 2)))
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    for key in KEYS:
        assert isinstance(results[key], float) and math.isfinite(results[key]) and results[key] > 0, key
    assert results["frames"] == 12 and results["quick"] is True and results["scaling_frames"] == [12, 120]
    assert results["lenet_epochs_to_target"] is None or results["lenet_s_to_target"] > 0
    assert "end-to-end sort" in capfd.readouterr().out
