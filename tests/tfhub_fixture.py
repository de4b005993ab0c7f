"""An offline stand-in for a TF Hub image feature-vector module, built from the course's weights.

Notebook 4 loads ``https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5``
(or the Inception V3 one) through ``tensorflow_hub.resolve``. The tests run offline, so
:func:`build_tfhub_savedmodel` writes a SavedModel with the same interface from the
MobileNetV2 no-top weights in the offline asset folder, and the test run points
``GOING_DEEPER_TFHUB_HANDLE`` at it (see ``tests/nbval_setup.py``).

The interface is the one TF Hub's image feature-vector modules share:

* input: float32 RGB images scaled to [0, 1], shape (batch, 224, 224, 3);
* output: the global-average-pooled features, shape (batch, 1280);
* a ``serving_default`` signature (what ``keras.layers.TFSMLayer`` calls) and a
  ``__call__(inputs, training=False)`` function (TF Hub's Reusable SavedModel API,
  what ``hub.KerasLayer`` calls).
"""

from __future__ import annotations

from pathlib import Path

BACKBONE = "mobilenet_v2"
OUTPUT_NAME = "feature_vector"


def build_tfhub_savedmodel(target_dir: str | Path) -> Path:
    """Write a TF-Hub-format MobileNetV2 feature-vector SavedModel to ``target_dir``; return it."""
    import tensorflow as tf

    from helpers import backbones

    size = backbones.get_backbone(BACKBONE).input_size
    extractor = backbones.load_feature_extractor(BACKBONE)
    extractor.trainable = False

    module = tf.Module()
    module.extractor = extractor  # tracked: its variables are saved with the module
    image_spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="inputs")

    def features(images):
        # TF Hub modules take pixels in [0, 1]; MobileNetV2's own preprocessing is x / 127.5 - 1.
        return extractor(images * 2.0 - 1.0, training=False)

    @tf.function(input_signature=[image_spec])
    def serving_default(inputs):
        return {OUTPUT_NAME: features(inputs)}

    @tf.function(input_signature=[image_spec, tf.TensorSpec([], tf.bool, name="training")])
    def call_with_training(inputs, training=False):
        del training  # a frozen feature extractor: batch norm always uses its moving statistics
        return features(inputs)

    # TF Hub's Reusable SavedModel API: obj(inputs, training=False).
    module.__call__ = call_with_training

    target_dir = Path(target_dir)
    tf.saved_model.save(module, str(target_dir), signatures={"serving_default": serving_default})
    return target_dir
