"""A linear SVM on a frozen backbone's features: fit, evaluate honestly, save, predict photos.

The deep network is only a component here: photos become feature vectors (by
default the backbone's 1000 ImageNet logits) and a scikit-learn pipeline
(StandardScaler + LinearSVC) learns the new classes from a handful of examples.

>>> accuracy = leave_one_out_accuracy(features, labels)       # honest, even with 20 photos
>>> classifier = PhotoClassifier.fit(features, labels, class_names, backbone="mobilenet_v2")
>>> classifier.save("outputs/cars_svm.npz")
>>> classifier = PhotoClassifier.load("outputs/cars_svm.npz")
>>> classifier.predict_photo("new_car.jpg")                   # Prediction(path, label, distance)
>>> for prediction in classifier.stream_predictions("incoming/"):   # one photo at a time
...     print(prediction)

Photos are featurized with :func:`helpers.features.featurize` (cached on disk) using
the backbone and layer saved with the classifier. The featurizer can be swapped
(``featurizer=``), which is how the unit tests run without any network.

A classifier file is data, never code: the fitted pipeline's arrays (the scaler's mean
and scale, the SVM's coefficients and intercept) in a NumPy ``.npz`` file read with
``allow_pickle=False``, plus JSON metadata (class names, backbone and its weights' sha256, layer, versions).
Loading a pickle (joblib) file can run any code its author put in it, so such files
are refused unopened.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np
import sklearn
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from . import backbones, datasets, files, images
from .environment import OFFLINE_ENV

__all__ = ["FILE_FORMAT", "LOGITS", "MAX_FILE_BYTES", "ClassifierFileError", "PhotoClassifier", "Prediction",
           "copy_groups", "is_standardized", "leave_one_out_accuracy", "leave_one_out_predictions", "make_pipeline"]

LOGITS = backbones.LOGITS  # the logits layer
# Version 1 was a joblib pickle; version 2 is arrays + JSON (see the module docstring).
FILE_FORMAT = "going-deeper/svm-classifier/2"


def make_pipeline(C: float = 1.0, random_state: int = 42, standardize: bool = True) -> Pipeline:
    """The course's classifier: standardize each feature, then a linear SVM.

    Standardizing puts every logit on the same scale, so no ImageNet class
    dominates just because its logits happen to vary more. ``standardize=False``
    keeps the raw logits (the "scale" step passes them through), as the talk's code did.
    """
    return Pipeline([
        ("scale", StandardScaler() if standardize else "passthrough"),
        # dual="auto" spelled out: scikit-learn 1.4 warns that its default is changing to it
        ("svm", LinearSVC(C=C, dual="auto", random_state=random_state, max_iter=10_000)),
    ])


def is_standardized(pipeline: Pipeline) -> bool:
    """Whether ``pipeline`` standardizes its features (False: ``standardize=False``, raw features)."""
    return pipeline["scale"] != "passthrough"


def copy_groups(features, near: float = 0.2) -> np.ndarray:
    """A group number per row: copies and near copies of one photo share one.

    The feature cache keys features by photo content, so copies of a photo -- the same
    file twice, under two names or linked -- get exactly the same row. A re-saved or
    resized copy gets nearly the same one: rows closer (cosine distance) than ``near``
    times the median distance between two rows are grouped too. On the course's cars the
    median is 0.26-0.31 (logits, pooled, intermediate), re-saved JPEGs lie under 0.01 of
    their original, copies resized to 3/4 under 0.04, and two different cars 0.11 or more.
    Relative, not absolute: features that all look alike (random weights) group nothing.
    """
    features = np.asarray(features, dtype=float)
    _, same = np.unique(features, axis=0, return_inverse=True)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)  # all-zero rows: near nothing
    distance = 1 - unit @ unit.T
    between = distance[~np.eye(len(distance), dtype=bool)]
    typical = np.median(between) if between.size else 0.0
    close = (distance < near * typical) | (same.reshape(-1, 1) == same.reshape(1, -1))
    return datasets.linked_groups(close)  # a chain of near copies is one group


def leave_one_out_predictions(features, labels, **pipeline_options) -> np.ndarray:
    """Each photo's label as predicted by a pipeline trained on all the *other* photos.

    Copies of the held-out photo (see :func:`copy_groups`) are held out with it: left
    in the training photos, a copy would hand the answer over and make the accuracy
    look better than it is (random features, each photo twice: 1.0 instead of ~0.5).
    """
    features, labels = np.asarray(features), np.asarray(labels)
    groups = copy_groups(features)
    if groups.max() == 0:
        raise ValueError(f"All {len(features)} photos have identical or nearly identical features: there is "
                         f"nothing to tell apart. Check that the photos differ (not one file copied) and the "
                         f"features were computed.")
    pipeline = make_pipeline(**pipeline_options)
    return cross_val_predict(pipeline, features, labels, cv=LeaveOneGroupOut(), groups=groups)


def leave_one_out_accuracy(features, labels, **pipeline_options) -> float:
    """Fraction of photos classified correctly when each one (with its copies) is held out in turn."""
    predictions = leave_one_out_predictions(features, labels, **pipeline_options)
    return float(np.mean(predictions == np.asarray(labels)))


class Prediction(NamedTuple):
    path: Path | None
    label: str | None  # None when the photo could not be read (see error)
    # How far the photo lies on its label's side of the decision boundary, in units
    # of the SVM's margin (1 = on the margin, near 0 = unsure). With more than two
    # classes: the winning one-vs-rest score (negative if no class claims the photo).
    distance: float
    error: str | None = None  # why the photo could not be classified (stream_predictions only)


def _featurize(paths, layers, backbone, progress):
    from . import features  # imported here: it loads TensorFlow, which leave-one-out never needs

    return features.featurize(paths, layers=layers, backbone=backbone, progress=progress)


@dataclass
class PhotoClassifier:
    """A fitted pipeline plus what it needs to classify photos: class names, backbone, layer, weights."""

    pipeline: Pipeline
    class_names: list[str]
    backbone: str  # the backbone whose features the pipeline was fitted on
    layer: str = LOGITS
    # sha256 of that backbone's weights file: other weights give other features, hence other labels
    weights_sha256: str | None = None
    # photos -> {layer: features}; not saved (the default uses the on-disk feature cache)
    featurizer: Callable = field(default=_featurize, repr=False, compare=False)

    @classmethod
    def fit(cls, features, labels, class_names, backbone: str, layer: str = LOGITS,
            **pipeline_options) -> "PhotoClassifier":
        """Fit :func:`make_pipeline` on ``features`` with integer ``labels`` (indices into ``class_names``).

        Mistakes that would otherwise surface only at prediction time fail here, with a
        ValueError: a label that names no class, a class without photos (two classes at
        least), or features of another layer or backbone than ``layer`` of ``backbone``.
        """
        features, labels, class_names = np.asarray(features), np.asarray(labels), list(class_names)
        _check_training_data(features, labels, class_names, backbone, layer)
        pipeline = make_pipeline(**pipeline_options).fit(features, labels)
        return cls(pipeline, class_names, backbone, layer, weights_sha256=_weights(backbone)[1])

    # --- from features -------------------------------------------------------------
    def decision_values(self, features) -> np.ndarray:
        """The SVM's raw scores: shape (n,) for two classes (positive = class_names[1]), else (n, k)."""
        return self.pipeline.decision_function(np.atleast_2d(features))

    def class_scores(self, features) -> np.ndarray:
        """One score per class, shape (n, len(class_names)), the highest wins: the decision
        values, with one score s for two classes spread as (-s, +s). The exported model gives these."""
        scores = self.decision_values(features)
        return np.stack([-scores, scores], axis=1) if scores.ndim == 1 else scores

    def predict_features(self, features, paths=None) -> list[Prediction]:
        """A :class:`Prediction` per row of ``features`` (``paths`` only label the results)."""
        scores = self.decision_values(features)
        paths = [None] * len(scores) if paths is None else [Path(p) for p in paths]
        if scores.ndim == 1:  # two classes: one signed score
            winners = (scores > 0).astype(int)
            distances = np.abs(scores)
        else:
            winners = scores.argmax(axis=1)
            distances = scores.max(axis=1)
        classes = self.pipeline.classes_
        return [
            Prediction(path, self.class_names[int(classes[w])], float(d))
            for path, w, d in zip(paths, winners, distances)
        ]

    # --- from photos ---------------------------------------------------------------
    def featurize(self, paths, progress: bool = False) -> np.ndarray:
        """Features of ``paths`` from the classifier's own backbone and layer."""
        return self.featurizer(list(paths), layers=(self.layer,), backbone=self.backbone,
                               progress=progress)[self.layer]

    def predict_photos(self, paths, progress: bool = False) -> list[Prediction]:
        """Classify photos: one :class:`Prediction` (path, label, distance) each."""
        paths = [Path(p) for p in paths]
        if not paths:
            return []
        return self.predict_features(self.featurize(paths, progress), paths)

    def predict_photo(self, path) -> Prediction:
        """Classify one photo."""
        return self.predict_photos([path])[0]

    def stream_predictions(self, source: str | Path | Iterable) -> Iterator[Prediction]:
        """Yield a prediction per photo as soon as it is classified, one file at a time.

        ``source`` is a folder (its image files, sorted) or any iterable of paths,
        such as a generator watching an upload folder. A stream does not stop at a bad
        file: a photo that cannot be read (damaged, half-uploaded, gone, not a photo)
        yields a :class:`Prediction` with ``label=None``, ``distance=nan`` and the
        reason in ``error``, and the next photo follows. (Other errors, such as damaged
        weights, would fail every photo, so they stop the stream.)
        """
        paths = datasets.image_files(source, skip_non_images=True) if isinstance(source, (str, Path)) else source
        for path in paths:
            try:
                prediction = self.predict_photo(path)
            except images.ImageError as error:
                prediction = Prediction(Path(path), None, float("nan"), str(error))
            yield prediction

    # --- saving: arrays and JSON, never a pickle --------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save the classifier as one ``.npz`` file: the pipeline's arrays plus JSON metadata.

        The file is written under a temporary name beside ``path``, then renamed: a save
        interrupted by a full disk or Ctrl-C leaves the previous file at ``path`` intact.
        """
        path = Path(path)
        standardize = is_standardized(self.pipeline)
        metadata = {
            "format": FILE_FORMAT, "class_names": self.class_names, "backbone": self.backbone,
            "layer": self.layer, "C": float(self.pipeline["svm"].C), "standardize": standardize,
            "weights_sha256": self.weights_sha256,
            "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        }
        arrays = {name: getattr(self.pipeline[step], attribute) for name, (step, attribute) in SAVED_ARRAYS.items()
                  if standardize or step != "scale"}  # raw features: no scaler to save
        try:
            with files.atomic_write(path) as file:
                np.savez(file, metadata=np.array(json.dumps(metadata)), **arrays)  # a str array: no pickle
        except OSError as error:  # a full disk, a read-only folder...
            raise OSError(f"{path}: could not save the classifier ({error.strerror or error}). The previous file, "
                          f"if any, is unchanged: free some disk space or choose another folder.") from error
        return path

    @classmethod
    def load(cls, path: str | Path, featurizer: Callable | None = None) -> "PhotoClassifier":
        """Load a classifier saved by :meth:`save`, after checking everything in the file.

        Nothing in the file is ever run: it is read with ``allow_pickle=False``, and pickle
        (joblib) files, such as those of older versions of the course, are refused unopened.
        A classifier fitted on other weights than this machine's file for its backbone is refused
        too: their features differ, so its labels would change without a word.
        Any problem raises one :class:`ClassifierFileError` that names the file and says what to do.
        """
        path = Path(path)
        metadata, arrays = _read_classifier_file(path)
        try:
            pipeline = _check_saved_classifier(metadata, arrays)
        except (KeyError, TypeError, ValueError) as error:
            raise ClassifierFileError(
                f"{path}: not a classifier this version of the course can use ({_reason(error)}). "
                f"Re-create it: fit the classifier again and save it with PhotoClassifier.save()."
            ) from None
        classifier = cls(pipeline, metadata["class_names"], metadata["backbone"], metadata["layer"],
                         metadata.get("weights_sha256"))  # absent from files saved before it was recorded
        _check_weights(path, classifier)
        if featurizer is not None:
            classifier.featurizer = featurizer
        return classifier


class ClassifierFileError(ValueError):
    """A classifier file could not be loaded; the message names it and says what to do."""


# What a classifier file holds: array name -> (pipeline step, fitted attribute). These are the
# attributes that StandardScaler.transform and LinearSVC.decision_function read, so a loaded
# pipeline computes exactly the decision values of the one that was saved.
SAVED_ARRAYS = {
    "scaler_mean": ("scale", "mean_"),
    "scaler_scale": ("scale", "scale_"),
    "svm_coef": ("svm", "coef_"),
    "svm_intercept": ("svm", "intercept_"),
    "svm_classes": ("svm", "classes_"),
}
# Far above any real classifier (100 classes x 2048 features: 1.6 MB): bounds what is read and unpacked.
MAX_FILE_BYTES = 64 * 2**20
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _backbone(name):
    """The backbone called ``name``: a classifier names its own (never the default)."""
    if not name or not isinstance(name, str):
        raise ValueError(f"no backbone named; choose one of {sorted(backbones.BACKBONES)}")
    return backbones.get_backbone(name)


def _weights(backbone: str) -> tuple[Path, str]:
    """The backbone's local weights file (the one ``featurize`` uses) and its sha256, hashed once per process."""
    file = backbones.weights_file(_backbone(backbone))
    return file, files.file_digest(file)


