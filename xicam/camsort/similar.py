"""Similarity search over sorter features (the paper's Fig. 2): index a folder, find a frame's neighbours.

The index is an ``.npz`` of feature rows and paths (no pickle); queries use scikit-learn's exact
NearestNeighbors, which is fast enough for the 10^4-10^5 frames of an experiment.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CamsortError, PatternReadError
from .io import frame_paths, iter_patterns
from .preprocess import preprocess_batch


def index_file(name: str | os.PathLike) -> Path:
    """The file of the index ``name``: numpy writes an index named ``idx`` as ``idx.npz``, and ``--index idx`` finds
    it there."""
    return Path(name) if str(name).endswith(".npz") else Path(f"{os.fspath(name)}.npz")


def embed(sorter, images: np.ndarray) -> np.ndarray:
    """Standardised, PCA-reduced sorter features of preprocessed images (the space the classifier sees)."""
    return sorter.reducer.transform(sorter.featurizer.transform(images)).astype(np.float32)


def build_index(sorter, inputs: list[str | os.PathLike], out: str | os.PathLike, recursive: bool = False,
                batch: int = 64) -> tuple[Path, list[str]]:
    """Embed every readable frame under ``inputs``; write the index ``out`` (:func:`index_file`). Returns the file
    written and the errors."""
    rows, names, errors = [], [], []
    images: list[np.ndarray] = []

    def flush() -> None:
        if images:
            rows.append(embed(sorter, preprocess_batch(images, sorter.size)))
            images.clear()

    for path in frame_paths(list(inputs), recursive=recursive):
        try:
            for pattern in iter_patterns(path):
                images.append(pattern.data)
                names.append(str(Path(path).resolve()) + ("" if pattern.frame is None else f"#{pattern.frame}"))
                if len(images) >= batch:
                    flush()
        except PatternReadError as exc:
            errors.append(str(exc))
    flush()
    if not names:
        raise CamsortError(f"no readable frames under {', '.join(map(str, inputs))}")
    out = index_file(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, features=np.concatenate(rows), paths=np.array(names))
    return out, errors


def query(sorter, index: str | os.PathLike, image: np.ndarray, top: int = 10) -> list[tuple[str, float]]:
    """The ``top`` indexed frames nearest to a preprocessed image, with Euclidean distances."""
    from sklearn.neighbors import NearestNeighbors

    try:
        data = np.load(index_file(index), allow_pickle=False)
        features, paths = data["features"], data["paths"]
    except (OSError, ValueError, KeyError) as exc:
        raise CamsortError(f"{index}: not a camsort similarity index ({exc})") from None
    nn = NearestNeighbors(n_neighbors=min(top, len(paths))).fit(features)
    distances, idx = nn.kneighbors(embed(sorter, image[None]))
    return [(str(paths[i]), float(d)) for i, d in zip(idx[0], distances[0])]


def save_strip(query_image: np.ndarray, matches: list[tuple[str, float]], out_png: str | os.PathLike,
               size: int) -> Path:
    """A PNG strip: the query then its matches (log-scaled, normalised), with distances."""
    from .figures import save_figure, subplots
    from .io import read_pattern

    fig, axes = subplots(1, len(matches) + 1, figsize=(2.2 * (len(matches) + 1), 2.6))
    axes[0, 0].imshow(query_image, cmap="inferno")
    axes[0, 0].set_title("query", fontsize=8)
    for ax, (name, distance) in zip(axes[0, 1:], matches):
        path, _, frame = name.partition("#")
        image = preprocess_batch([read_pattern(path, frame=int(frame) if frame else None).data], size)[0]
        ax.imshow(image, cmap="inferno")
        ax.set_title(f"{Path(path).name[:16]}{'#' + frame if frame else ''}\nd={distance:.2f}", fontsize=7)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    return save_figure(fig, out_png)
