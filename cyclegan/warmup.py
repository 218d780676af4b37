"""TF Serving's warm-up requests: `assets.extra/tf_serving_warmup_requests`, a TFRecord of
PredictionLog protos that TF Serving replays when it loads a version, before the version
takes traffic. Without them the first requests pay for tracing, graph optimisation and
allocation (`python -m benchmarks serving_warmup` measures how much).

Built from real test images, as clients send them: each bytes signature at batch 1 (a JPEG
at the model's size) and at the largest recommended batch (JPEGs half again as large, which
take the resize branch, and PNGs at the model's size, which take the crop-only branch); each
float signature at both batches. The canary replays the same file.
"""

from __future__ import annotations

import os
from typing import Dict, List

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from cyclegan import image_ops
from cyclegan.serving_contract import (
    BYTES_INPUT,
    DEFAULT_SIGNATURE,
    FLOAT_KEY,
    FLOAT_SUFFIX,
    SIGNATURES,
    WARMUP_ASSET,
)


def _request(signature: str, key: str, values: tf.Tensor) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    request.inputs[key].CopyFrom(tf.make_tensor_proto(values.numpy()))
    return request


def _client_bytes(images: tf.Tensor) -> tf.Tensor:
    """uint8 images -> encoded files, alternately a JPEG 1.5x the size and a PNG as it is."""
    size = images.shape[1]
    larger = tf.cast(tf.image.resize(images, [size * 3 // 2] * 2), tf.uint8)
    return tf.stack(
        [
            tf.io.encode_jpeg(larger[i], quality=95) if i % 2 == 0 else tf.io.encode_png(image)
            for i, image in enumerate(images)
        ]
    )


def requests(images: Dict[str, tf.Tensor], batch_size: int) -> List[predict_pb2.PredictRequest]:
    """Warm-up requests for every serving signature. `images`: per direction ("a_to_b",
    "b_to_a"), float [n, size, size, 3] test images in [-1, 1] of its source domain, repeated
    to fill a batch when n < batch_size."""
    built = []
    for direction, name in SIGNATURES.items():
        source = images[direction]
        batch = tf.gather(source, tf.range(batch_size) % tf.shape(source)[0])
        pixels = image_ops.from_unit_range(batch)
        names = [name, DEFAULT_SIGNATURE] if name == SIGNATURES["a_to_b"] else [name]
        for signature in names:
            built.append(
                _request(signature, BYTES_INPUT, tf.io.encode_jpeg(pixels[0], quality=95)[None])
            )
            if batch_size > 1:
                built.append(_request(signature, BYTES_INPUT, _client_bytes(pixels)))
        built.append(_request(name + FLOAT_SUFFIX, FLOAT_KEY, batch[:1]))
        if batch_size > 1:
            built.append(_request(name + FLOAT_SUFFIX, FLOAT_KEY, batch))
    return built


def write(export_dir: str, built: List[predict_pb2.PredictRequest]) -> str:
    path = os.path.join(export_dir, WARMUP_ASSET)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in built:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString(deterministic=True))
    return path
