"""The photo classifier as one TensorFlow model: raw pixels in, class scores out, no Python needed.

A ``StandardScaler`` followed by a linear SVM computes, for each score,

    sum_i w_i (x_i - mu_i) / sigma_i + b  =  sum_i (w_i / sigma_i) x_i + (b - sum_i w_i mu_i / sigma_i)

which is exactly what one ``Dense`` layer computes. Put that layer on the backbone, behind
its preprocessing, and the whole classifier (uint8 pixels -> preprocessing -> backbone
features -> standardize + SVM) is one Keras model that TF Serving, TFLite (phones) and any
TensorFlow runtime can run:

>>> model = photo_model(classifier)                    # uint8 pixels -> one score per class
>>> files = export(model, "outputs/cars_svm", classifier.class_names)   # .keras and SavedModel
>>> convert_to_tflite(files["saved_model"], "outputs/cars_svm.tflite")  # for phones
>>> tflite_predict("outputs/cars_svm.tflite", pixels)  # {"scores": ..., "label": ...}

The model takes photos as the network sees them: ``helpers.images.load_batch`` (the middle
square, resized to the backbone's input size), as ``uint8`` RGB values 0-255.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import backbones
from .files import atomic_output

__all__ = ["convert_to_tflite", "dense_layer", "export", "photo_model", "preprocessing_layer", "serving_archive",
           "tflite_interpreter", "tflite_predict"]


def dense_layer(classifier) -> keras.layers.Dense:
    """The classifier's fitted scaler + linear SVM as one Dense layer: features -> class scores.

    One output per class, in ``classifier.class_names`` order, the highest wins. A classifier
    fitted with ``standardize=False`` has no scaler: the layer is the SVM alone. With two
    classes LinearSVC computes a single score s (positive: ``class_names[1]``); the layer
    gives the two classes -s and +s.
    """
    scaler, svm = classifier.pipeline["scale"], classifier.pipeline["svm"]
    kernel, bias = svm.coef_, svm.intercept_  # (scores, features), (scores,)
    if scaler != "passthrough":  # standardized (the default): fold the scaler into the weights
        kernel = svm.coef_ / scaler.scale_  # w_i / sigma_i
        bias = svm.intercept_ - kernel @ scaler.mean_  # b - sum_i w_i mu_i / sigma_i
    if len(kernel) == 1:  # two classes: s -> (-s, +s)
        kernel, bias = np.concatenate([-kernel, kernel]), np.concatenate([-bias, bias])
    layer = keras.layers.Dense(len(bias), name="svm")
    layer.build((None, kernel.shape[1]))
    layer.set_weights([kernel.T.astype("float32"), bias.astype("float32")])
    return layer


def preprocessing_layer(backbone: backbones.Backbone) -> keras.layers.Layer:
    """The backbone's ``preprocess_input`` as a layer, so that the model takes raw pixels."""
    layer = keras.layers.Rescaling(1 / 127.5, offset=-1, name="preprocessing")  # 0..255 -> -1..1
    # Both course backbones scale this way; a backbone that does not (ResNet50 subtracts a mean
    # colour) must not get it silently.
    pixels = np.arange(256, dtype="uint8").reshape(1, 16, 16, 1).repeat(3, axis=-1)
    if not np.allclose(keras.ops.convert_to_numpy(layer(pixels)), backbone.preprocess(pixels), atol=1e-6):
        raise ValueError(f"{backbone.title} does not scale pixels to [-1, 1]: give its preprocessing here.")
    return layer


def photo_model(classifier) -> keras.Model:
    """The whole classifier as one Keras model: uint8 pixels (n, size, size, 3) -> class scores.

    A new copy of the classifier's backbone, cut at its layer, between the preprocessing
    layer and the SVM's Dense layer.
    """
    backbone = backbones.get_backbone(classifier.backbone)
    features = backbones.multi_layer_model(backbones.load_logits_model(backbone), [classifier.layer])
    features.name = f"{backbone.name}_{classifier.layer}"  # shown as one step in model.summary()
    pixels = keras.Input((backbone.input_size, backbone.input_size, 3), dtype="uint8", name="pixels")
    x = preprocessing_layer(backbone)(pixels)
    x = features(x)[classifier.layer]
    return keras.Model(pixels, dense_layer(classifier)(x), name="photo_classifier")


