"""Unit tests of helpers.svm_classifier on small synthetic features: no network, no model is built."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.datasets import image_files
from helpers.images import load_image
from support import BACKBONE, DIM, blobs
from helpers.svm_classifier import (
    PhotoClassifier,
    Prediction,
    copy_groups,
    leave_one_out_accuracy,
    leave_one_out_predictions,
    make_pipeline,
)


class FakeFeaturizer:
    """Stands in for helpers.features.featurize: looks features up by file name, logs calls."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors
        self.calls = []

    def __call__(self, paths, layers, backbone, progress):
        self.calls.append(([Path(p).name for p in paths], layers, backbone))
        return {layer: np.stack([self.vectors[Path(p).name] for p in paths]) for layer in layers}


def assert_same_predictions(actual, expected):
    """Same paths and labels; distances equal up to float rounding (batch sizes change BLAS sums)."""
    assert [(p.path, p.label) for p in actual] == [(p.path, p.label) for p in expected]
    np.testing.assert_allclose([p.distance for p in actual], [p.distance for p in expected], rtol=1e-9)


def write_photos(folder: Path, names) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        Image.new("RGB", (4, 4), "red").save(folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture
def fitted():
    features, labels = blobs()
    return PhotoClassifier.fit(features, labels, ["Classic", "Modern"], backbone=BACKBONE), features, labels


def test_pipeline_is_scaler_then_linear_svm_and_deterministic():
    features, labels = blobs()
    first, second = make_pipeline().fit(features, labels), make_pipeline().fit(features, labels)
    assert [name for name, _ in first.steps] == ["scale", "svm"]
    np.testing.assert_array_equal(first[-1].coef_, second[-1].coef_)


def test_pipeline_without_standardizing_fits_the_raw_features():
    features, labels = blobs()
    raw = make_pipeline(standardize=False).fit(features * 100, labels)
    assert raw["scale"] == "passthrough"
    scaled = make_pipeline().fit(features * 100, labels)  # the scaler undoes any common scale
    assert not np.allclose(raw[-1].coef_, scaled[-1].coef_)
    assert leave_one_out_accuracy(features, labels, standardize=False) == 1.0


def test_leave_one_out_holds_out_each_photo():
    features, labels = blobs()
    assert leave_one_out_predictions(features, labels).shape == labels.shape
    assert leave_one_out_accuracy(features, labels) == 1.0
    # Features that are all the same carry no information: a clear error, not a number.
    with pytest.raises(ValueError, match="identical features"):
        leave_one_out_accuracy(np.ones_like(features), labels)


def test_copies_of_a_photo_are_held_out_together():
    """Label-free features: each photo twice must score as each photo once (0.25), not 1.0."""
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(12, DIM)), np.array([0, 1] * 6)
    once = leave_one_out_accuracy(features, labels)
    twice = leave_one_out_accuracy(np.vstack([features, features]), np.concatenate([labels, labels]))
    assert once <= 0.5 and twice == once
    predicted = leave_one_out_predictions(np.vstack([features, features]), np.concatenate([labels, labels]))
    np.testing.assert_array_equal(predicted[:12], predicted[12:])  # a photo and its copy: one prediction


def test_two_class_predictions_use_signed_scores(fitted):
    classifier, features, labels = fitted
    scores = classifier.decision_values(features)
    predictions = classifier.predict_features(features)
    assert [p.label for p in predictions] == [["Classic", "Modern"][int(s > 0)] for s in scores]
    np.testing.assert_allclose([p.distance for p in predictions], np.abs(scores))
    assert [p.label for p in predictions] == [classifier.class_names[c] for c in labels]


def test_more_than_two_classes():
    features, labels = blobs(n_classes=3)
    classifier = PhotoClassifier.fit(features, labels, ["a", "b", "c"], backbone=BACKBONE)
    predictions = classifier.predict_features(features, paths=[f"{i}.jpg" for i in range(len(labels))])
    assert [p.label for p in predictions] == [["a", "b", "c"][c] for c in labels]
    np.testing.assert_allclose([p.distance for p in predictions], classifier.decision_values(features).max(axis=1))
    assert predictions[0].path == Path("0.jpg")


def test_fit_needs_two_classes():
    features, _ = blobs()
    with pytest.raises(ValueError, match="two classes"):
        PhotoClassifier.fit(features, np.zeros(len(features), int), ["only"], backbone=BACKBONE)


