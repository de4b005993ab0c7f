"""Pretrained ImageNet networks from ``keras.applications``, chosen by one setting.

The backbone is ``GOING_DEEPER_BACKBONE`` (default ``inception_v3``; the tests use
``mobilenet_v2``), or the ``name`` argument of each function. Weights come through
:mod:`helpers.assets`, so an offline asset folder works and nothing downloads twice.

>>> model = load_logits_model()            # 1000 logits, softmax stripped
>>> x = get_backbone().preprocess(batch)   # uint8 RGB (n, size, size, 3) -> model input
>>> decode_predictions(model.predict(x))   # [(wnid, class name, probability), ...] per image
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

import numpy as np

from . import assets
from .environment import BACKBONE_ENV

if TYPE_CHECKING:  # the table below is read without Keras (bundle, hub, setup): models import it when built
    import keras

__all__ = ["BACKBONES", "CLASS_INDEX", "DEFAULT_BACKBONE", "LOGITS", "MAP_SUFFIX", "POOLED", "SMALL_BACKBONE",
           "Backbone", "check_finite", "decode_predictions", "feature_map", "get_backbone", "imagenet_classes",
           "load_feature_extractor", "load_logits_model", "multi_layer_model", "softmax", "weights_file"]

DEFAULT_BACKBONE = "inception_v3"
SMALL_BACKBONE = "mobilenet_v2"  # the one to suggest when Inception V3 is too big or missing
CLASS_INDEX = "keras/models/imagenet_class_index.json"
LOGITS = "predictions"  # the classifier layer: logits, since the softmax is stripped
# The global-average-pooled features just below the classifier. Addressed as the
# classifier's input, not by layer name: Keras numbers unnamed layers per session
# (global_average_pooling2d, ..._1, ...), so a name would break on the second model.
POOLED = "pooled"
# featurize pools every feature map to one vector per photo; a layer named with this suffix is kept whole
# (height x width x channels), e.g. the input of the top block, so fine-tuning needs no second pass below it
MAP_SUFFIX = "-map"


def feature_map(layer: str) -> str:
    """The name under which ``featurize`` gives ``layer``'s output unpooled: one feature map per photo."""
    return layer + MAP_SUFFIX


@dataclass(frozen=True)
class Backbone:
    name: str  # also its module in keras.applications (preprocess_input)
    title: str
    constructor: str  # its keras.applications constructor's name
    input_size: int  # square input, in pixels
    weights: str  # asset path of the weights with the ImageNet classifier
    weights_no_top: str  # asset path of the weights without it
    pooled_layer: ClassVar[str] = POOLED
    intermediate_layer: str  # a mid-depth block, for "which layer?" comparisons
    fine_tune_from: str  # first layer of the top block to unfreeze when fine-tuning
    top_block_input: str  # the layer whose output the top block starts from (below it: frozen while fine-tuning)
    tfhub_handle: str  # the same network as a TF Hub image feature-vector module
    pooled_width: int  # values per photo at POOLED (the backbone's last feature maps, averaged)
    intermediate_width: int  # ... and at intermediate_layer (its feature maps' channels)
    # Peak memory of the course's heaviest notebook on a CPU, rounded up (tools/benchmark.py measures
    # it; tests/test_default_backbone.py fails if a notebook needs more): the setup cell warns below it.
    memory_gib: float

    @property
    def application(self) -> Callable[..., keras.Model]:  # the keras.applications constructor (imports Keras)
        return getattr(importlib.import_module("keras.applications"), self.constructor)

    @property
    def preprocess_input(self) -> Callable:  # that application's own (imports Keras)
        return importlib.import_module(f"keras.applications.{self.name}").preprocess_input

    def preprocess(self, images) -> np.ndarray:
        """uint8 RGB images -> float32 model input, with the application's own preprocessing."""
        # astype copies: Keras' preprocess_input works in place on float arrays.
        return self.preprocess_input(np.asarray(images).astype("float32"))

    def feature_width(self, layer: str) -> int:
        """Values per photo that ``featurize`` gives at ``layer``: the course's three layers only."""
        widths = {LOGITS: 1000, POOLED: self.pooled_width, self.intermediate_layer: self.intermediate_width}
        if layer not in widths:
            raise ValueError(f"Unknown layer {layer!r} for {self.title}; choose one of {list(widths)}.")
        return widths[layer]


BACKBONES = {
    "inception_v3": Backbone(
        name="inception_v3",
        title="Inception V3",
        constructor="InceptionV3",
        input_size=299,
        weights="keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_no_top="keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        intermediate_layer="mixed7",
        fine_tune_from="mixed9",
        top_block_input="mixed9",  # a merge layer without weights: the top block starts after it
        tfhub_handle="https://tfhub.dev/google/imagenet/inception_v3/feature_vector/5",
        pooled_width=2048,
        intermediate_width=768,
        memory_gib=3.0,
    ),
    "mobilenet_v2": Backbone(
        name="mobilenet_v2",
        title="MobileNetV2",
        constructor="MobileNetV2",
        input_size=224,
        weights="keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        weights_no_top="keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        intermediate_layer="block_12_add",
        fine_tune_from="block_16_expand",
        top_block_input="block_15_add",
        tfhub_handle="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
        pooled_width=1280,
        intermediate_width=96,
        memory_gib=1.8,
    ),
}


def _simplified(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())  # "MobileNet-V2", "mobilenetv2" -> "mobilenetv2"


