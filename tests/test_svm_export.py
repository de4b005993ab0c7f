"""helpers.svm_export: the classifier as one Dense layer, and as one model exported for TF Serving and phones."""

import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import assets, svm_export
from helpers.svm_classifier import PhotoClassifier
from support import BACKBONE, blobs

# model.save() (Keras 3.15) converts TensorFlow variables with np.array(x), which NumPy 2 warns about
# once per weight: Keras's business, not this course's (notebooks do not show DeprecationWarnings).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
needs_assets = pytest.mark.skipif(not os.environ.get(assets.OFFLINE_ENV), reason="needs the offline asset folder")
TOLERANCE = 1e-3  # the same as notebook 3's check: float32 models against scikit-learn's float64


@pytest.mark.parametrize("n_classes", [2, 3])
def test_scaler_and_svm_are_exactly_one_dense_layer(n_classes):
    features, labels = blobs(n_classes=n_classes)
    classifier = PhotoClassifier.fit(features, labels, ["a", "b", "c"][:n_classes], backbone=BACKBONE)
    layer = svm_export.dense_layer(classifier)
    new_photos = np.random.default_rng(1).normal(size=(5, features.shape[1])) * 3
    for x in (features, new_photos):
        scores = keras.ops.convert_to_numpy(layer(x.astype("float32")))
        assert scores.shape == (len(x), n_classes)
        np.testing.assert_allclose(scores, classifier.class_scores(x), rtol=1e-5, atol=1e-5)  # float32 rounding
        assert [p.label for p in classifier.predict_features(x)] == [classifier.class_names[i] for i in scores.argmax(1)]


@pytest.fixture(scope="module")
def cars_exported(tmp_path_factory):
    """The course's cars classifier on MobileNetV2, exported, with the 7 unlabelled photos."""
    from helpers import datasets, features, images

    cars = datasets.load_image_folder(assets.fetch_folder("images/cars"))
    logits = features.featurize(cars.paths + cars.unlabelled, backbone=BACKBONE, progress=False)[features.LOGITS]
    classifier = PhotoClassifier.fit(logits[:20], cars.labels, cars.class_names, backbone=BACKBONE)
    folder = tmp_path_factory.mktemp("export")
    files = svm_export.export(svm_export.photo_model(classifier), folder / "cars_svm", classifier.class_names)
    keras.backend.clear_session()
    files["tflite"] = svm_export.convert_to_tflite(files["saved_model"], folder / "cars_svm.tflite")
    pixels = images.load_batch(cars.unlabelled, 224)
    expected = classifier.class_scores(logits[20:]), [p.label for p in classifier.predict_features(logits[20:])]
    return files, pixels, expected


@needs_assets
def test_saved_model_and_tflite_agree_with_photo_classifier(cars_exported):
    files, pixels, (scores, labels) = cars_exported
    serve = tf.saved_model.load(str(files["saved_model"])).signatures["serving_default"]
    assert {name: (spec.dtype, spec.shape.as_list()) for name, spec in serve.structured_input_signature[1].items()} == {
        "pixels": (tf.uint8, [None, 224, 224, 3])}
    served = serve(pixels=tf.constant(pixels))
    on_phone = svm_export.tflite_predict(files["tflite"], pixels)
    for exported_scores, exported_labels in [(served["scores"].numpy(), [s.decode() for s in served["label"].numpy()]),
                                             (on_phone["scores"], on_phone["label"].tolist())]:
        assert exported_labels == labels
        np.testing.assert_allclose(exported_scores, scores, rtol=TOLERANCE, atol=TOLERANCE)


@needs_assets
def test_keras_file_reloads_the_same_model(cars_exported):
    files, pixels, (scores, _) = cars_exported
    model = keras.models.load_model(files["keras"])  # safe_mode: no code in the file
    # `model.inputs`, not `model.input`: a reloaded model's `input` is a one-item list on Keras 3.10
    assert [tensor.dtype for tensor in model.inputs] == ["uint8"]
    np.testing.assert_allclose(model.predict(pixels, verbose=0), scores, rtol=TOLERANCE, atol=TOLERANCE)
    assert sorted(p.name for p in files["keras"].parent.iterdir()) == [
        "cars_svm.keras", "cars_svm.tflite", "cars_svm_savedmodel"]  # no temporary left behind


