"""Fast checks of helpers.canned on tiny synthetic images (no dataset, a few seconds in all)."""

import time

import numpy as np
import pytest

from helpers.setup import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402

from helpers import canned  # noqa: E402


def bright_or_dark(n=256, shape=(4, 4), seed=0):
    """Raw 0-255 images whose class is 1 when they are bright on average, 0 when dark."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    images = rng.integers(0, 128, size=(n, *shape)) + 127 * labels[:, None, None]
    return images.astype("float32"), labels


def test_linear_classifier_is_softmax_of_one_dense_layer_on_scaled_pixels():
    keras.utils.set_random_seed(0)
    model = canned.linear_classifier(n_classes=3, input_shape=(4, 4))
    images, _ = bright_or_dark(n=5)
    kernel, bias = model.get_layer("probabilities").get_weights()
    logits = (images.reshape(5, -1) / 255) @ kernel + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert model.count_params() == 4 * 4 * 3 + 3
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dropout, n_dropout_layers", [(None, 0), (0.0, 0), (0.3, 2)])
def test_dnn_classifier_follows_hidden_units_and_dropout(dropout, n_dropout_layers):
    model = canned.dnn_classifier(hidden_units=[8, 5], n_classes=3, input_shape=(4, 4), dropout=dropout)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [8, 5, 3]
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == n_dropout_layers
    assert model.count_params() == (16 * 8 + 8) + (8 * 5 + 5) + (5 * 3 + 3)
    assert model.output_shape == (None, 3)
    assert model.name == "dnn"


def test_fit_and_evaluate_learns_an_easy_problem_and_reports_it(monkeypatch):
    keras.utils.set_random_seed(0)
    train, test = bright_or_dark(seed=1), bright_or_dark(n=64, seed=2)
    model = canned.dnn_classifier(hidden_units=[8], n_classes=2, input_shape=(4, 4), learning_rate=0.01)
    fit_seconds, fit = [], model.fit

    def timed_fit(*args, **kwargs):  # the training alone, timed here independently
        start = time.perf_counter()
        history = fit(*args, **kwargs)
        fit_seconds.append(time.perf_counter() - start)
        return history

    monkeypatch.setattr(model, "fit", timed_fit)
    start = time.perf_counter()
    result = canned.fit_and_evaluate(model, train, test, epochs=20, batch_size=32, verbose=0)
    call_seconds = time.perf_counter() - start
    assert set(result) == {"name", "accuracy", "parameters", "seconds", "history"}
    assert result["accuracy"] >= 0.95
    assert result["parameters"] == model.count_params()
    # "seconds" is the training time: at least model.fit's own, at most the whole call's (which also evaluates)
    assert len(fit_seconds) == 1
    assert fit_seconds[0] <= result["seconds"] <= call_seconds, (fit_seconds, result, call_seconds)
    assert len(result["history"]["val_accuracy"]) == 20


def test_comparison_table_has_one_aligned_row_per_model():
    results = [
        {"name": "linear", "accuracy": 0.92, "parameters": 7850, "seconds": 3.21},
        {"name": "a_longer_name", "accuracy": 0.981, "parameters": 235146, "seconds": 10.0},
    ]
    lines = canned.comparison_table(results).splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["linear", "0.9200", "7,850", "3.2", "s"]
    assert lines[2].split() == ["a_longer_name", "0.9810", "235,146", "10.0", "s"]
    assert len({len(line) for line in lines}) == 1  # columns line up
