"""Canned models: the ``tf.estimator`` idea (one line to define, swap and compare) rebuilt with Keras.

``tf.estimator`` was removed in TensorFlow 2.16. Its canned estimators map to Keras like this:

=====================================================  ==============================================
``tf.estimator``                                        this module (a compiled ``keras.Model``)
=====================================================  ==============================================
``LinearClassifier(n_classes=10, ...)``                 ``linear_classifier(n_classes=10, ...)``
``DNNClassifier(hidden_units=[256, 128], dropout=.2)``  ``dnn_classifier(hidden_units=[256, 128], ...)``
``BoostedTreesClassifier``                              TensorFlow Decision Forests / YDF (not here)
=====================================================  ==============================================

Every model takes raw pixel values (0-255, shape ``input_shape``) and scales them itself,
so an exported model needs no preprocessing code beside it; it outputs class probabilities.

>>> model = dnn_classifier(hidden_units=[256, 128], n_classes=10, input_shape=(28, 28), dropout=0.2)
>>> result = fit_and_evaluate(model, (x_train, y_train), (x_test, y_test), epochs=10)
>>> print(comparison_table([result]))
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras

__all__ = ["comparison_table", "dnn_classifier", "fit_and_evaluate", "linear_classifier"]


def _raw_pixel_inputs(input_shape: Sequence[int], pixel_scale: float) -> list:
    """Input, rescaling (0-255 -> 0-1) and flattening: the start every canned model shares."""
    return [
        keras.Input(shape=tuple(input_shape), name="pixels"),
        keras.layers.Rescaling(pixel_scale, name="scale_pixels"),
        keras.layers.Flatten(name="flatten"),
    ]


def _compile(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",  # labels are class ids 0..n_classes-1
        metrics=["accuracy"],
    )
    return model


def linear_classifier(
    n_classes: int,
    *,
    input_shape: Sequence[int],
    pixel_scale: float = 1 / 255,
    learning_rate: float = 0.003,
    name: str = "linear",
) -> keras.Model:
    """Multinomial logistic regression: one Dense layer with a softmax (``LinearClassifier``).

    Its learning rate is higher than the DNN's (Keras' Adam default, 0.001): a convex model
    tolerates bigger steps, and converges in fewer epochs with them.
    """
    layers = _raw_pixel_inputs(input_shape, pixel_scale)
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="probabilities"))
    return _compile(keras.Sequential(layers, name=name), learning_rate)


def dnn_classifier(
    hidden_units: Sequence[int],
    n_classes: int,
    *,
    input_shape: Sequence[int],
    dropout: float | None = None,
    activation: str = "relu",
    pixel_scale: float = 1 / 255,
    learning_rate: float = 0.001,
    name: str = "dnn",
) -> keras.Model:
    """A stack of Dense layers, ``hidden_units[i]`` units each, then a softmax (``DNNClassifier``).

    ``dropout`` (as in ``DNNClassifier``): the fraction of each hidden layer's outputs zeroed at
    random during training, which keeps the network from leaning on any single unit.
    """
    layers = _raw_pixel_inputs(input_shape, pixel_scale)
    for i, units in enumerate(hidden_units, start=1):
        layers.append(keras.layers.Dense(units, activation=activation, name=f"hidden_{i}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="probabilities"))
    return _compile(keras.Sequential(layers, name=name), learning_rate)


def fit_and_evaluate(
    model: keras.Model,
    train: tuple,
    test: tuple,
    *,
    epochs: int,
    batch_size: int = 256,
    validation_split: float = 0.1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
) -> dict:
    """Train ``model`` on ``train`` = (x, y), evaluate it on ``test`` = (x, y), and time the training.

    The last ``validation_split`` of the training set is held out for the validation curves.
    ``callbacks`` go to ``model.fit`` (e.g. ``keras.callbacks.TensorBoard(log_dir)``).
    Returns {"name", "accuracy" (on test), "parameters", "seconds" (training), "history"}.
    """
    (x_train, y_train), (x_test, y_test) = train, test
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
        callbacks=list(callbacks), verbose=verbose,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
    return {
        "name": model.name,
        "accuracy": float(accuracy),
        "parameters": model.count_params(),
        "seconds": seconds,
        "history": history.history,
    }


def comparison_table(results: Sequence[dict]) -> str:
    """The results of :func:`fit_and_evaluate` side by side, one row per model, as plain text."""
    width = max([len("model")] + [len(r["name"]) for r in results])
    lines = [f"{'model':<{width}}  test accuracy  parameters  training time"]
    for r in results:
        lines.append(f"{r['name']:<{width}}  {r['accuracy']:>13.4f}  {r['parameters']:>10,}  {r['seconds']:>11.1f} s")
    return "\n".join(lines)
