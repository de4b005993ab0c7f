"""helpers.features' cache under faults: other weights, damaged entries, a full disk, NaN outputs.

A stand-in model (features = a few pixel statistics, shifted by the weights file's
first byte) replaces the network, so these tests build no Keras model and need no
real weights: the weights file is a few bytes in a temporary offline folder.
"""

import errno

import numpy as np
import pytest
from PIL import Image

from helpers import assets, backbones, features

BACKBONE = backbones.get_backbone("mobilenet_v2")


class StandInModel:
    """Computes 'features' from the batch; the weights file's first byte shifts them."""

    def __init__(self, weights_file, nan=False):
        self.shift = weights_file.read_bytes()[0]
        self.nan = nan
        self.calls = 0

    def predict_on_batch(self, batch):
        self.calls += 1
        rows = np.stack([batch.mean(axis=(1, 2, 3)), batch.std(axis=(1, 2, 3))], axis=1) + self.shift
        return {"predictions": np.full_like(rows, np.nan) if self.nan else rows}


@pytest.fixture
def course(tmp_path, monkeypatch):
    """An offline folder holding a stand-in weights file, an empty cache, three photos."""
    weights = tmp_path / "usb" / BACKBONE.weights
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\x01 weights, version 1")
    monkeypatch.setenv(assets.OFFLINE_ENV, str(tmp_path / "usb"))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    photos = []
    for i, color in enumerate(["red", "green", "blue"]):
        photos.append(tmp_path / f"photo{i}.png")
        Image.new("RGB", (20 + i, 20), color).save(photos[-1])
    models = []

    def stand_in(backbone, layers, cache_key, nan=False):
        models.append(StandInModel(weights, nan))
        return models[-1]

    monkeypatch.setattr(features, "_feature_model", stand_in)
    return {"weights": weights, "cache": tmp_path / "cache", "photos": photos, "models": models}


def featurize(paths):
    return features.featurize(paths, backbone=BACKBONE.name, progress=False)["predictions"]


def model_calls(course):
    return sum(model.calls for model in course["models"])


def cached_files(course):
    folder = course["cache"] / "features"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_cached_features_are_keyed_by_the_weights_file(course):
    cold = featurize(course["photos"])
    assert model_calls(course) == 1
    np.testing.assert_array_equal(featurize(course["photos"]), cold)
    assert model_calls(course) == 1  # warm: the model did not run
    course["weights"].write_bytes(b"\x07 other weights (a bundle's, or a new Keras release's)")
    assert not np.array_equal(featurize(course["photos"]), cold)  # computed again with the new weights
    assert model_calls(course) == 2


def test_cached_features_are_keyed_by_the_feature_format(course, monkeypatch):
    featurize(course["photos"])
    monkeypatch.setattr(features, "FEATURE_FORMAT", features.FEATURE_FORMAT + 1)  # the crop/resize code changed
    featurize(course["photos"])
    assert model_calls(course) == 2


def test_copies_of_a_photo_are_computed_once(course):
    photo = course["photos"][0]
    rows = featurize([photo, course["photos"][1], photo])
    np.testing.assert_array_equal(rows[0], rows[2])
    assert len(cached_files(course)) == 2


@pytest.mark.parametrize("damage", [b"", b"not numpy at all", np.lib.format.MAGIC_PREFIX + b"\x01\x00garbage"])
def test_a_damaged_cache_entry_is_computed_again_with_a_warning(course, damage):
    cold = featurize(course["photos"])
    entry = next((course["cache"] / "features").rglob("*.npy"))
    entry.write_bytes(damage)
    with pytest.warns(UserWarning, match=rf"{entry.name}: damaged cached features.*computed again"):
        np.testing.assert_array_equal(featurize(course["photos"]), cold)
    assert model_calls(course) == 2
    assert np.load(entry).shape == cold[0].shape  # and cached again


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])  # disk full; read-only cache
def test_a_cache_that_cannot_be_written_gives_the_features_uncached(course, monkeypatch, code):
    expected = featurize(course["photos"][:1])
    monkeypatch.setenv(assets.CACHE_ENV, str(course["cache"].with_name("other-cache")))

    def no_space(file, array, *args, **kwargs):
        file.write(b"\x93NUMPY partial")  # some bytes reach the temporary file before the error
        raise OSError(code, "No space left on device")

    monkeypatch.setattr(np, "save", no_space)
    with pytest.warns(UserWarning, match=rf"Could not write the feature cache.*{assets.CACHE_ENV}") as warned:
        rows = featurize(course["photos"])
    assert len([w for w in warned if "feature cache" in str(w.message)]) == 1, [str(w.message) for w in warned]
    np.testing.assert_array_equal(rows[:1], expected)
    assert rows.shape == (3, 2)
    other = course["cache"].with_name("other-cache") / "features"
    assert [p for p in other.rglob("*") if p.is_file()] == []  # no partial or temporary file


def test_non_finite_outputs_name_the_weights_file(course, monkeypatch):
    monkeypatch.setattr(features, "_feature_model", lambda *args: StandInModel(course["weights"], nan=True))
    with pytest.raises(assets.AssetError, match=rf"NaN or infinite.*{course['weights']}.*damaged.*Copy it again"):
        featurize(course["photos"])
    assert [p for p in cached_files(course) if p.endswith(".npy")] == []


def test_a_damaged_class_index_is_named(course, monkeypatch):
    index = course["weights"].parents[2] / backbones.CLASS_INDEX
    index.write_text('{"0": ["n01440764", "tench"]')  # cut short
    backbones.imagenet_classes.cache_clear()
    with pytest.raises(assets.AssetError, match=rf"{index}: not the ImageNet class index.*Copy it again"):
        backbones.imagenet_classes()
    backbones.imagenet_classes.cache_clear()


def test_decode_predictions_refuses_nan_logits(course, monkeypatch):
    monkeypatch.setenv(backbones.BACKBONE_ENV, BACKBONE.name)
    monkeypatch.setattr(backbones, "imagenet_classes", lambda: [(f"n{i}", f"class {i}") for i in range(3)])
    with pytest.raises(assets.AssetError, match=rf"MobileNetV2 computed NaN.*{course['weights'].name}"):
        backbones.decode_predictions(np.array([[np.nan, 1.0, 2.0]]))
