"""Matplotlib without a display: one place that makes figures and writes them as PNG files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def subplots(rows: int, cols: int, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure and a 2-D array of axes on the Agg backend (works headless, on clusters and in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=figsize, squeeze=False)


def save_figure(fig: Any, out_png: str | os.PathLike, dpi: int = 80) -> Path:
    """Lay out, write (creating the folder) and close a figure; returns the PNG path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi)
    plt.close(fig)
    return out_png
