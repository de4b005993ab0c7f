"""An offline stand-in for a TF Hub image feature-vector module, built from the course's weights.

Notebook 4 loads ``https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5``
(or the Inception V3 one) through ``tensorflow_hub.resolve``. The tests run offline, so
:func:`build_tfhub_savedmodel` writes a SavedModel with the same interface from the
backbone's no-top weights in the offline asset folder (MobileNetV2 in the tests), and the
test run points ``GOING_DEEPER_TFHUB_HANDLE`` at it (see the root ``conftest.py``).

The interface is the one TF Hub's image feature-vector modules share:

* input: float32 RGB images scaled to [0, 1], shape (batch, size, size, 3)
  (224 for MobileNetV2, 299 for Inception V3);
* output: the global-average-pooled features, shape (batch, 1280) for MobileNetV2;
* a ``serving_default`` signature (what ``keras.layers.TFSMLayer`` calls), and a
  ``__call__(inputs, training=False)`` function (TF Hub's "Reusable SavedModel" API,
  what ``hub.load(handle)(images)`` calls).

    python tools/tfhub_fixture.py /tmp/tfhub_mobilenet_v2   # build one by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

OUTPUT_NAME = "feature_vector"


def build_tfhub_savedmodel(target_dir: str | Path, backbone_name: str | None = None) -> Path:
    """Write a TF-Hub-format feature-vector SavedModel to ``target_dir`` and return its path.

    ``backbone_name`` defaults to ``$GOING_DEEPER_BACKBONE`` (see ``helpers.backbones``).
    """
    import tensorflow as tf

    from helpers import backbones

    backbone = backbones.get_backbone(backbone_name)
    extractor = backbones.load_feature_extractor(backbone.name)
    extractor.trainable = False

    module = tf.Module()
    module.extractor = extractor  # tracked, so its variables are saved with the module
    size = backbone.input_size
    image_spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="inputs")

    def features(images):
        # TF Hub image modules take pixels in [0, 1]; the application's own
        # preprocess_input expects [0, 255].
        return extractor(backbone.preprocess_input(images * 255.0), training=False)

    @tf.function(input_signature=[image_spec])
    def serving_default(inputs):
        return {OUTPUT_NAME: features(inputs)}

    @tf.function(input_signature=[image_spec, tf.TensorSpec([], tf.bool, name="training")])
    def call(inputs, training=False):
        del training  # a frozen feature extractor: batch norm always uses its moving statistics
        return features(inputs)

    module.__call__ = call  # TF Hub's Reusable SavedModel API: obj(images, training=False)

    target_dir = Path(target_dir)
    tf.saved_model.save(module, str(target_dir), signatures={"serving_default": serving_default})
    return target_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/tfhub_fixture.py TARGET_DIR")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the helpers package
    print(build_tfhub_savedmodel(sys.argv[1]))
