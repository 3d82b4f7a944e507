"""The paper's five ImageNet CNNs from ``keras.applications`` as featurizers.

Each network takes the camsort image (N, S, S) in [0, 1]; inside the model a ``Resizing`` layer
brings it to the network's size (224 or 299) and grey is repeated into the three
channels the network expects, normalised as its ImageNet weights were trained (``caffe``: 0-255
minus the BGR means; ``tf``: -1..1), in layers without weights so that Keras' own ImageNet weight files
load into the network unchanged. So the saved ``.keras`` file is the whole pipeline and Grad-CAM
works on image pixels. Features are the paper's layers: VGG FC2 (4096), the global average
pool of ResNet50 (2048), Xception (2048) and InceptionResNetV2 (1536); a softmax head over CLASSES
sits on top of them. Modes:

- ``pretrained``: ImageNet weights, frozen; only the softmax head is fitted (on the features, once
  computed), so that Grad-CAM has a class score to explain.
- ``finetune``: all layers trained from ImageNet weights when they are available, else from random
  weights (``initial_weights_`` and the log say which); Adam, lr 1e-4, inverse-time decay 1e-5, batch 32.
- ``scratch``: the same training from random weights.

ImageNet weights are never downloaded here: they are taken from Keras' cache
(``$KERAS_HOME/models``, default ``~/.keras/models``) or a file the user gives (``weights_path``).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import CLASSES
from ..errors import CamsortError
from . import keras_import
from .lenet import LeNetFeatures, history_floats

log = logging.getLogger(__name__)

MODES = ("pretrained", "finetune", "scratch")
WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class App:
    """What camsort needs to know of one keras.applications network."""

    constructor: str
    size: int
    normalisation: str
    feature_layer: str
    weights_file: str

    @property
    def include_top(self) -> bool:
        """VGG's features are its fully connected FC2, so its top is built (and its top weights needed)."""
        return self.feature_layer == "fc2"


APPS: dict[str, App] = {
    "vgg16": App("VGG16", 224, "caffe", "fc2", "vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    "vgg19": App("VGG19", 224, "caffe", "fc2", "vgg19_weights_tf_dim_ordering_tf_kernels.h5"),
    "resnet50": App("ResNet50", 224, "caffe", "gap", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "xception": App("Xception", 299, "tf", "gap", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "inceptionresnetv2": App("InceptionResNetV2", 299, "tf", "gap",
                             "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
}
"""Featurizer name -> network (constructor, input size, ImageNet normalisation, feature layer (``gap``: the
global average pool over the last feature maps), ImageNet weights file)."""

CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)
FEATURES = "features"
"""Name of the (identity) layer that exposes every network's feature vector."""


def keras_cache_file(arch: str) -> Path:
    """Where Keras keeps (and camsort looks for) the ImageNet weights of ``arch``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / APPS[arch].weights_file


def imagenet_weights(arch: str, weights_path: str | os.PathLike | None = None) -> str | None:
    """The ImageNet weights to load for ``arch``: the user's file, else Keras' cache, else None."""
    if weights_path:
        if not Path(weights_path).is_file():
            raise CamsortError(f"{weights_path}: weights file not found")
        return os.fspath(weights_path)
    return "imagenet" if keras_cache_file(arch).is_file() else None


def missing_weights_message(arch: str) -> str:
    """The error for pretrained mode without weights: names the file and where it comes from."""
    app = APPS[arch]
    return (f"{arch} pretrained needs ImageNet weights, which are not downloaded at run time: put "
            f"{app.weights_file} (from {WEIGHTS_URL}) at {keras_cache_file(arch)} or pass its path "
            "with --weights FILE")


def build_app(arch: str, input_size: int, network_size: int | None = None, weights: str | None = None,
              n_classes: int = len(CLASSES)):
    """Uncompiled model: image (S, S, 1) -> resize -> grey to normalised RGB -> network -> features -> softmax."""
    keras = keras_import.keras()
    layers = keras.layers

    app = APPS[arch]
    network_size = network_size or app.size
    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = inputs
    if network_size != input_size:
        x = layers.Resizing(network_size, network_size, name="resize")(x)
    x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if app.normalisation == "caffe":
        x = layers.Rescaling(255.0, offset=[-m for m in CAFFE_BGR_MEANS], name="imagenet_normalise")(x)
    else:
        x = layers.Rescaling(2.0, offset=-1.0, name="imagenet_normalise")(x)
    options = {"include_top": app.include_top, "weights": weights, "input_tensor": x}
    if not app.include_top:
        options["pooling"] = "avg"
    try:
        base = getattr(keras.applications, app.constructor)(**options)
    except (OSError, ValueError) as exc:
        raise CamsortError(f"{arch}: cannot build with weights {weights!r} ({type(exc).__name__}: {exc})") from None
    features = layers.Identity(name=FEATURES)(base.get_layer(app.feature_layer).output if app.include_top
                                              else base.output)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(features)
    return keras.Model(inputs, outputs, name=arch)


class KerasAppFeatures(LeNetFeatures):
    """A keras.applications CNN (pretrained, fine-tuned or from scratch); features at the paper's layer."""

    def __init__(self, arch: str = "vgg16", mode: str = "finetune", input_size: int | None = None,
                 network_size: int | None = None, weights_path: str | None = None, epochs: int = 10,
                 batch_size: int = 32, optimizer: str = "adam", learning_rate: float = 1e-4, decay: float = 1e-5,
                 validation_fraction: float = 0.15, patience: int = 3, augment: bool = True, seed: int = 0,
                 verbose: int = 0):
        super().__init__(arch=arch, input_size=input_size, epochs=epochs, batch_size=batch_size,
                         optimizer=optimizer, learning_rate=learning_rate, decay=decay,
                         validation_fraction=validation_fraction, patience=patience, augment=augment, seed=seed,
                         verbose=verbose)
        self.mode, self.network_size, self.weights_path = mode, network_size, weights_path

    feature_layer = FEATURES
    inference_batch = 32

    def build(self, size: int):
        """The network with the weights ``mode`` asks for; records them in ``initial_weights_``."""
        if self.arch not in APPS:
            raise CamsortError(f"unknown network {self.arch!r}; choose one of {', '.join(APPS)}")
        if self.mode not in MODES:
            raise CamsortError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        weights = None if self.mode == "scratch" else imagenet_weights(self.arch, self.weights_path)
        if self.mode == "pretrained" and weights is None:
            raise CamsortError(missing_weights_message(self.arch))
        if self.mode == "finetune" and weights is None:
            log.warning("%s finetune: ImageNet weights not found at %s; training from random weights",
                        self.arch, keras_cache_file(self.arch))
        self.initial_weights_ = "random" if weights is None else (
            "imagenet" if weights == "imagenet" else f"file {weights}")
        return build_app(self.arch, size, self.network_size, weights)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "KerasAppFeatures":
        """Fine-tune or train (``finetune``/``scratch``), or fit only the softmax head (``pretrained``)."""
        if self.mode != "pretrained":
            return super().fit(X, y)
        keras = keras_import.keras()

        self.new_network(X)
        features = self.transform(X)
        head = keras.Sequential([keras.Input(features.shape[1:]),
                                 keras.layers.Dense(len(CLASSES), activation="softmax")])
        head.compile(keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = head.fit(features, np.asarray(y, np.int32), epochs=max(self.epochs, 50), batch_size=64,
                           verbose=self.verbose)
        self.model_.get_layer("softmax").set_weights(head.layers[-1].get_weights())
        self.history_ = history_floats(history)
        return self
