"""Classifier files (helpers.svm_classifier): data never code, saved atomically, checked on load and at fit.

Synthetic features only: no network, no model is built.
"""

import errno
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import svm_classifier
from helpers.svm_classifier import ClassifierFileError, PhotoClassifier
from support import BACKBONE, DIM, blobs

NAMES = ["Classic", "Modern"]


@pytest.fixture
def fitted():
    features, labels = blobs()
    return PhotoClassifier.fit(features, labels, NAMES, backbone=BACKBONE), features


class Bomb:
    """Unpickling this writes ``marker``: any code at all could run in its place."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",)


def rewrite(path: Path, fields=None, **arrays) -> Path:
    """Rewrite a saved classifier with some metadata fields and arrays replaced (None: removed)."""
    with np.load(path, allow_pickle=False) as saved:
        contents = dict(saved)
    metadata = json.loads(str(contents["metadata"]))
    contents["metadata"] = np.array(json.dumps({**metadata, **(fields or {})}))
    contents.update(arrays)
    with open(path, "wb") as file:  # a file object: np.savez adds no ".npz"
        np.savez(file, **{name: value for name, value in contents.items() if value is not None})
    return path


# --- the file holds data only ---------------------------------------------------------------------
def test_file_is_arrays_and_json(fitted, tmp_path):
    classifier, _ = fitted
    path = classifier.save(tmp_path / "cars_svm.npz")
    with np.load(path, allow_pickle=False) as saved:  # no object arrays anywhere
        arrays = dict(saved)
    metadata = json.loads(str(arrays.pop("metadata")))
    assert metadata["format"] == "going-deeper/svm-classifier/2"
    assert (metadata["class_names"], metadata["backbone"], metadata["layer"]) == (NAMES, BACKBONE, "predictions")
    assert set(metadata["versions"]) == {"numpy", "scikit-learn"}
    assert {name: a.shape for name, a in arrays.items()} == {
        "scaler_mean": (DIM,), "scaler_scale": (DIM,), "svm_coef": (1, DIM), "svm_intercept": (1,), "svm_classes": (2,)}


@pytest.mark.parametrize("n_classes", [2, 3])
def test_loaded_decision_values_are_exactly_the_in_memory_pipelines(n_classes, tmp_path):
    features, labels = blobs(n_classes=n_classes)
    classifier = PhotoClassifier.fit(features, labels, ["a", "b", "c"][:n_classes], backbone=BACKBONE)
    loaded = PhotoClassifier.load(classifier.save(tmp_path / "svm.npz"))
    new_photos = np.random.default_rng(1).normal(size=(5, DIM)) * 3
    for x in (features, new_photos):
        np.testing.assert_array_equal(loaded.decision_values(x), classifier.pipeline.decision_function(x))
    assert loaded.predict_features(features) == classifier.predict_features(features)


def test_class_scores_give_each_class_a_score(fitted):
    classifier, features = fitted
    s = classifier.decision_values(features)
    np.testing.assert_array_equal(classifier.class_scores(features), np.stack([-s, s], axis=1))
    labels = [p.label for p in classifier.predict_features(features)]
    assert labels == [NAMES[i] for i in classifier.class_scores(features).argmax(axis=1)]


# --- pickles: never opened -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cars_svm.npz", "cars_svm.joblib", "classifier", "model.pkl", "cars.keras"])
def test_a_pickle_bomb_under_any_name_runs_no_code(name, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Bomb(marker))
    pickle.loads(payload)  # the bomb is live: unpickled, it writes the marker
    assert marker.read_text() == "code ran"
    marker.unlink()

    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(ClassifierFileError, match=f"{path}: a pickle file.*not opened.*PhotoClassifier.save"):
        PhotoClassifier.load(path)
    assert not marker.exists()


def test_an_old_joblib_classifier_is_refused_unopened(fitted, tmp_path):
    joblib = pytest.importorskip("joblib")  # what earlier versions of the course saved
    classifier, _ = fitted
    marker = tmp_path / "pwned"
    joblib.dump({"format": "going-deeper/svm-classifier/1", "pipeline": classifier.pipeline, "bomb": Bomb(marker)},
                tmp_path / "cars.joblib")
    with pytest.raises(ClassifierFileError, match="older versions of the course.*Re-create"):
        PhotoClassifier.load(tmp_path / "cars.joblib")
    assert not marker.exists()


@pytest.mark.parametrize("member", ["metadata", "svm_coef"])
def test_a_pickled_array_inside_an_npz_runs_no_code(member, fitted, tmp_path):
    classifier, _ = fitted
    marker = tmp_path / "pwned"
    path = classifier.save(tmp_path / "cars_svm.npz")
    with np.load(path) as saved:
        contents = dict(saved)
    contents[member] = np.array([Bomb(marker)], dtype=object)  # np.savez pickles object arrays
    np.savez(path, **contents)
    with pytest.raises(ClassifierFileError, match=f"{path}: damaged or not a classifier file"):
        PhotoClassifier.load(path)
    assert not marker.exists()


# --- atomic saves ----------------------------------------------------------------------------------
@pytest.mark.parametrize("interruption", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_save_leaves_the_previous_file_loadable(interruption, fitted, tmp_path, monkeypatch):
    classifier, features = fitted
    path = classifier.save(tmp_path / "cars_svm.npz")
    other = PhotoClassifier.fit(features, 1 - blobs()[1], NAMES, backbone=BACKBONE)  # labels swapped

    def disk_fills_up(file, *args, **kwargs):
        file.write(b"PK\x03\x04 the first bytes of a zip, then the disk is full")
        raise interruption

    monkeypatch.setattr(np, "savez", disk_fills_up)
    expected = OSError if isinstance(interruption, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as failure:
        other.save(path)
    if expected is OSError:
        assert str(path) in str(failure.value) and "No space left" in str(failure.value)
        assert "unchanged" in str(failure.value)
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["cars_svm.npz"]  # no partial file left behind
    loaded = PhotoClassifier.load(path)
    np.testing.assert_array_equal(loaded.decision_values(features), classifier.decision_values(features))


def test_a_failed_first_save_leaves_nothing(fitted, tmp_path, monkeypatch):
    classifier, _ = fitted

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="cars_svm.npz"):
        classifier.save(tmp_path / "cars_svm.npz")
    assert list(tmp_path.iterdir()) == []


# --- checks at fit time ----------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (dict(labels=[0, 1, 2] * 4), r"labels \[2\] name no class.*range\(2\)"),
    (dict(labels=[-1, 0, 1] * 4), r"labels \[-1\] name no class"),
    (dict(labels=[0.0, 1.0] * 6), "labels must be class numbers"),
    (dict(labels=[0] * 12), "at least two classes"),
    (dict(class_names=["a", "b", "c"]), r"no photos of \['c'\]"),
    (dict(class_names=["a", "a"]), "duplicates"),
    (dict(features=np.zeros((12, 1280))), "1280 values per photo, but MobileNetV2's layer 'predictions' gives 1000"),
    (dict(features=np.zeros((11, DIM))), "one row per photo"),
    (dict(layer="pooled"), "1000 values per photo, but MobileNetV2's layer 'pooled' gives 1280"),
    (dict(layer="conv1"), "Unknown layer 'conv1' for MobileNetV2"),
    (dict(backbone="resnet"), "Unknown backbone 'resnet'"),
    (dict(backbone=""), "no backbone named"),
    (dict(features=np.full((12, DIM), np.nan)), "NaN or infinite"),
])
def test_fit_rejects_what_would_fail_later(change, message):
    features, labels = blobs()
    arguments = dict(features=features, labels=labels, class_names=NAMES, backbone=BACKBONE, layer="predictions")
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        PhotoClassifier.fit(**arguments)


def test_fit_accepts_the_other_course_layers():
    _, labels = blobs()
    pooled = np.random.default_rng(0).normal(size=(12, 1280))
    classifier = PhotoClassifier.fit(pooled, labels, NAMES, backbone=BACKBONE, layer="pooled")
    assert classifier.layer == "pooled"


# --- checks at load time: one clear error naming the file ------------------------------------------
@pytest.mark.parametrize("tamper, message", [
    (lambda p: rewrite(p, {"backbone": "resnet"}), "Unknown backbone 'resnet'"),
    (lambda p: rewrite(p, {"layer": "block_3_add"}), "Unknown layer 'block_3_add' for MobileNetV2"),
    (lambda p: rewrite(p, {"layer": "pooled"}), r"scaler_mean should be an array of shape \(1280,\)"),
    (lambda p: rewrite(p, {"format": "going-deeper/svm-classifier/1"}), "format is 'going-deeper/svm-classifier/1'"),
    (lambda p: rewrite(p, {"class_names": ["only"]}), "two or more different names"),
    (lambda p: rewrite(p, {"class_names": ["a", "b", "c"]}), r"svm_coef should be an array of shape \(3, 1000\)"),
    (lambda p: rewrite(p, {"C": "big"}), "C should be a positive number"),
    (lambda p: rewrite(p, {"standardize": "no"}), "standardize should be true or false"),
    (lambda p: rewrite(p, {"standardize": None}), "standardize should be true or false"),
    (lambda p: rewrite(p, {"weights_sha256": "abc"}), "weights_sha256 should be 64 hexadecimal digits"),
    (lambda p: rewrite(p, svm_intercept=None), "'svm_intercept' is missing"),
    (lambda p: rewrite(p, scaler_scale=np.zeros(DIM)), "scaler_scale should be positive"),
    (lambda p: rewrite(p, svm_coef=np.full((1, DIM), np.inf)), "svm_coef should hold finite float64 values"),
    (lambda p: rewrite(p, svm_classes=np.array([0, 2])), "svm_classes should be the class numbers 0..1"),
    (lambda p: rewrite(p, metadata=np.array("not json")), "damaged or not a classifier file"),
    (lambda p: p.write_bytes(p.read_bytes()[:2000]), r"damaged \.npz archive \(cut short\?\)"),
    (lambda p: p.write_bytes(b""), r"not an \.npz archive"),
    (lambda p: p.write_text("class names: Classic, Modern"), r"not an \.npz archive"),
])
def test_load_rejects_a_bad_file_with_one_error_naming_it(tamper, message, fitted, tmp_path):
    classifier, _ = fitted
    path = classifier.save(tmp_path / "cars_svm.npz")
    tamper(path)
    with pytest.raises(ClassifierFileError, match=message) as error:
        PhotoClassifier.load(path)
    assert str(error.value).startswith(f"{path}: ")


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(ClassifierFileError, match=f"{tmp_path / 'nope.npz'}: cannot be read"):
        PhotoClassifier.load(tmp_path / "nope.npz")


# --- crafted files: one ClassifierFileError naming the file, never a raw error, a hang or a memory blow-up --
def patch_zip_headers(path: Path, local_offset: int, central_offset: int, value: int) -> Path:
    """Set a 2-byte field in every local and central zip header of ``path`` (flags, compression method)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = data.find(signature)
        while start != -1:
            data[start + offset:start + offset + 2] = value.to_bytes(2, "little")
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    return path


