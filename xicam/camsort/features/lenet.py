"""LeNet featurizers: the paper's LeNet and a lean variant that is the shipped default.

The paper's LeNet: 3 conv layers (64, 64, 48 filters, 3x3), each followed by 2x2 max-pool and
batch-norm; FC 192 -> dropout 0.5 -> FC 64 -> softmax; features are FC1 (192). At 256x256 it costs
~1.5 GFLOP per pattern. ``lenet-fast`` keeps the FC1-192 feature layer but takes 128x128 input
with a strided first conv and a fourth small conv: ~0.08 GFLOP per pattern, for sorting at
hundreds of frames per second on a laptop. Training: ``optimizer="sgd"`` is the paper's SGD (lr
1e-3, inverse-time decay 1e-4; with Nesterov momentum 0.9), the default ``"adam"`` (same lr and
decay) converges in far fewer epochs on 2 cores; batch 64, early stopping on a validation split,
flips/quarter-turn augmentation (detectors are mounted rotated and images stored flipped), and
batch-norm momentum 0.9 so that validation statistics settle within short epochs. Saved as
``.keras`` and loaded with ``safe_mode=True``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .. import CLASSES
from ..errors import CamsortError
from . import keras_import

ARCHS = ("lenet", "lenet-fast")
FEATURE_LAYER = "fc1"
BN_MOMENTUM = 0.9
"""Batch-norm running statistics must settle within a few dozen steps per epoch (Keras' 0.99 does not)."""
OPTIMIZERS = ("sgd", "adam")


def build_lenet(arch: str, input_size: int, n_classes: int = len(CLASSES)):
    """An uncompiled Keras model of ``arch`` with the feature layer named ``fc1``."""
    keras = keras_import.keras()
    layers = keras.layers

    inputs = keras.Input((input_size, input_size, 1), name="image")
    x = inputs
    if arch == "lenet":
        for i, filters in enumerate((64, 64, 48)):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 1}")(x)
            x = layers.MaxPooling2D(2)(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    elif arch == "lenet-fast":
        x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv1")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        for i, filters in enumerate((32, 48, 64)):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i + 2}")(x)
            x = layers.MaxPooling2D(2)(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    else:
        raise CamsortError(f"unknown LeNet architecture {arch!r}; choose one of {ARCHS}")
    x = layers.Flatten()(x)
    x = layers.Dense(192, activation="relu", name=FEATURE_LAYER)(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu", name="fc2")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="softmax")(x)
    return keras.Model(inputs, outputs, name=arch.replace("-", "_"))


def _augment(x, y):
    import tensorflow as tf

    x = tf.image.random_flip_left_right(x)
    x = tf.image.random_flip_up_down(x)
    x = tf.image.rot90(x, tf.random.uniform((), 0, 4, dtype=tf.int32))
    return x, y


def train_classifier(model, X: np.ndarray, y: np.ndarray, params: Any) -> dict[str, list[float]]:
    """Compile and fit ``model`` on network inputs ``X`` with the optimiser, schedule, batch, augmentation
    and early stopping of ``params`` (a LeNet-style featurizer); restores the best validation epoch."""
    keras = keras_import.keras()
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    tr, va = train_test_split(np.arange(len(y)), test_size=params.validation_fraction, stratify=y,
                              random_state=params.seed)
    steps = max(1, int(np.ceil(len(tr) / params.batch_size)))
    schedule = keras.optimizers.schedules.InverseTimeDecay(params.learning_rate, decay_steps=1,
                                                           decay_rate=params.decay)
    if params.optimizer not in OPTIMIZERS:
        raise CamsortError(f"unknown optimizer {params.optimizer!r}; choose one of {OPTIMIZERS}")
    optimizer = (keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True) if params.optimizer == "sgd"
                 else keras.optimizers.Adam(schedule))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    train = tf.data.Dataset.from_tensor_slices((X[tr], y[tr])).shuffle(len(tr), seed=params.seed)
    if params.augment:
        train = train.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    train = train.batch(params.batch_size).prefetch(tf.data.AUTOTUNE)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=params.patience, restore_best_weights=True)
    start, elapsed = time.perf_counter(), []
    clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: elapsed.append(time.perf_counter() - start))
    history = model.fit(train, validation_data=(X[va], y[va]), epochs=params.epochs, steps_per_epoch=steps,
                        callbacks=[stop, clock], verbose=params.verbose, shuffle=False)
    return {**history_floats(history), "elapsed_s": elapsed}


def history_floats(history: Any) -> dict[str, list[float]]:
    """A Keras ``History`` as plain floats per metric (JSON-safe)."""
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


