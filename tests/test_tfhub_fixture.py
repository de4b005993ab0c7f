"""The offline TF Hub stand-in (tools/tfhub_fixture.py) behaves like a TF Hub feature-vector module."""

import numpy as np
import pytest

from helpers import assets, backbones

BACKBONE = "mobilenet_v2"
SAMPLE = "images/samples/coral-cat.bmp"


def _offline_weights_available() -> bool:
    folder = assets.offline_dir()
    return folder is not None and (folder / backbones.get_backbone(BACKBONE).weights_no_top).is_file()


pytestmark = pytest.mark.skipif(
    not _offline_weights_available(), reason="needs the offline asset folder (GOING_DEEPER_ASSETS)"
)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    from tfhub_fixture import build_tfhub_savedmodel

    return build_tfhub_savedmodel(tmp_path_factory.mktemp("tfhub") / "feature_vector", BACKBONE)


@pytest.fixture(scope="module")
def sample_pixels():
    from helpers import images

    size = backbones.get_backbone(BACKBONE).input_size
    return images.load_batch([assets.fetch(SAMPLE)], size)  # uint8, (1, 224, 224, 3)


@pytest.fixture(scope="module")
def keras_features(sample_pixels):
    backbone = backbones.get_backbone(BACKBONE)
    extractor = backbones.load_feature_extractor(BACKBONE)
    return np.asarray(extractor(backbone.preprocess(sample_pixels), training=False))


def test_tfsmlayer_gives_the_keras_applications_features(module_dir, sample_pixels, keras_features):
    import keras

    layer = keras.layers.TFSMLayer(str(module_dir), call_endpoint="serving_default", trainable=False)
    inputs = keras.Input(shape=sample_pixels.shape[1:])
    outputs = layer(keras.layers.Rescaling(1 / 255)(inputs))  # TF Hub image modules take [0, 1]
    assert list(outputs) == ["feature_vector"]
    model = keras.Model(inputs, outputs["feature_vector"])

    features = model.predict(sample_pixels.astype("float32"), verbose=0)

    assert features.shape == (1, 1280)
    np.testing.assert_allclose(features, keras_features, atol=1e-4)


def test_reusable_savedmodel_call(module_dir, sample_pixels, keras_features):
    import tensorflow as tf

    module = tf.saved_model.load(str(module_dir))  # what hub.load(handle) returns
    images = tf.constant(sample_pixels / 255.0, tf.float32)

    for features in (module(images), module(images, training=False)):
        np.testing.assert_allclose(np.asarray(features), keras_features, atol=1e-4)
