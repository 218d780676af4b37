"""Exports both generators as one SavedModel that TF Serving loads as it is.

Signatures, per direction (A -> B is also `serving_default`):
  translate_a_to_b, translate_b_to_a
      image_bytes: string [batch], encoded images (JPEG/PNG/GIF/BMP, any size, grey or RGBA
                   too) -> png_bytes: string [batch], PNG translations at image_size.
      Inputs go through image_ops.preprocess, the code Beam ran on the test splits, after
      request_guard has checked each image's header (format, size within
      export.max_request_pixels). Keys end in "_bytes" so TF Serving's REST API
      base64-encodes them ({"b64": ...}).
  translate_a_to_b_float, translate_b_to_a_float
      images: float32 [batch, image_size, image_size, 3] in [-1, 1] -> images: the same.
      For callers that preprocess themselves (and for the Evaluator).
The generators compute in float32 whatever precision trained them (networks.float32_generator).
A bad image fails the request with InvalidArgument naming its index in the batch; the model
keeps serving. An empty batch gives an empty batch. assets.extra/ holds serving_info.json
(these conventions), the training config and TF Serving's warm-up requests (warmup.py). The
names live in serving_contract.py, which clients import without TensorFlow.
"""

from __future__ import annotations

import json
import os
from typing import Dict

import tensorflow as tf

from cyclegan import image_ops, input_pipeline, networks, request_guard, warmup
from cyclegan.config import Config
from cyclegan.serving_contract import (
    BYTES_INPUT,
    BYTES_OUTPUT,
    CONFIG_ASSET,
    DEFAULT_SIGNATURE,
    FLOAT_KEY,
    FLOAT_SUFFIX,
    INFO_ASSET,
    SIGNATURES,
    serving_info,
)


class _Translator(tf.Module):
    def __init__(self, g_ab, g_ba, config: Config):
        super().__init__(name="cyclegan_translator")
        self.g_ab = g_ab
        self.g_ba = g_ba
        self._size = config.data.crop_size
        self._method = config.data.resize_method
        self._max_pixels = config.export.max_request_pixels

    def translate_bytes(self, generator, encoded: tf.Tensor) -> dict:
        pixels = request_guard.decode_batch(encoded, self._size, self._method, self._max_pixels)
        translated = _translate(generator, image_ops.to_unit_range(pixels))
        return {BYTES_OUTPUT: _each(image_ops.encode_png, translated, tf.TensorSpec([], tf.string))}


def _translate(generator, images: tf.Tensor) -> tf.Tensor:
    """The generator on a batch; an empty batch (which its convolutions refuse) as it is."""
    return tf.cond(
        tf.shape(images)[0] == 0, lambda: images, lambda: generator(images, training=False)
    )


def _each(fn, batch: tf.Tensor, output_spec: tf.TensorSpec) -> tf.Tensor:
    """fn on each element of batch. A batch of one (the usual request) skips map_fn's loop,
    ~0.2 ms of a request that takes ~6 ms at the demo preset."""
    return tf.cond(
        tf.shape(batch)[0] == 1,
        lambda: fn(batch[0])[None],
        lambda: tf.map_fn(fn, batch, fn_output_signature=output_spec),
    )


def export_generators(
    g_ab, g_ba, config: Config, export_dir: str, warmup_images: Dict[str, tf.Tensor]
) -> str:
    """Writes the SavedModel, with its conventions, training config and warm-up requests
    beside it. warmup_images: per direction ("a_to_b", "b_to_a"), float test images of its
    source domain in [-1, 1] (see warmup.requests)."""
    module = _Translator(
        networks.float32_generator(g_ab, config), networks.float32_generator(g_ba, config), config
    )
    size = config.data.crop_size
    bytes_spec = tf.TensorSpec([None], tf.string, name=BYTES_INPUT)
    float_spec = tf.TensorSpec([None, size, size, 3], tf.float32, name=FLOAT_KEY)
    signatures = {}
    for direction, generator in (("a_to_b", module.g_ab), ("b_to_a", module.g_ba)):
        name = SIGNATURES[direction]
        signatures[name] = tf.function(
            lambda image_bytes, generator=generator: module.translate_bytes(generator, image_bytes),
            input_signature=[bytes_spec],
        )
        signatures[name + FLOAT_SUFFIX] = tf.function(
            lambda images, generator=generator: {FLOAT_KEY: _translate(generator, images)},
            input_signature=[float_spec],
        )
    signatures[DEFAULT_SIGNATURE] = signatures[SIGNATURES["a_to_b"]]
    tf.saved_model.save(module, export_dir, signatures=signatures)
    for asset, text in (
        (CONFIG_ASSET, config.to_json()),
        (INFO_ASSET, json.dumps(serving_info(config), indent=2)),
    ):
        tf.io.gfile.makedirs(os.path.dirname(os.path.join(export_dir, asset)))
        with tf.io.gfile.GFile(os.path.join(export_dir, asset), "w") as file:
            file.write(text)
    warmup.write(export_dir, warmup.requests(warmup_images, config.export.warmup_batch_size))
    return export_dir


def warmup_images_from(test_a, test_b, config: Config) -> Dict[str, tf.Tensor]:
    """The first test images of each domain (preprocessed test files), as
    export_generators() takes them."""
    count, size = config.export.warmup_batch_size, config.data.crop_size
    return {
        "a_to_b": input_pipeline.read_images(test_a, size, count)[0],
        "b_to_a": input_pipeline.read_images(test_b, size, count)[0],
    }