class LeNetFeatures(TransformerMixin, BaseEstimator):
    """Train a LeNet on labelled images, then use its FC1 activations (192) as features."""

    def __init__(self, arch: str = "lenet-fast", input_size: int | None = None, epochs: int = 30,
                 batch_size: int = 64, optimizer: str = "adam", learning_rate: float = 1e-3, decay: float = 1e-4,
                 validation_fraction: float = 0.15, patience: int = 6, augment: bool = True,
                 seed: int = 0, verbose: int = 0):
        self.arch, self.input_size, self.epochs, self.batch_size = arch, input_size, epochs, batch_size
        self.optimizer = optimizer
        self.learning_rate, self.decay, self.validation_fraction = learning_rate, decay, validation_fraction
        self.patience, self.augment, self.seed, self.verbose = patience, augment, seed, verbose

    # -- training -------------------------------------------------------------------------
    feature_layer = FEATURE_LAYER
    inference_batch = 256

    def build(self, size: int):
        """The uncompiled network for ``size``-pixel inputs (subclasses build other networks)."""
        return build_lenet(self.arch, size)

    def new_network(self, X: np.ndarray) -> None:
        """Seed, then build a fresh ``model_`` for the image size of ``X`` (dropping any earlier network)."""
        keras = keras_import.keras()

        keras.utils.set_random_seed(self.seed)
        self.input_size_ = self.input_size or X.shape[1]
        self._features_model, self._steps = None, {}
        self.model_ = self.build(self.input_size_)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LeNetFeatures":
        """Train on images (N, H, W) in [0, 1] and integer labels; keeps the best validation epoch."""
        self.new_network(X)
        self.history_ = train_classifier(self.model_, self.network_input(X), np.asarray(y, dtype=np.int32), self)
        return self

    def fine_tune(self, X: np.ndarray, y: np.ndarray) -> "LeNetFeatures":
        """Go on training the network already loaded (:meth:`load_weights_from`) on images ``X`` and
        labels ``y``, at this featurizer's learning rate; keeps the best validation epoch."""
        keras = keras_import.keras()

        keras.utils.set_random_seed(self.seed)
        self._features_model, self._steps = None, {}
        self.history_ = train_classifier(self.model_, self.network_input(X), np.asarray(y, dtype=np.int32), self)
        return self

    # -- inference ------------------------------------------------------------------------
    def network_input(self, X: np.ndarray) -> np.ndarray:
        """Images (N, H, W) as the network takes them: (N, size, size, 1), resized if needed."""
        size = self.input_size_
        X = np.asarray(X, np.float32)
        if X.shape[1] != size:
            from skimage.transform import resize

            X = resize(X, (len(X), size, size), order=1, anti_aliasing=True, preserve_range=True)
        return X[..., None].astype(np.float32)

    def _predict(self, model, X: np.ndarray) -> np.ndarray:
        """Batched inference through a compiled step (:meth:`_step`: the same numbers as calling the model
        eagerly, 1.5× as fast on CPU); a progress bar when it takes many batches (the big networks on CPU)."""
        from tqdm.auto import tqdm

        X = self.network_input(X)
        step = self._step(model)
        starts = range(0, len(X), self.inference_batch)
        out = [step(X[i:i + self.inference_batch])
               for i in tqdm(starts, desc=f"{self.arch} features", unit="batch", disable=len(starts) < 8 or None)]
        return np.concatenate([np.asarray(o) for o in out]) if out else np.zeros((0, model.output_shape[-1]))

    def _step(self, model):
        """``model`` as one function traced once for every batch size. Keras' own predict step is traced again
        for the second batch size it meets (a quarter second per network here, and TensorFlow's retracing
        warnings where batch sizes vary, as in ``watch`` and the GUI); the numbers are the same."""
        import tensorflow as tf

        steps = self.__dict__.setdefault("_steps", {})
        if id(model) not in steps:  # the model is kept with its step, so its id is not reused
            spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
            # autograph off: a plain call needs no conversion, and converting reads this file's source,
            # which an install without sources (or a file changed under a running process) lacks
            step = tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
            steps[id(model)] = (model, step)
        return steps[id(model)][1]

    @property
    def features_model(self):
        """The sub-model from image to FC1 activations (built once)."""
        keras = keras_import.keras()

        if getattr(self, "_features_model", None) is None:
            self._features_model = keras.Model(self.model_.input, self.model_.get_layer(self.feature_layer).output)
        return self._features_model

    def transform(self, X: np.ndarray) -> np.ndarray:
        """FC1 features (N, 192) float32."""
        return self._predict(self.features_model, X).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The network's own softmax over CLASSES."""
        return self._predict(self.model_, X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        width = int(self.features_model.output.shape[-1])
        return np.array([f"{self.feature_layer}_{i}" for i in range(width)], dtype=object)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the network (architecture + weights, without optimizer state) as a ``.keras`` file."""
        keras = keras_import.keras()

        clean = keras.Model.from_config(self.model_.get_config())  # clone_model would keep the optimizer
        clean.set_weights(self.model_.get_weights())
        clean.save(os.fspath(path))

    def load_weights_from(self, path: str | os.PathLike) -> "LeNetFeatures":
        """Load a ``.keras`` file written by :meth:`save` (safe mode: no code is deserialised)."""
        keras = keras_import.keras()

        path = Path(path)
        if not path.is_file():
            raise CamsortError(f"{path}: Keras model file not found")
        try:
            self.model_ = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:
            raise CamsortError(f"{path}: not a loadable Keras model ({type(exc).__name__}: {exc})") from None
        self.input_size_ = int(self.model_.input_shape[1])
        self._features_model, self._steps = None, {}
        return self