def huge_array_member(path: Path) -> Path:
    """Replace svm_coef with an array header that claims 2**40 float64 values (8 TiB)."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    with np.load(path, allow_pickle=False) as saved:
        contents = dict(saved)
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in contents.items():
            if name == "svm_coef":
                archive.writestr(f"{name}.npy", header.getvalue() + b"\0" * 64)
            else:
                buffer = io.BytesIO()
                np.save(buffer, value)
                archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


@pytest.mark.parametrize("craft, message", [
    (lambda p: rewrite(p, metadata=np.array("[" * 100_000 + "]" * 100_000)), "RecursionError"),
    (lambda p: patch_zip_headers(p, 6, 8, 1), "RuntimeError: .*encrypted"),  # the 'encrypted' flag
    (lambda p: patch_zip_headers(p, 8, 10, 99), "NotImplementedError"),  # an unknown compression method
    # MemoryError where the allocation is refused at once; where memory is overcommitted, the array data runs out
    (huge_array_member, "(MemoryError|EOF)"),
])
def test_a_crafted_file_is_one_error_naming_it(craft, message, fitted, tmp_path):
    classifier, _ = fitted
    path = craft(classifier.save(tmp_path / "cars_svm.npz"))
    with pytest.raises(ClassifierFileError, match=f"damaged or not a classifier file.*{message}") as error:
        PhotoClassifier.load(path)
    assert str(error.value).startswith(f"{path}: ") and "Save the classifier again" in str(error.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                    reason="needs POSIX pipes and /dev/zero")
@pytest.mark.parametrize("make", ["fifo", "link to /dev/zero", "folder"])
def test_only_regular_files_are_read(make, tmp_path):
    """A pipe would wait for a writer forever and /dev/zero never ends (it filled the memory): both refused unread.

    Loaded in a child process with a time and memory limit, so that a regression fails instead of hanging.
    """
    path = tmp_path / "cars_svm.npz"
    {"fifo": os.mkfifo, "link to /dev/zero": lambda p: p.symlink_to("/dev/zero"), "folder": Path.mkdir}[make](path)
    code = "import sys; from helpers.svm_classifier import PhotoClassifier; PhotoClassifier.load(sys.argv[1])"
    limit = 2 * 2**30  # bytes of address space: reading /dev/zero hits it in a second

    def limit_memory():
        import resource  # POSIX only, like the pipes and devices tested here

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                                timeout=60, preexec_fn=limit_memory, cwd=Path(__file__).parents[1])
    except subprocess.TimeoutExpired:
        pytest.fail(f"PhotoClassifier.load() hung on a {make}")
    assert f"ClassifierFileError: {path}: not a regular file" in result.stderr, result.stderr[-2000:]


def test_a_huge_file_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "cars_svm.npz"
    with open(path, "wb") as file:
        file.truncate(svm_classifier.MAX_FILE_BYTES + 1)  # sparse: takes no disk space
    monkeypatch.setattr(zipfile, "is_zipfile", lambda *_: pytest.fail("the file was read"))
    with pytest.raises(ClassifierFileError, match=r"cars_svm.npz: 64 MiB, far more than any classifier file"):
        PhotoClassifier.load(path)


# --- the backbone's weights: a classifier fitted on other weights is refused --------------------------
def test_a_classifier_fitted_on_other_weights_is_refused(fitted, tmp_path, monkeypatch):
    """Other weights give other features: 10 of 27 car labels changed without a word before this check."""
    from helpers import assets, backbones, files

    classifier, _ = fitted
    ours = backbones.weights_file(backbones.get_backbone(BACKBONE))
    assert classifier.weights_sha256 == files.file_digest(ours)
    path = classifier.save(tmp_path / "cars_svm.npz")
    assert PhotoClassifier.load(path).weights_sha256 == classifier.weights_sha256

    other_folder = tmp_path / "other_assets"  # an offline folder with a slightly different weights file
    other = other_folder / backbones.get_backbone(BACKBONE).weights
    other.parent.mkdir(parents=True)
    data = bytearray(ours.read_bytes())
    data[-1] ^= 1
    other.write_bytes(bytes(data))
    monkeypatch.setenv(assets.OFFLINE_ENV, str(other_folder))
    with pytest.raises(ClassifierFileError) as error:
        PhotoClassifier.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: fitted on {BACKBONE} weights with sha256 {classifier.weights_sha256[:16]}")
    assert f"weights file {other} has sha256 {files.file_digest(other)[:16]}" in message
    assert "fit the classifier again" in message
    # A file saved before the weights were recorded still loads (nothing to compare).
    assert PhotoClassifier.load(rewrite(path, {"weights_sha256": None})).weights_sha256 is None
