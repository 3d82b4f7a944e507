"""LeNet featurizers: the paper's LeNet and a lean variant that is the shipped default.

The paper's LeNet: 3 conv layers (64, 64, 48 filters, 3x3), each followed by 2x2 max-pool and
batch-norm; FC 192 -> dropout 0.5 -> FC 64 -> softmax; features are FC1 (192). At 256x256 it costs
~1.5 GFLOP per pattern. ``lenet-fast`` keeps the FC1-192 feature layer but takes 128x128 input
with a strided first conv and a fourth small conv: ~0.08 GFLOP per pattern, for sorting at
hundreds of frames per second on a laptop. Training: ``optimizer="sgd"`` is the paper's SGD (lr
1e-3, inverse-time decay 1e-4; with Nesterov momentum 0.9), the default ``"adam"`` (same lr and
decay) converges in far fewer epochs on 2 cores; batch 64, early stopping on a validation split,
flips/quarter-turn augmentation (detectors are mounted rotated and images stored flipped), and
batch-norm momentum 0.9 so that validation statistics settle within short epochs. Saved as ``.keras`` and loaded with ``safe_mode=True``.
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

ARCHS = ("lenet", "lenet-fast")
FEATURE_LAYER = "fc1"
BN_MOMENTUM = 0.9
"""Batch-norm running statistics must settle within a few dozen steps per epoch (Keras' 0.99 does not)."""
OPTIMIZERS = ("sgd", "adam")


def build_lenet(arch: str, input_size: int, n_classes: int = len(CLASSES)):
    """An uncompiled Keras model of ``arch`` with the feature layer named ``fc1``."""
    import keras
    from keras import layers

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
    def fit(self, X: np.ndarray, y: np.ndarray) -> "LeNetFeatures":
        """Train on images (N, H, W) in [0, 1] and integer labels; keeps the best validation epoch."""
        import keras
        import tensorflow as tf
        from sklearn.model_selection import train_test_split

        keras.utils.set_random_seed(self.seed)
        size = self.input_size or X.shape[1]
        X = self.network_input(X, size)
        y = np.asarray(y, dtype=np.int32)
        tr, va = train_test_split(np.arange(len(y)), test_size=self.validation_fraction, stratify=y,
                                  random_state=self.seed)
        model = build_lenet(self.arch, size)
        steps = max(1, int(np.ceil(len(tr) / self.batch_size)))
        schedule = keras.optimizers.schedules.InverseTimeDecay(self.learning_rate, decay_steps=1,
                                                               decay_rate=self.decay)
        if self.optimizer not in OPTIMIZERS:
            raise CamsortError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        optimizer = (keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True) if self.optimizer == "sgd"
                     else keras.optimizers.Adam(schedule))
        model.compile(optimizer=optimizer,
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        train = tf.data.Dataset.from_tensor_slices((X[tr], y[tr])).shuffle(len(tr), seed=self.seed)
        if self.augment:
            train = train.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
        train = train.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)
        stop = keras.callbacks.EarlyStopping("val_loss", patience=self.patience, restore_best_weights=True)
        start, elapsed = time.perf_counter(), []
        clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: elapsed.append(time.perf_counter() - start))
        history = model.fit(train, validation_data=(X[va], y[va]), epochs=self.epochs, steps_per_epoch=steps,
                            callbacks=[stop, clock], verbose=self.verbose, shuffle=False)
        self.model_ = model
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.history_["elapsed_s"] = elapsed
        self.input_size_ = size
        self._features_model = None
        return self

    # -- inference ------------------------------------------------------------------------
    def network_input(self, X: np.ndarray, size: int | None = None) -> np.ndarray:
        """Images (N, H, W) as the network takes them: (N, size, size, 1), resized if needed."""
        size = size or self.input_size_
        X = np.asarray(X, np.float32)
        if X.shape[1] != size:
            from skimage.transform import resize

            X = resize(X, (len(X), size, size), order=1, anti_aliasing=True, preserve_range=True)
        return X[..., None].astype(np.float32)

    def _predict(self, model, X: np.ndarray) -> np.ndarray:
        X = self.network_input(X)
        out = [model(X[i:i + 256], training=False) for i in range(0, len(X), 256)]
        return np.concatenate([np.asarray(o) for o in out]) if out else np.zeros((0, model.output_shape[-1]))

    @property
    def features_model(self):
        """The sub-model from image to FC1 activations (built once)."""
        import keras

        if getattr(self, "_features_model", None) is None:
            self._features_model = keras.Model(self.model_.input, self.model_.get_layer(FEATURE_LAYER).output)
        return self._features_model

    def transform(self, X: np.ndarray) -> np.ndarray:
        """FC1 features (N, 192) float32."""
        return self._predict(self.features_model, X).astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The network's own softmax over CLASSES."""
        return self._predict(self.model_, X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"{FEATURE_LAYER}_{i}" for i in range(192)], dtype=object)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the network (architecture + weights, without optimizer state) as a ``.keras`` file."""
        import keras

        clean = keras.Model.from_config(self.model_.get_config())  # clone_model would keep the optimizer
        clean.set_weights(self.model_.get_weights())
        clean.save(os.fspath(path))

    def load_weights_from(self, path: str | os.PathLike) -> "LeNetFeatures":
        """Load a ``.keras`` file written by :meth:`save` (safe mode: no code is deserialised)."""
        import keras

        path = Path(path)
        if not path.is_file():
            raise CamsortError(f"{path}: Keras model file not found")
        try:
            self.model_ = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:
            raise CamsortError(f"{path}: not a loadable Keras model ({type(exc).__name__}: {exc})") from None
        self.input_size_ = int(self.model_.input_shape[1])
        self._features_model = None
        return self

    def describe(self) -> dict[str, Any]:
        """Parameters to rebuild this featurizer (the weights live in the .keras file)."""
        return {k: v for k, v in self.get_params().items()}