def _check_weights(path: Path, classifier: PhotoClassifier) -> None:
    """Refuse a classifier fitted on other weights than the local file of its backbone."""
    if classifier.weights_sha256 is None:
        return
    file, sha256 = _weights(classifier.backbone)
    if sha256 != classifier.weights_sha256:
        raise ClassifierFileError(
            f"{path}: fitted on {classifier.backbone} weights with sha256 {classifier.weights_sha256[:16]}..., "
            f"but this machine's weights file {file} has sha256 {sha256[:16]}...: other weights give other "
            f"features, so its labels would be wrong. Use the weights file it was fitted with (the same offline "
            f"folder, {OFFLINE_ENV}), or fit the classifier again here and save it.")


def _check_training_data(features, labels, class_names, backbone, layer) -> None:
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names has duplicates: {class_names}. Give each class once.")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be class numbers (integers), one per photo; got {labels.dtype} "
                         f"values of shape {labels.shape}.")
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"features must have one row per photo: got shape {features.shape} for "
                         f"{len(labels)} labels.")
    strangers = sorted(set(labels[(labels < 0) | (labels >= len(class_names))].tolist()))
    if strangers:
        raise ValueError(f"labels {strangers} name no class: a label is an index into class_names "
                         f"{class_names}, so it must be in range({len(class_names)}).")
    if len(np.unique(labels)) < 2:
        raise ValueError("A classifier needs photos of at least two classes.")
    empty = [name for label, name in enumerate(class_names) if not np.any(labels == label)]
    if empty:
        raise ValueError(f"no photos of {empty}: every class in class_names needs photos (or leave it out).")
    spec = _backbone(backbone)
    width = spec.feature_width(layer)
    if features.shape[1] != width:
        raise ValueError(f"features have {features.shape[1]} values per photo, but {spec.title}'s layer "
                         f"{layer!r} gives {width}: featurize the photos with backbone={backbone!r} "
                         f"and that layer.")
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values: featurize the photos again.")


