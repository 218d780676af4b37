"""Preprocess executor: raw examples -> uint8 pixel examples, in Beam.

One Beam element per input shard file (beam_shards); a worker streams that file through
tf.data, which decodes and resizes (image_ops, which the serving signature shares) on every
core, in parallel and ahead of the one loop that serialises and writes one output shard with
the same index.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Callable, Dict, Iterator, List

import apache_beam as beam
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components import beam_shards
from cyclegan import data_contract, image_ops, logger

BATCH_SIZE = 64  # images the writing loop takes from tf.data at a time
COUNTS_FILE = "preprocess_counts.json"


@functools.lru_cache(maxsize=None)
def _shard_reader(size: int, method: str) -> Callable[[str], tf.data.Dataset]:
    """Input shard path -> batches of (uint8 pixels, source), in input order. Traced once per
    worker process and size: a dataset built eagerly traces its map function anew, ~20 ms
    a shard."""

    def preprocess(serialized):
        features = tf.io.parse_single_example(serialized, data_contract.RAW_FEATURES)
        return (image_ops.preprocess(features[data_contract.ENCODED], size, method),
                features[data_contract.SOURCE])

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def read(path):
        return (tf.data.TFRecordDataset(path, compression_type="GZIP")
                .map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
                .batch(BATCH_SIZE)
                .prefetch(tf.data.AUTOTUNE))

    return read


class _PreprocessShard(beam.DoFn):
    """(input file, output file) -> the output file written; yields the images written."""

    def __init__(self, size: int, method: str):
        self._size = size
        self._method = method

    def process(self, paths) -> Iterator[int]:
        input_path, output_path = paths
        batches = _shard_reader(self._size, self._method)(input_path)
        count = 0
        with beam_shards.shard_writer(output_path) as writer:
            try:
                for pixels, sources in batches.as_numpy_iterator():
                    for image, source in zip(pixels, sources):
                        writer.write(data_contract.make_pixel_example(
                            image.tobytes(), self._size, source).SerializeToString())
                    count += len(sources)
            except tf.errors.InvalidArgumentError:
                raise RuntimeError(_name_undecodable(input_path)) from None
        yield count


def _name_undecodable(input_path: str) -> str:
    """ExampleGen validated every image with Pillow, so this is worth a precise message."""
    for serialized in tf.data.TFRecordDataset(input_path, compression_type="GZIP"):
        example = tf.train.Example.FromString(serialized.numpy())
        encoded = example.features.feature[data_contract.ENCODED].bytes_list.value[0]
        try:
            image_ops.decode_rgb(tf.constant(encoded))
        except tf.errors.InvalidArgumentError as error:
            source = example.features.feature[data_contract.SOURCE].bytes_list.value[0]
            return f"TensorFlow cannot decode {source.decode()!r}: {error.message}"
    return f"a shard failed to preprocess, but every image in {input_path} decodes alone"


def _output_name(input_path: str) -> str:
    name = os.path.basename(input_path)
    return (name[:-3] if name.endswith(".gz") else name) + ".tfrecord"


class Executor(base_beam_executor.BaseBeamExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        raw = artifact_utils.get_single_instance(input_dict["examples"])
        out = artifact_utils.get_single_instance(output_dict["preprocessed"])
        splits = artifact_utils.decode_split_names(raw.split_names)
        out.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(out, example_gen_pb2.FORMAT_TF_EXAMPLE)
        sizes = {split: data_contract.stored_size(split, exec_properties["load_size"],
                                                  exec_properties["crop_size"])
                 for split in splits}

        shards = {}
        for split in splits:
            output_dir = data_contract.split_dir(out.uri, split)
            tf.io.gfile.makedirs(output_dir)
            shards[split] = [(path, os.path.join(output_dir, _output_name(path)))
                             for path in data_contract.split_files(raw.uri, split)]
        summary = beam_shards.run_per_split(
            self._make_beam_pipeline, out.uri, shards,
            lambda split: _PreprocessShard(sizes[split], exec_properties["resize_method"]),
            lambda split, counts: {"images": sum(counts), "size": sizes[split]})
        with tf.io.gfile.GFile(os.path.join(out.uri, COUNTS_FILE), "w") as file:
            json.dump(summary, file, indent=2)
        out.set_json_value_custom_property("split_counts", summary)
        logger.info("Preprocessed images per split: %s", summary)
