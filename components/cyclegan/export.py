"""Exports both generators as one SavedModel that TF Serving loads as it is.

Signatures (input key and output key "images"):
  serving_default, translate_a_to_b: string [batch] of encoded images (JPEG/PNG, any size,
                                     grey or RGBA too) -> string [batch] of PNG bytes, A -> B
  translate_b_to_a:                  the same, B -> A
Inputs go through image_ops.preprocess, the code Beam ran on the test splits.
"""

from __future__ import annotations

import os

import tensorflow as tf

from components import image_ops
from pipeline.config import Config

INPUT_KEY = OUTPUT_KEY = "images"
SIGNATURE_A_TO_B = "translate_a_to_b"
SIGNATURE_B_TO_A = "translate_b_to_a"


class _Translator(tf.Module):
    def __init__(self, g_ab, g_ba, config: Config):
        super().__init__(name="cyclegan_translator")
        self.g_ab = g_ab
        self.g_ba = g_ba
        self._size = config.crop_size
        self._method = config.resize_method

    def translate_bytes(self, generator, encoded: tf.Tensor) -> dict:
        size, method = self._size, self._method
        pixels = tf.map_fn(lambda one: image_ops.preprocess(one, size, method), encoded,
                           fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))
        translated = generator(image_ops.to_unit_range(pixels), training=False)
        return {OUTPUT_KEY: tf.map_fn(image_ops.encode_png, translated,
                                      fn_output_signature=tf.string)}


CONFIG_ASSET = "assets.extra/cyclegan_config.json"  # TF Serving ignores assets.extra


def export_generators(g_ab, g_ba, config: Config, export_dir: str) -> str:
    """Writes the SavedModel, with the training config beside it, to export_dir."""
    module = _Translator(g_ab, g_ba, config)
    spec = tf.TensorSpec([None], tf.string, name=INPUT_KEY)
    a_to_b = tf.function(lambda images: module.translate_bytes(module.g_ab, images),
                         input_signature=[spec])
    b_to_a = tf.function(lambda images: module.translate_bytes(module.g_ba, images),
                         input_signature=[spec])
    tf.saved_model.save(module, export_dir, signatures={
        "serving_default": a_to_b,
        SIGNATURE_A_TO_B: a_to_b,
        SIGNATURE_B_TO_A: b_to_a,
    })
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(export_dir, CONFIG_ASSET)))
    with tf.io.gfile.GFile(os.path.join(export_dir, CONFIG_ASSET), "w") as file:
        file.write(config.to_json())
    return export_dir