def test_preprocessing_layer_is_the_backbones_own():
    from helpers import backbones

    for backbone in backbones.BACKBONES.values():
        svm_export.preprocessing_layer(backbone)  # raises if Rescaling(1/127.5, -1) is not its preprocessing
    wrong = dataclasses.replace(backbones.BACKBONES["mobilenet_v2"], name="resnet50")  # ResNet50's preprocessing
    with pytest.raises(ValueError, match="does not scale pixels"):
        svm_export.preprocessing_layer(wrong)


@needs_assets
@pytest.mark.parametrize("standardize", [True, False])
def test_fit_save_load_and_export_agree_with_and_without_standardizing(standardize, tmp_path):
    """``standardize=False`` (raw logits, as in notebook 3's comparison) saves, loads and exports like the default."""
    from helpers import datasets, features, images

    cars = datasets.load_image_folder(assets.fetch_folder("images/cars"))
    logits = features.featurize(cars.paths + cars.unlabelled, backbone=BACKBONE, progress=False)[features.LOGITS]
    fitted = PhotoClassifier.fit(logits[:20], cars.labels, cars.class_names, backbone=BACKBONE, standardize=standardize)
    loaded = PhotoClassifier.load(fitted.save(tmp_path / "cars_svm.npz"))
    expected = fitted.class_scores(logits)
    np.testing.assert_array_equal(loaded.class_scores(logits), expected)
    assert (loaded.pipeline["scale"] == "passthrough") is not standardize
    dense = keras.ops.convert_to_numpy(svm_export.dense_layer(loaded)(logits.astype("float32")))
    np.testing.assert_allclose(dense, expected, rtol=TOLERANCE, atol=TOLERANCE)
    model = svm_export.photo_model(loaded)
    scores = model.predict(images.load_batch(cars.unlabelled, 224), verbose=0)
    keras.backend.clear_session()
    np.testing.assert_allclose(scores, expected[20:], rtol=TOLERANCE, atol=TOLERANCE)
    assert scores.argmax(1).tolist() == expected[20:].argmax(1).tolist()


def tiny_photo_model() -> keras.Model:
    pixels = keras.Input((8, 8, 3), dtype="uint8", name="pixels")
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(pixels))
    return keras.Model(pixels, keras.layers.Dense(2)(x))


def test_a_failed_export_replaces_nothing_and_says_why(tmp_path, monkeypatch):
    """A full disk while the SavedModel is written: the old .keras and SavedModel stay a matching pair."""
    files = svm_export.export(tiny_photo_model(), tmp_path / "cars_svm", ["Classic", "Modern"])
    before = {name: sorted(p.name for p in files["saved_model"].rglob("*")) for name in files}
    keras_bytes = files["keras"].read_bytes()

    class FullDisk:
        def write_out(self, *args, **kwargs):  # what TensorFlow raises when its file writes fail
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(svm_export, "serving_archive", lambda model, class_names: FullDisk())
    with pytest.raises(OSError, match=r"cars_svm_savedmodel: could not be written \(No space left on device\)"
                                      r".*Nothing was replaced"):
        svm_export.export(tiny_photo_model(), tmp_path / "cars_svm", ["Classic", "Modern"])
    assert files["keras"].read_bytes() == keras_bytes  # not the new model beside the old SavedModel
    assert {name: sorted(p.name for p in files["saved_model"].rglob("*")) for name in files} == before
    assert sorted(os.listdir(tmp_path)) == ["cars_svm.keras", "cars_svm_savedmodel"]  # no temporary left


@pytest.mark.parametrize("pixels", [np.full((1, 8, 8, 3), 0.5, "float32"), np.full((1, 8, 8, 3), 300)])
def test_tflite_predict_refuses_pixels_that_are_not_0_to_255(tmp_path, pixels):
    """float pixels / 255 cast to uint8 all become 0: a label for a black photo, without a word."""
    with pytest.raises(ValueError, match=rf"uint8 RGB values 0-255.*got {pixels.dtype}"):
        svm_export.tflite_predict(tmp_path / "never-opened.tflite", pixels)