def get_backbone(name: str | Backbone | None = None) -> Backbone:
    """The backbone called ``name``, else ``$GOING_DEEPER_BACKBONE``, else Inception V3 (a Backbone is itself).

    Case, spaces, ``-`` and ``_`` do not matter: ``MobileNetV2`` is ``mobilenet_v2``. The
    setting is resolved once, here: the functions below take the Backbone it returns.
    """
    if isinstance(name, Backbone):
        return name
    chosen = (name or os.environ.get(BACKBONE_ENV, "")).strip() or DEFAULT_BACKBONE
    for backbone in BACKBONES.values():
        if _simplified(chosen) in (_simplified(backbone.name), _simplified(backbone.title)):
            return backbone
    source = "" if name else f" (from {BACKBONE_ENV})"
    raise ValueError(f"Unknown backbone {chosen!r}{source}; choose one of {sorted(BACKBONES)}, "
                     f"e.g. set {BACKBONE_ENV}=mobilenet_v2.")


def weights_file(backbone: Backbone, include_top: bool = True) -> Path:
    """The local weights file of ``backbone`` (fetched once), with a way out if it cannot be had."""
    try:
        return assets.fetch(backbone.weights if include_top else backbone.weights_no_top)
    except assets.AssetError as error:
        if backbone.name == SMALL_BACKBONE or not assets.downloads_disabled():
            raise
        raise assets.AssetError(
            f"{error}\nTo work offline without {backbone.title}'s weights, switch to the smaller "
            f"MobileNetV2: set {BACKBONE_ENV}={SMALL_BACKBONE} (in a notebook: "
            f"`%env {BACKBONE_ENV}={SMALL_BACKBONE}` before the setup cell), or use an offline folder "
            f"that holds them: `python -m helpers.bundle FOLDER --backbone {backbone.name}`."
        ) from None


def _with_weights(build: Callable[..., keras.Model], file: Path) -> keras.Model:
    """``build(weights=file)``; a file that does not load is an error naming it and saying what to do."""
    try:
        return build(weights=str(file))
    except Exception as error:  # h5py's OSError on a damaged file, Keras' ValueError on the wrong one
        raise assets.AssetError(
            f"{file}: could not load these weights ({type(error).__name__}: {error}). The file is damaged "
            f"or not the right one. {assets.damaged_file_advice(file)}"
        ) from error


def load_logits_model(name: str | Backbone | None = None, weights: bool = True) -> keras.Model:
    """The full ImageNet classifier with the softmax stripped: outputs 1000 logits."""
    backbone = get_backbone(name)
    build = functools.partial(backbone.application, classifier_activation=None)
    return _with_weights(build, weights_file(backbone)) if weights else build(weights=None)


def load_feature_extractor(name: str | Backbone | None = None, weights: bool = True) -> keras.Model:
    """The backbone without its classifier, global-average-pooled: one vector per image."""
    backbone = get_backbone(name)
    build = functools.partial(backbone.application, include_top=False, pooling="avg",
                              input_shape=(backbone.input_size, backbone.input_size, 3))
    return _with_weights(build, weights_file(backbone, include_top=False)) if weights else build(weights=None)


def check_finite(outputs, backbone: Backbone | None = None) -> None:
    """Raise a clear error if ``backbone``'s outputs hold NaN or infinity: its weights file is damaged."""
    if np.isfinite(outputs).all():
        return
    backbone = backbone or get_backbone()
    file = assets.local_copy(backbone.weights)
    raise assets.AssetError(
        f"{backbone.title} computed NaN or infinite values: its weights file {file or backbone.weights} is "
        f"probably damaged (it loads, but some numbers in it are not). "
        f"{assets.damaged_file_advice(file) if file else ''}"
    )


def multi_layer_model(model: keras.Model, layer_names: list[str]) -> keras.Model:
    """A model giving ``{layer name: features}`` for several layers in one forward pass.

    ``POOLED`` names the pooled features below the classifier. Feature maps (4-D) are
    global-average-pooled so every layer gives one vector per image, except those named
    ``feature_map(layer)``, kept whole.
    """
    import keras

    outputs = {}
    for name in layer_names:
        whole = name.endswith(MAP_SUFFIX)  # feature_map(layer): the feature maps themselves
        layer = name.removesuffix(MAP_SUFFIX)
        output = model.get_layer(LOGITS).input if layer == POOLED else model.get_layer(layer).output
        if len(output.shape) == 4 and not whole:
            output = keras.layers.GlobalAveragePooling2D(name=f"{name}_pooled")(output)
        outputs[name] = output
    return keras.Model(model.input, outputs)


@functools.cache
def imagenet_classes() -> list[tuple[str, str]]:
    """The 1000 ImageNet classes as (WordNet id, readable name), in model output order."""
    file = assets.fetch(CLASS_INDEX)
    try:
        index = json.loads(file.read_text(encoding="utf-8"))
        return [tuple(index[str(i)]) for i in range(1000)]
    except (OSError, ValueError, KeyError, TypeError) as error:  # damaged, or some other JSON file
        raise assets.AssetError(f"{file}: not the ImageNet class index ({type(error).__name__}: {error}). "
                                f"{assets.damaged_file_advice(file)}") from None


def softmax(logits) -> np.ndarray:
    """Probabilities from logits (numerically stable)."""
    logits = np.asarray(logits, dtype="float64")
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def decode_predictions(logits, top: int = 5) -> list[list[tuple[str, str, float]]]:
    """Top-``top`` (WordNet id, class name, probability) for each row of logits."""
    classes = imagenet_classes()
    check_finite(logits)
    probabilities = softmax(np.atleast_2d(logits))
    return [
        [(*classes[i], float(row[i])) for i in np.argsort(row)[::-1][:top]]
        for row in probabilities
    ]
