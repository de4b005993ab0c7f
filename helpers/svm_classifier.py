"""A linear SVM on a frozen backbone's features: fit, evaluate honestly, save, predict photos.

The deep network is only a component here: photos become feature vectors (by
default the backbone's 1000 ImageNet logits) and a scikit-learn pipeline
(StandardScaler + LinearSVC) learns the new classes from a handful of examples.

>>> accuracy = leave_one_out_accuracy(features, labels)       # honest, even with 20 photos
>>> classifier = PhotoClassifier.fit(features, labels, class_names, backbone="mobilenet_v2")
>>> classifier.save("outputs/cars.joblib")
>>> classifier = PhotoClassifier.load("outputs/cars.joblib")
>>> classifier.predict_photo("new_car.jpg")                   # Prediction(path, label, distance)
>>> for prediction in classifier.stream_predictions("incoming/"):   # one photo at a time
...     print(prediction)

Photos are featurized with :func:`helpers.features.featurize` (cached on disk) using
the backbone and layer saved with the classifier. The featurizer can be swapped
(``featurizer=``), which is how the unit tests run without any network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import joblib
import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from . import images

LOGITS = "predictions"  # the logits layer (same name as helpers.features.LOGITS)
FILE_FORMAT = "going-deeper/svm-classifier/1"


def make_pipeline(C: float = 1.0, random_state: int = 42) -> Pipeline:
    """The course's classifier: standardize each feature, then a linear SVM.

    Standardizing puts every logit on the same scale, so no ImageNet class
    dominates just because its logits happen to vary more.
    """
    return Pipeline([
        ("scale", StandardScaler()),
        # dual="auto" spelled out: scikit-learn 1.4 warns that its default is changing to it
        ("svm", LinearSVC(C=C, dual="auto", random_state=random_state, max_iter=10_000)),
    ])


def copy_groups(features) -> np.ndarray:
    """A group number per row: rows with identical features (copies of one photo) share one.

    The feature cache keys features by photo content, so copies of a photo -- the same
    file twice, under two names or linked -- get exactly the same row.
    """
    _, groups = np.unique(np.asarray(features), axis=0, return_inverse=True)
    return groups.reshape(-1)


def leave_one_out_predictions(features, labels, **pipeline_options) -> np.ndarray:
    """Each photo's label as predicted by a pipeline trained on all the *other* photos.

    Copies of the held-out photo (see :func:`copy_groups`) are held out with it: left
    in the training photos, a copy would hand the answer over and make the accuracy
    look better than it is (random features, each photo twice: 1.0 instead of ~0.5).
    """
    features, labels = np.asarray(features), np.asarray(labels)
    groups = copy_groups(features)
    if groups.max() == 0:
        raise ValueError(f"All {len(features)} photos have identical features: there is nothing to tell apart. "
                         f"Check that the photos differ (not one file copied) and the features were computed.")
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
    from . import features  # imported here: it loads TensorFlow, which fitting never needs

    return features.featurize(paths, layers=layers, backbone=backbone, progress=progress)


@dataclass
class PhotoClassifier:
    """A fitted pipeline plus what it needs to classify photos: class names, backbone, layer."""

    pipeline: Pipeline
    class_names: list[str]
    backbone: str  # the backbone whose features the pipeline was fitted on
    layer: str = LOGITS
    # photos -> {layer: features}; not saved (the default uses the on-disk feature cache)
    featurizer: Callable = field(default=_featurize, repr=False, compare=False)

    @classmethod
    def fit(cls, features, labels, class_names, backbone: str, layer: str = LOGITS,
            **pipeline_options) -> "PhotoClassifier":
        """Fit :func:`make_pipeline` on ``features`` with integer ``labels`` (indices into ``class_names``)."""
        labels = np.asarray(labels)
        if len(np.unique(labels)) < 2:
            raise ValueError("A classifier needs photos of at least two classes.")
        pipeline = make_pipeline(**pipeline_options).fit(np.asarray(features), labels)
        return cls(pipeline, list(class_names), backbone, layer)

    # --- from features -------------------------------------------------------------
    def decision_values(self, features) -> np.ndarray:
        """The SVM's raw scores: shape (n,) for two classes (positive = class_names[1]), else (n, k)."""
        return self.pipeline.decision_function(np.atleast_2d(features))

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
        paths = images.image_files(source, skip_non_images=True) if isinstance(source, (str, Path)) else source
        for path in paths:
            try:
                prediction = self.predict_photo(path)
            except images.ImageError as error:
                prediction = Prediction(Path(path), None, float("nan"), str(error))
            yield prediction

    # --- saving --------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save the fitted pipeline with its class names, backbone and layer (joblib file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(
            {"format": FILE_FORMAT, "pipeline": self.pipeline, "class_names": self.class_names,
             "backbone": self.backbone, "layer": self.layer},
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, featurizer: Callable | None = None) -> "PhotoClassifier":
        """Load a classifier saved by :meth:`save`.

        Like any pickle, a joblib file can run code when loaded: only load files you trust.
        """
        saved = joblib.load(path)
        if not isinstance(saved, dict) or saved.get("format") != FILE_FORMAT:
            raise ValueError(f"{path}: not a classifier saved by PhotoClassifier.save().")
        classifier = cls(saved["pipeline"], saved["class_names"], saved["backbone"], saved["layer"])
        if featurizer is not None:
            classifier.featurizer = featurizer
        return classifier
