"""Preprocess executor: raw examples -> uint8 pixel examples, in Beam.

Per split: read the raw TFRecords, batch elements, run one tf.function per batch
(decode -> RGB -> resize -> centre crop; image_ops, shared with serving), write uncompressed
TFRecords of pixel examples. Batching amortises the Python/TF call overhead, which is what
dominates per-image Beam work (see README, "Preprocessing speed").
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Iterator, List

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
import numpy as np
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components import data_contract, image_ops

logger = logging.getLogger("cyclegan")

OUTPUT_FILE_PREFIX = "data"
OUTPUT_FILE_SUFFIX = ".tfrecord"
COUNTS_FILE = "preprocess_counts.json"
METRICS_NAMESPACE = "cyclegan_preprocess"


class _PreprocessBatch(beam.DoFn):
    """A batch of serialized raw examples -> serialized pixel examples."""

    def __init__(self, split: str, size: int, method: str):
        self._size = size
        self._method = method
        self._fn = None
        self._written = beam.metrics.Metrics.counter(METRICS_NAMESPACE, split)

    def setup(self) -> None:
        size, method = self._size, self._method

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def preprocess(serialized):
            features = tf.io.parse_example(serialized, data_contract.RAW_FEATURES)
            pixels = tf.map_fn(lambda encoded: image_ops.preprocess(encoded, size, method),
                               features[data_contract.ENCODED],
                               fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))
            return pixels, features[data_contract.SOURCE]

        self._fn = preprocess

    def process(self, batch: List[bytes]) -> Iterator[bytes]:
        try:
            pixels, sources = self._fn(tf.constant(batch))
        except tf.errors.InvalidArgumentError:
            raise RuntimeError(self._name_undecodable(batch)) from None
        self._written.inc(len(batch))
        for image, source in zip(pixels.numpy(), sources.numpy()):
            yield data_contract.make_pixel_example(
                np.ascontiguousarray(image).tobytes(), self._size, source).SerializeToString()

    def _name_undecodable(self, batch: List[bytes]) -> str:
        """ExampleGen validated every image, so this is a bug worth a precise message."""
        for serialized in batch:
            example = tf.train.Example.FromString(serialized)
            encoded = example.features.feature[data_contract.ENCODED].bytes_list.value[0]
            try:
                image_ops.decode_rgb(tf.constant(encoded))
            except tf.errors.InvalidArgumentError as error:
                source = example.features.feature[data_contract.SOURCE].bytes_list.value[0]
                return f"TensorFlow cannot decode {source.decode()!r}: {error.message}"
        return "a batch failed to preprocess, but every image decodes alone"


def output_size(split: str, load_size: int, crop_size: int) -> int:
    """Train splits keep room for the Trainer's random crop; test splits are final size."""
    return load_size if split in data_contract.TRAIN_SPLITS else crop_size


class Executor(base_beam_executor.BaseBeamExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        raw = artifact_utils.get_single_instance(input_dict["examples"])
        out = artifact_utils.get_single_instance(output_dict["preprocessed"])
        splits = artifact_utils.decode_split_names(raw.split_names)
        out.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(out, example_gen_pb2.FORMAT_TF_EXAMPLE)
        load_size = exec_properties["load_size"]
        crop_size = exec_properties["crop_size"]
        method = exec_properties["resize_method"]

        sizes = {split: output_size(split, load_size, crop_size) for split in splits}
        pipeline = self._make_beam_pipeline()
        for split, size in sizes.items():
            _ = (pipeline
                 | f"Read[{split}]" >> beam.io.ReadFromTFRecord(
                     os.path.join(data_contract.split_dir(raw.uri, split), "*"))
                 | f"Batch[{split}]" >> beam.BatchElements(min_batch_size=16, max_batch_size=64)
                 | f"Preprocess[{split}]" >> beam.ParDo(_PreprocessBatch(split, size, method))
                 | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                     os.path.join(data_contract.split_dir(out.uri, split), OUTPUT_FILE_PREFIX),
                     file_name_suffix=OUTPUT_FILE_SUFFIX))
        result = pipeline.run()
        result.wait_until_finish()

        counters = result.metrics().query(
            MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
        written = {counter.key.metric.name: counter.committed for counter in counters}
        summary = {split: {"images": written.get(split, 0), "size": sizes[split]}
                   for split in splits}
        with tf.io.gfile.GFile(os.path.join(out.uri, COUNTS_FILE), "w") as file:
            json.dump(summary, file, indent=2)
        out.set_json_value_custom_property("split_counts", summary)
        logger.info("Preprocessed images per split: %s", summary)