def serving_archive(model: keras.Model, class_names) -> keras.export.ExportArchive:
    """``model`` with a serving signature: ``pixels`` (uint8) -> ``scores`` and ``label`` (class name)."""
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(pixels):
        scores = model(pixels, training=False)
        names = tf.constant(list(class_names))
        return {"scores": scores, "label": tf.gather(names, tf.argmax(scores, axis=1))}

    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec(model.input.shape, tf.uint8, name="pixels")])
    return archive  # its first endpoint is also written as "serving_default", which TF Serving calls


def export(model: keras.Model, path: str | Path, class_names) -> dict[str, Path]:
    """Write ``model`` as ``<path>.keras`` and as a SavedModel folder ``<path>_savedmodel``.

    - ``.keras``: Keras's own format (architecture + weights), to reload in Python; gives the scores.
    - SavedModel: TensorFlow's deployment format, with the serving signature of :func:`serving_archive`
      (TF Serving serves it; :func:`convert_to_tflite` converts it for phones).

    Both are written under temporary names, and renamed only once both are complete (see
    ``helpers.files``): a failed export (a full disk) leaves the previous pair as it was,
    never a new ``.keras`` beside an old SavedModel.
    """
    path = Path(path)
    files = {"keras": path.with_name(path.name + ".keras"), "saved_model": path.with_name(path.name + "_savedmodel")}
    try:
        with atomic_output(files["keras"]) as keras_file, atomic_output(files["saved_model"]) as saved_model:
            model.save(keras_file)
            serving_archive(model, class_names).write_out(saved_model, verbose=False)
    except tf.errors.OpError as error:  # TensorFlow's own file errors (a full disk: ResourceExhausted, Unknown...)
        raise OSError(
            f"{files['saved_model']}: could not be written ({error.message}). Nothing was replaced: the previous "
            f"export, if any, is unchanged. Free some disk space, or choose a folder you can write to."
        ) from None
    return files


def convert_to_tflite(saved_model: str | Path, path: str | Path) -> Path:
    """Convert a SavedModel from :func:`export` to a TensorFlow Lite (LiteRT) file, same signature.

    The converter holds several copies of the weights at once (hundreds of MB for Inception V3):
    free the Keras model first if memory is short.
    """
    path = Path(path)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serving_default"])
    with atomic_output(path) as temporary:
        temporary.write_bytes(converter.convert())
    return path


def tflite_interpreter(path: str | Path):
    """A TFLite interpreter for ``path``: LiteRT's (``pip install ai-edge-litert``) if installed,
    else TensorFlow's copy, whose deprecation warning (it points to LiteRT) is silenced."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # TFLite's new home
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated", category=UserWarning)
        return Interpreter(model_path=str(path))


def tflite_predict(path: str | Path, pixels) -> dict[str, np.ndarray]:
    """Run a .tflite file from :func:`convert_to_tflite` photo by photo, as an app would.

    ``pixels``: uint8 (n, size, size, 3), as ``helpers.images.load_batch`` gives; integers 0-255 of
    another type are converted, anything else is refused (cast to uint8, pixels scaled to 0-1 would
    all become 0 or 1 and get a label without a word). Returns
    ``{"scores": (n, classes), "label": n class names}``.
    """
    pixels = np.asarray(pixels)
    is_0_to_255 = pixels.dtype.kind in "iu" and (pixels.size == 0 or 0 <= pixels.min() <= pixels.max() <= 255)
    if pixels.dtype != np.uint8 and not is_0_to_255:
        raise ValueError(
            f"tflite_predict takes pixels as uint8 RGB values 0-255, as helpers.images.load_batch gives them, "
            f"got {pixels.dtype}{' values beyond 0-255' if pixels.dtype.kind in 'iu' else ''}. "
            f"Pixels scaled to 0-1 must be scaled back (x * 255) and rounded first."
        )
    run = tflite_interpreter(path).get_signature_runner("serving_default")
    outputs = [run(pixels=photo[np.newaxis]) for photo in pixels.astype("uint8")]
    return {"scores": np.concatenate([o["scores"] for o in outputs]),
            "label": np.array([label.decode() for o in outputs for label in o["label"]])}
