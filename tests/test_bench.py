"""``camsort bench --quick`` produces every figure as well-formed JSON (values are reported, not asserted)."""
from __future__ import annotations

import json
import math

from xicam.camsort.cli import main

KEYS = ("gemm_gflops", "read_per_s", "preprocess_per_s", "featurize_per_s", "featurizer_gflop_per_pattern",
        "efficiency", "sort_per_s", "latency_ms", "camsortxs_style_per_s", "speedup")


def test_bench_quick_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    for key in KEYS:
        assert isinstance(results[key], float) and math.isfinite(results[key]) and results[key] > 0, key
    assert results["frames"] == 100 and results["quick"] is True
    assert "end-to-end sort" in capsys.readouterr().out