def test_save_load_round_trip_predicts_photos_identically(fitted, tmp_path):
    classifier, features, _ = fitted
    paths = write_photos(tmp_path / "photos", [f"car{i}.png" for i in range(len(features))])
    featurizer = FakeFeaturizer({p.name: f for p, f in zip(paths, features)})
    classifier.featurizer = featurizer

    saved = classifier.save(tmp_path / "models" / "cars_svm.npz")
    reloaded = PhotoClassifier.load(saved, featurizer=featurizer)

    assert (reloaded.class_names, reloaded.backbone, reloaded.layer) == (["Classic", "Modern"], BACKBONE, "predictions")
    assert_same_predictions(reloaded.predict_photos(paths), classifier.predict_photos(paths))
    assert featurizer.calls[-1] == ([p.name for p in paths], ("predictions",), BACKBONE)
    assert_same_predictions([reloaded.predict_photo(paths[0])], reloaded.predict_photos(paths)[:1])
    assert reloaded.predict_photos([]) == []


def test_stream_predictions_goes_file_by_file_and_skips_junk(fitted, tmp_path):
    classifier, features, _ = fitted
    folder = tmp_path / "incoming"
    names = ["b.jpg", "a.png", "c.JPG"]
    write_photos(folder, names)
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / "README.txt").write_text("not a photo")
    write_photos(folder / "Classic", ["ignored.jpg"])  # sub-folders are not read
    featurizer = FakeFeaturizer({name: features[i] for i, name in enumerate(names)})
    classifier.featurizer = featurizer

    with pytest.warns(UserWarning, match="skipped 1 file.*README.txt"):
        assert image_files(folder, skip_non_images=True) == [folder / n for n in ["a.png", "b.jpg", "c.JPG"]]
    stream = classifier.stream_predictions(folder)
    with pytest.warns(UserWarning, match="README.txt"):
        first = next(stream)
    assert isinstance(first, Prediction) and first.path == folder / "a.png"
    assert len(featurizer.calls) == 1  # lazy: nothing else featurized yet
    rest = list(stream)
    assert [p.path.name for p in rest] == ["b.jpg", "c.JPG"]
    assert [call[0] for call in featurizer.calls] == [["a.png"], ["b.jpg"], ["c.JPG"]]
    assert_same_predictions([first, *rest], classifier.predict_photos([folder / n for n in ["a.png", "b.jpg", "c.JPG"]]))


def test_stream_predictions_accepts_any_iterable_of_paths(fitted, tmp_path):
    classifier, features, _ = fitted
    paths = write_photos(tmp_path, ["x.jpg", "y.jpg"])
    classifier.featurizer = FakeFeaturizer({"x.jpg": features[0], "y.jpg": features[-1]})
    labels = [p.label for p in classifier.stream_predictions(p for p in paths)]
    assert labels == ["Classic", "Modern"]


def test_stream_predictions_go_on_after_a_bad_file(fitted, tmp_path):
    """A damaged, half-uploaded or vanished photo yields an error result; the stream goes on."""
    classifier, features, _ = fitted
    good = write_photos(tmp_path, ["a.png", "d.png"])
    half = tmp_path / "b.jpg"
    half.write_bytes(b"\xff\xd8\xff\xe0 half uploaded")
    known = {"a.png": features[0], "d.png": features[-1]}

    def featurizer(paths, layers, backbone, progress):  # decodes like the real one, then looks up
        for path in paths:
            load_image(path)
        return {layer: np.stack([known[Path(p).name] for p in paths]) for layer in layers}

    classifier.featurizer = featurizer
    results = list(classifier.stream_predictions([good[0], half, tmp_path / "gone.jpg", good[1]]))
    assert [r.path.name for r in results] == ["a.png", "b.jpg", "gone.jpg", "d.png"]
    assert [r.label for r in results] == ["Classic", None, None, "Modern"]
    assert "b.jpg" in results[1].error and "damaged" in results[1].error
    assert "gone.jpg: no such file" in results[2].error and np.isnan(results[2].distance)
    assert results[0].error is None


def test_near_copies_of_a_photo_are_held_out_together():
    """A re-saved JPEG's features are the original's, give or take a little: held out with it, too."""
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(12, DIM)), np.array([0, 1] * 6)
    resaved = features + rng.normal(scale=0.05, size=features.shape)  # cosine distance ~0.003
    both = np.vstack([features, resaved])
    assert (copy_groups(both)[:12] == copy_groups(both)[12:]).all() and len(set(copy_groups(both))) == 12
    assert leave_one_out_accuracy(both, np.concatenate([labels, labels])) <= 0.5  # not 1.0
    different = rng.normal(size=(12, DIM))  # unrelated photos stay apart
    assert len(set(copy_groups(np.vstack([features, different])))) == 24


def test_features_that_all_look_alike_are_not_near_copies():
    """Random weights (the structural Inception run) give every photo nearly the same features: no two are copies."""
    rng = np.random.default_rng(0)
    alike = 1 + 1e-3 * rng.standard_normal((20, 1000))  # all pairwise cosine distances tiny, and of one size
    assert len(set(copy_groups(alike))) == 20
    resaved = np.concatenate([alike, alike[:3] + 1e-7 * rng.standard_normal((3, 1000))])  # ...but a re-save is
    assert len(set(copy_groups(resaved))) == 20