def _read_classifier_file(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The file's metadata and arrays, read without ever unpickling (or a ClassifierFileError)."""
    remedy = "Save the classifier again with PhotoClassifier.save(), or copy the file again."
    data = _read_regular_file(path)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        if data.startswith(b"\x80") or path.suffix.lower() in PICKLE_SUFFIXES:
            raise ClassifierFileError(
                f"{path}: a pickle file (the joblib format of older versions of the course, or another "
                f"pickle). It was not opened: loading a pickle runs any code its author put in it. "
                f"Re-create the classifier: fit it again and save it with PhotoClassifier.save(), "
                f"which writes plain arrays (.npz).")
        what = "a damaged .npz archive (cut short?)" if data.startswith(b"PK") else "not an .npz archive"
        raise ClassifierFileError(f"{path}: not a classifier file ({what}). {remedy}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(member.file_size for member in archive.infolist()) > MAX_FILE_BYTES:
                raise ValueError(f"it unpacks to more than {MAX_FILE_BYTES // 2**20} MiB")
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:  # an object (pickled) array raises here
            arrays = {name: saved[name] for name in saved.files}
        metadata = json.loads(str(arrays.pop("metadata")))
        if not isinstance(metadata, dict):
            raise ValueError("its metadata is not a JSON object")
    # Any failure of the parsers is a damaged or crafted file: a bad zip or array header (ValueError,
    # BadZipFile), an encrypted member (RuntimeError), an unknown compression (NotImplementedError),
    # an array header claiming terabytes (MemoryError), JSON nested 100,000 deep (RecursionError)...
    except Exception as error:  # noqa: BLE001 -- named, with what to do, instead of a raw traceback
        reason = _reason(error) if isinstance(error, (KeyError, ValueError)) else f"{type(error).__name__}: {error}"
        raise ClassifierFileError(f"{path}: damaged or not a classifier file ({reason}). {remedy}") from None
    return metadata, arrays


def _read_regular_file(path: Path) -> bytes:
    """All of ``path``'s bytes, if it is a regular file of at most MAX_FILE_BYTES (else a ClassifierFileError).

    Checked on the open file itself (no race with a swapped name): a link to ``/dev/zero`` would
    never end, a named pipe (FIFO) would wait forever for a writer (hence ``O_NONBLOCK``, which
    a regular file ignores), a huge file would fill the memory.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise ClassifierFileError(f"{path}: not a regular file (a folder, a device or a pipe), so it "
                                          f"was not read. Give the path of a .npz file saved by PhotoClassifier.save().")
            if info.st_size > MAX_FILE_BYTES:
                raise ClassifierFileError(f"{path}: {info.st_size / 2**20:.0f} MiB, far more than any classifier "
                                          f"file (at most {MAX_FILE_BYTES // 2**20} MiB), so it was not read. "
                                          f"Check the path: give a .npz file saved by PhotoClassifier.save().")
            with os.fdopen(descriptor, "rb", closefd=False) as file:
                return file.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise ClassifierFileError(f"{path}: cannot be read ({error.strerror or error}). Check the path.") from None


def _check_saved_classifier(metadata: dict, arrays: dict) -> Pipeline:
    """Check a saved classifier's metadata and arrays together; return its fitted pipeline."""
    if metadata.get("format") != FILE_FORMAT:
        raise ValueError(f"its format is {metadata.get('format')!r}, this version reads {FILE_FORMAT!r}")
    class_names = metadata["class_names"]
    if (not isinstance(class_names, list) or len(class_names) < 2 or len(set(class_names)) != len(class_names)
            or not all(isinstance(name, str) for name in class_names)):
        raise ValueError(f"class_names must be two or more different names, not {class_names!r}")
    standardize = metadata.get("standardize", True)  # files saved before it was recorded all standardized
    if not isinstance(standardize, bool):
        raise ValueError(f"standardize should be true or false, not {standardize!r}")
    width = _backbone(metadata["backbone"]).feature_width(metadata["layer"])
    scores = 1 if len(class_names) == 2 else len(class_names)  # LinearSVC: one score for two classes
    shapes = {"scaler_mean": (width,), "scaler_scale": (width,)} if standardize else {}
    shapes.update({"svm_coef": (scores, width), "svm_intercept": (scores,), "svm_classes": (len(class_names),)})
    for name, shape in shapes.items():
        array = arrays[name]
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise ValueError(f"{name} should be an array of shape {shape}")
        if name != "svm_classes" and not (array.dtype == np.float64 and np.all(np.isfinite(array))):
            raise ValueError(f"{name} should hold finite float64 values")
    if standardize and not np.all(arrays["scaler_scale"] > 0):
        raise ValueError("scaler_scale should be positive")
    if not np.array_equal(arrays["svm_classes"], np.arange(len(class_names))):
        raise ValueError(f"svm_classes should be the class numbers 0..{len(class_names) - 1}")
    weights = metadata.get("weights_sha256")
    if weights is not None and not (isinstance(weights, str) and re.fullmatch(r"[0-9a-f]{64}", weights)):
        raise ValueError(f"weights_sha256 should be 64 hexadecimal digits, not {weights!r}")
    C = metadata["C"]
    if not isinstance(C, (int, float)) or not C > 0:
        raise ValueError(f"C should be a positive number, not {C!r}")
    pipeline = make_pipeline(C=C, standardize=standardize)
    for name in shapes:
        step, attribute = SAVED_ARRAYS[name]
        setattr(pipeline[step], attribute, arrays[name])
    for step in ("scale", "svm") if standardize else ("svm",):
        pipeline[step].n_features_in_ = width
    return pipeline


def _reason(error: Exception) -> str:
    """An exception as a short reason: a missing key is named as such."""
    return f"{error.args[0]!r} is missing" if isinstance(error, KeyError) else str(error)
