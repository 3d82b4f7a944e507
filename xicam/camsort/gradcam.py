"""Grad-CAM: which parts of a pattern made the network choose its class.

The class score's gradient with respect to the last convolutional feature maps, averaged per
channel, weights those maps; their positive sum, upsampled to the input, is the heat map. Works for
any Keras CNN here (the LeNets and the keras.applications networks).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import CLASSES
from .calibration import shown
from .errors import CamsortError
from .features import keras_import


def last_conv_layer(model: Any) -> str:
    """Name of the deepest convolution whose maps still have extent (more than 1x1 pixel): a 1x1 map,
    as small inputs give at the end of the deep networks, cannot say where anything is."""
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None)
        if shape is not None and len(layer.output.shape) == 4 and "conv" in type(layer).__name__.lower() \
                and max(layer.output.shape[1:3]) > 1:
            return layer.name
    raise CamsortError(f"model {model.name!r} has no convolutional layer for Grad-CAM")


def gradcam(model: Any, X: np.ndarray, class_index: int | np.ndarray | None = None,
            layer: str | None = None) -> np.ndarray:
    """Heat maps (N, H, W) in [0, 1] at input resolution, for the predicted or the given class."""
    keras = keras_import.keras()
    import tensorflow as tf

    X = np.asarray(X, np.float32)
    if X.ndim == 3:
        X = X[..., None]
    grad_model = keras.Model(model.inputs, [model.get_layer(layer or last_conv_layer(model)).output, model.output])
    x = tf.convert_to_tensor(X)
    with tf.GradientTape() as tape:
        maps, preds = grad_model(x, training=False)
        idx = tf.argmax(preds, axis=1) if class_index is None else tf.broadcast_to(
            tf.constant(class_index, tf.int64), (len(X),))
        score = tf.gather(preds, idx, axis=1, batch_dims=1)
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[..., None]
    cam = tf.image.resize(cam, X.shape[1:3], method="bilinear")[..., 0].numpy()
    top = cam.reshape(len(cam), -1).max(axis=1)[:, None, None]
    return np.where(top > 0, cam / np.maximum(top, 1e-12), 0.0).astype(np.float32)


def sorter_cam(sorter: Any, images: np.ndarray, class_index: int | np.ndarray | None = None,
               model: Any = None) -> np.ndarray:
    """Grad-CAM of the sorter's network (``model``, found when not given) on preprocessed ``images`` (N, size,
    size). A sorter that averages each image with its mirror image (``mirror``) is explained as it decides:
    the mean of both views' maps, the mirror's turned back, scaled to a peak of 1."""
    model = keras_model_of(sorter) if model is None else model
    net_input = sorter.featurizer.network_input(images)
    cam = gradcam(model, net_input, class_index)
    if not getattr(sorter, "mirror", False):
        return cam
    cam = (cam + gradcam(model, net_input[:, :, ::-1], class_index)[:, :, ::-1]) / 2
    return cam / np.maximum(cam.reshape(len(cam), -1).max(axis=1), 1e-12)[:, None, None]


def save_overlay(image: np.ndarray, heatmap: np.ndarray, out_png: str | os.PathLike, title: str = "",
                 alpha: float = 0.45) -> Path:
    """Write the (log-scaled, normalised) pattern in grey with the heat map over it in a colormap."""
    from .figures import save_figure, subplots

    fig, axes = subplots(1, 2, figsize=(8, 4.3))
    axes = axes[0]
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("pattern (log scale)", fontsize=9)
    axes[1].imshow(image, cmap="gray")
    axes[1].imshow(heatmap, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    axes[1].set_title("Grad-CAM", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out_png, dpi=90)


def keras_model_of(sorter: Any) -> Any:
    """The sorter's CNN (its featurizer's Keras model), or a CamsortError if it has none."""
    model = getattr(sorter.featurizer, "model_", None)
    if model is None:
        raise CamsortError("Grad-CAM needs a CNN featurizer; this model uses "
                           f"{type(sorter.featurizer).__name__}")
    return model


def explain_images(sorter: Any, names: list[str], images: np.ndarray, out_dir: str | os.PathLike,
                   outcomes: list[dict] | None = None) -> list[Path]:
    """One overlay PNG per preprocessed image: the sorter's outcome in the title, the CAM of its top class.

    ``outcomes`` are the sorter's decisions for ``images`` when the caller already has them.
    """
    model = keras_model_of(sorter)
    written = []
    for name, outcome, image in zip(names, outcomes or sorter.decide(images), images):
        cam = sorter_cam(sorter, image[None], CLASSES.index(outcome["top"]), model)[0]
        seen = sorter.featurizer.network_input(image[None])[0, ..., 0]  # the square the network saw, under the map
        p = max(outcome["probabilities"])
        written.append(save_overlay(seen, cam, Path(out_dir) / f"{name.replace('#', '_frame')}.gradcam.png",
                                    f"{name[-48:]}: {outcome['label']} (p={shown(p, 2):.2f})"))
    return written


def explain_files(sorter: Any, files: list[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """One overlay PNG per frame of ``files`` (see :func:`explain_images`)."""
    from .io import iter_patterns
    from .preprocess import preprocess

    written = []
    for path in files:
        for pattern in iter_patterns(path):
            written += explain_images(sorter, [pattern.name], preprocess(pattern.data, sorter.size)[None], out_dir)
    return written
