"""Contact sheets: a grid of log-scaled frames, a row per technique, with a real frame beside each row."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import TECHNIQUES
from .datasets import read_labelled_folder
from .figures import save_figure, subplots
from .io import frame_paths, read_pattern


def _log_image(data: np.ndarray) -> np.ndarray:
    img = np.where(np.isfinite(data) & (data >= 0), data, 0)
    return np.log1p(img)


def contact_sheet(root: str | os.PathLike, out_png: str | os.PathLike, per_class: int = 8,
                  real_dir: str | os.PathLike | None = None) -> Path:
    """Render ``per_class`` frames of each technique from a labelled folder (+ real frames) to a PNG."""
    table = read_labelled_folder(root)
    real = {}
    if real_dir and Path(real_dir).is_dir():
        for technique in TECHNIQUES:
            found = frame_paths([Path(real_dir) / technique]) if (Path(real_dir) / technique).is_dir() else []
            if found:
                real[technique] = found[0]
    cols = per_class + (1 if real else 0)
    fig, axes = subplots(len(TECHNIQUES), cols, figsize=(2.2 * cols, 2.4 * len(TECHNIQUES)))
    for r, technique in enumerate(TECHNIQUES):
        paths = [p for p, t in zip(table["path"], table["technique"]) if t == technique][:per_class]
        cells = ([("REAL " + Path(real[technique]).name[:18], real[technique])] if technique in real
                 else ([("(no real frame)", None)] if real else []))
        cells += [(Path(p).name[:22], p) for p in paths]
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(cells) and cells[c][1] is not None:
                pattern = read_pattern(cells[c][1])
                ax.imshow(_log_image(pattern.data), cmap="inferno", interpolation="nearest")
                meta = pattern.metadata
                sub = (f"{meta.get('detector', '')} {meta.get('shape', '')}" if "detector" in meta
                       else "x".join(map(str, pattern.shape)))
                ax.set_title(f"{cells[c][0]}\n{sub}", fontsize=6)
                if cells[c][0].startswith("REAL"):
                    for spine in ax.spines.values():
                        spine.set_edgecolor("lime")
                        spine.set_linewidth(3)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(technique, fontsize=12)
    return save_figure(fig, out_png)


def error_sheet(cells: list[tuple[str, str]], out_png: str | os.PathLike, cols: int = 8) -> Path:
    """Render misclassified frames to a PNG grid: ``cells`` are (frame path, caption) pairs."""
    rows = max(1, -(-len(cells) // cols))
    fig, axes = subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (path, caption) in zip(axes.ravel(), cells):
        ax.imshow(_log_image(read_pattern(path).data), cmap="inferno", interpolation="nearest")
        ax.set_title(f"{Path(path).name[:26]}\n{caption}", fontsize=6)
    return save_figure(fig, out_png)
