"""The five keras.applications featurizers at small input size (weights=None here: no downloads)."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort import CLASSES
from xicam.camsort.errors import CamsortError
from xicam.camsort.features import load_featurizer, make_featurizer, save_featurizer
from xicam.camsort.features.cnn import APPS, keras_cache_file
from xicam.camsort.gradcam import gradcam
from xicam.camsort.training import simulated_set

WIDTH = {"vgg16": 4096, "vgg19": 4096, "resnet50": 2048, "xception": 2048, "inceptionresnetv2": 1536}
SMALL = {"vgg16": 32, "vgg19": 32, "resnet50": 64, "xception": 71, "inceptionresnetv2": 75}
"""Small network inputs (the smallest each accepts; ResNet50 at 64 so that its last maps are 2x2)."""


def imagenet_style_weights(arch: str, size: int, path):
    """A weights file in the legacy HDF5 layout Keras publishes its ImageNet weights in (random values here)."""
    import h5py
    import keras
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    app = APPS[arch]
    keras.utils.set_random_seed(7)
    network = getattr(keras.applications, app.constructor)(weights=None, input_shape=(size, size, 3),
                                                          include_top=app.include_top)
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, network)
    return network


@pytest.fixture(scope="module")
def patterns():
    X, y = simulated_set(8, seed=5, size=48, negatives=4)
    return X, np.unique(y, return_inverse=True)[1]


SCRATCH = ("vgg16", "vgg19")
"""Trained from scratch here; the others are pretrained from an ImageNet-style file: building the training step
of a network with batch normalisation (ResNet50, Xception, InceptionResNetV2) takes 80 s or more here, and the
training code is the same for every network (it is tested on the VGGs and, fine-tuning, below)."""


@pytest.mark.parametrize("arch", list(APPS))
def test_app_features_shape_determinism_gradcam_and_round_trip(arch, patterns, tmp_path):
    X, y = patterns
    if arch not in SCRATCH:
        weights = tmp_path / "weights.h5"
        imagenet_style_weights(arch, SMALL[arch], weights)
        net = make_featurizer(arch, mode="pretrained", network_size=SMALL[arch], weights_path=str(weights))
    else:
        net = make_featurizer(arch, mode="scratch", network_size=SMALL[arch], epochs=1, batch_size=8, seed=1)
    net.fit(X, y)
    initial = "random" if net.mode == "scratch" else f"file {tmp_path / 'weights.h5'}"
    assert net.initial_weights_ == initial
    F = net.transform(X[:6])
    assert F.shape == (6, WIDTH[arch]) and F.dtype == np.float32 and np.isfinite(F).all()
    np.testing.assert_array_equal(F, net.transform(X[:6]))
    assert len(net.get_feature_names_out()) == WIDTH[arch]
    classes = np.repeat(np.arange(len(CLASSES)), 2)  # each class's map of the first two frames, in one pass
    cams = gradcam(net.model_, net.network_input(np.tile(X[:2], (len(CLASSES), 1, 1))), classes).reshape(-1, 2, 48, 48)
    assert np.isfinite(cams).all()
    assert any(c.max() > c.min() for c in cams)  # one class's evidence may be nowhere in a barely trained net
    spec = save_featurizer(net, tmp_path)
    assert spec["name"] == arch and spec["initial_weights"] == initial
    np.testing.assert_allclose(load_featurizer(spec, tmp_path).transform(X[:6]), F, rtol=1e-4, atol=1e-4)


def test_pretrained_without_weights_names_the_expected_file(patterns, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    expected = keras_cache_file("resnet50")
    assert expected == tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(CamsortError, match=str(expected).replace(".", r"\.")):
        make_featurizer("resnet50", mode="pretrained", network_size=32).fit(*patterns)
    with pytest.raises(CamsortError, match="no-such.h5: weights file not found"):
        make_featurizer("resnet50", mode="pretrained", weights_path=str(tmp_path / "no-such.h5")).fit(*patterns)


def test_pretrained_and_finetune_start_from_a_users_imagenet_style_weights_file(patterns, tmp_path, monkeypatch):
    """A Keras-format (legacy HDF5) weights file, as Keras publishes the ImageNet ones, loads into the network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    weights_file = tmp_path / "vgg16-imagenet.h5"
    reference = imagenet_style_weights("vgg16", 32, weights_file)
    X, y = patterns
    frozen = make_featurizer("vgg16", mode="pretrained", network_size=32, weights_path=str(weights_file)).fit(X, y)
    assert frozen.initial_weights_ == f"file {weights_file}"
    for layer in ("block1_conv1", "block5_conv3", "fc2"):
        for got, want in zip(frozen.model_.get_layer(layer).get_weights(), reference.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(got, want)
    probabilities = frozen.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    tuned = make_featurizer("vgg16", mode="finetune", network_size=32, weights_path=str(weights_file), epochs=1,
                            batch_size=8).fit(X, y)
    assert tuned.initial_weights_ == f"file {weights_file}"
    assert not np.array_equal(tuned.model_.get_layer("fc2").get_weights()[0],
                              reference.get_layer("fc2").get_weights()[0])
    fallback = make_featurizer("vgg16", mode="finetune", network_size=32, epochs=1, batch_size=8).fit(X, y)
    assert fallback.initial_weights_ == "random"


def test_unknown_mode_is_a_clear_error(patterns):
    with pytest.raises(CamsortError, match="unknown mode 'imagenet'"):
        make_featurizer("vgg16", mode="imagenet", network_size=32).fit(*patterns)
