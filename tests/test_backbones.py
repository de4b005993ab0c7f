"""helpers.backbones: architecture, input size and preprocessing of every backbone, weight-free.

No Inception weights can be had on the test machines, so everything that does not
need trained weights is checked for every backbone with ``weights=False``.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from helpers import assets, backbones, images

EXPECTED = {  # name: (input size, pooled feature size, keras.applications module)
    "inception_v3": (299, 2048, keras.applications.inception_v3),
    "mobilenet_v2": (224, 1280, keras.applications.mobilenet_v2),
}
needs_assets = pytest.mark.skipif(not os.environ.get(assets.OFFLINE_ENV), reason="needs the offline asset folder")


def test_every_backbone_is_tested():
    assert set(backbones.BACKBONES) == set(EXPECTED)


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def untrained(request):
    """(backbone, logits model, feature extractor) with random weights."""
    name = request.param
    return (backbones.get_backbone(name), backbones.load_logits_model(name, weights=False),
            backbones.load_feature_extractor(name, weights=False))


def test_architecture_and_input_size(untrained):
    backbone, logits_model, extractor = untrained
    size, pooled_size, _ = EXPECTED[backbone.name]
    assert backbone.input_size == size
    assert tuple(logits_model.input_shape) == (None, size, size, 3)
    assert tuple(logits_model.output_shape) == (None, 1000)
    assert tuple(extractor.output_shape) == (None, pooled_size)
    for layer in (backbone.intermediate_layer, backbone.fine_tune_from):
        logits_model.get_layer(layer)  # raises if the registry names a layer that is not there


def test_logits_model_has_no_softmax(untrained):
    _, logits_model, _ = untrained
    classifier = logits_model.get_layer("predictions")
    assert classifier.activation is keras.activations.linear
    x = np.random.default_rng(0).uniform(-1, 1, (2, *logits_model.input_shape[1:])).astype("float32")
    assert not np.allclose(logits_model.predict_on_batch(x).sum(axis=1), 1.0)


def test_multi_layer_model_pools_every_layer(untrained):
    backbone, logits_model, _ = untrained
    layers = ["predictions", backbone.pooled_layer, backbone.intermediate_layer]
    model = backbones.multi_layer_model(logits_model, layers)
    x = np.zeros((1, *logits_model.input_shape[1:]), "float32")
    outputs = model.predict_on_batch(x)
    assert outputs["predictions"].shape == (1, 1000)
    assert outputs["pooled"].shape == (1, EXPECTED[backbone.name][1])
    assert outputs[backbone.intermediate_layer].ndim == 2  # feature map pooled to a vector
    # the widths the classifier checks features against (helpers.svm_classifier) are the real ones
    assert {layer: outputs[layer].shape[1] for layer in layers} == {
        layer: backbone.feature_width(layer) for layer in layers}
    with pytest.raises(ValueError, match=f"Unknown layer 'conv1' for {backbone.title}"):
        backbone.feature_width("conv1")


def test_the_top_block_input_can_be_kept_as_a_feature_map(untrained):
    """``feature_map(layer)`` is kept whole: what notebook 5 fine-tunes the top block on, with no second pass."""
    backbone, logits_model, _ = untrained
    layer = backbones.feature_map(backbone.top_block_input)
    outputs = backbones.multi_layer_model(logits_model, [layer, backbone.top_block_input]).predict_on_batch(
        np.zeros((1, *logits_model.input_shape[1:]), "float32"))
    maps = outputs[layer]
    assert maps.ndim == 4 and maps.shape[1:] == tuple(logits_model.get_layer(backbone.top_block_input).output.shape[1:])
    np.testing.assert_allclose(outputs[backbone.top_block_input][0], maps[0].mean(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    # the top block starts where the fine-tuning layer's weights start
    names = [l.name for l in logits_model.layers]
    assert names.index(backbone.top_block_input) < names.index(backbone.fine_tune_from) or \
        backbone.top_block_input == backbone.fine_tune_from


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preprocessing_matches_keras_applications(name):
    backbone = backbones.get_backbone(name)
    pixels = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    expected = EXPECTED[name][2].preprocess_input(pixels.astype("float32").copy())
    ours = backbone.preprocess(pixels)
    np.testing.assert_allclose(ours, expected)
    assert ours.dtype == np.float32 and ours.min() >= -1 and ours.max() <= 1
    floats = pixels.astype("float32")
    backbone.preprocess(floats)
    assert floats.max() > 1  # the caller's array is not modified in place


def test_backbone_is_one_setting(monkeypatch):
    monkeypatch.delenv(backbones.BACKBONE_ENV, raising=False)
    assert backbones.get_backbone().name == "inception_v3"  # the course default
    monkeypatch.setenv(backbones.BACKBONE_ENV, "mobilenet_v2")
    assert backbones.get_backbone().name == "mobilenet_v2"
    assert backbones.get_backbone("inception_v3").name == "inception_v3"  # an argument wins
    with pytest.raises(ValueError, match="Unknown backbone 'resnet'.*inception_v3"):
        backbones.get_backbone("resnet")


@pytest.mark.parametrize("written", ["MobileNetV2", " mobilenet-v2 ", "MOBILENET_V2", "mobilenetv2"])
def test_backbone_names_are_forgiving(monkeypatch, written):
    monkeypatch.setenv(backbones.BACKBONE_ENV, written)
    assert backbones.get_backbone().name == "mobilenet_v2"
    assert backbones.get_backbone("Inception V3").name == "inception_v3"


def test_an_unknown_backbone_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv(backbones.BACKBONE_ENV, "resnet50")
    with pytest.raises(ValueError, match=rf"Unknown backbone 'resnet50' \(from {backbones.BACKBONE_ENV}\).*mobilenet_v2"):
        backbones.get_backbone()


def test_inception_offline_without_its_weights_suggests_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.OFFLINE_ENV, str(tmp_path))  # an offline folder without Inception
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    with pytest.raises(assets.AssetError, match=r"(?s)downloads are disabled.*"
                       rf"{backbones.BACKBONE_ENV}=mobilenet_v2.*python -m helpers.bundle FOLDER --backbone inception_v3"):
        backbones.load_logits_model("inception_v3")


@pytest.mark.parametrize("damage", [b"", b"<html>login page</html>", b"\x89HDF\r\n\x1a\n" + bytes(500)])
def test_weights_that_do_not_load_name_the_file_and_the_remedy(tmp_path, monkeypatch, damage):
    weights = tmp_path / "usb" / backbones.get_backbone("mobilenet_v2").weights_no_top
    weights.parent.mkdir(parents=True)
    weights.write_bytes(damage)
    monkeypatch.setenv(assets.OFFLINE_ENV, str(tmp_path / "usb"))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    with pytest.raises(assets.AssetError, match=rf"{weights}: could not load these weights.*Copy it again"):
        backbones.load_feature_extractor("mobilenet_v2")


def test_softmax_and_decoding(monkeypatch):
    monkeypatch.setattr(backbones, "imagenet_classes", lambda: [(f"n{i}", f"class {i}") for i in range(4)])
    logits = np.array([[1.0, 3.0, 2.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    np.testing.assert_allclose(backbones.softmax(logits).sum(axis=1), 1)
    top = backbones.decode_predictions(logits, top=2)
    assert [name for _, name, _ in top[0]] == ["class 1", "class 2"]
    assert top[1][0][:2] == ("n3", "class 3") and top[1][0][2] > 0.9
    assert len(backbones.decode_predictions(logits[0])) == 1  # one image without a batch axis


@needs_assets
def test_imagenet_class_index():
    classes = backbones.imagenet_classes()
    assert len(classes) == 1000 and classes[285] == ("n02124075", "Egyptian_cat")


@needs_assets
def test_pretrained_mobilenet_recognises_a_cat():
    model = backbones.load_logits_model("mobilenet_v2")
    pixels = images.load_batch([assets.fetch("images/samples/coral-cat.bmp")], 224)
    top = backbones.decode_predictions(model.predict_on_batch(backbones.get_backbone("mobilenet_v2").preprocess(pixels)))
    assert "Egyptian_cat" in [name for _, name, _ in top[0][:3]]


def test_the_table_of_backbones_is_read_without_keras():
    """bundle, hub, setup and the classifier files read names, sizes and weight paths: no TensorFlow for that."""
    code = ("import sys, helpers.backbones as b; b.get_backbone('mobilenet_v2').feature_width('pooled'); "
            "assert not {'keras', 'tensorflow'} & set(sys.modules), sorted({'keras', 'tensorflow'} & set(sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
