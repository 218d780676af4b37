"""Preprocess executor: raw examples -> uint8 pixel examples, in Beam.

One Beam element per input shard file (beam_shards); a worker streams that file through
tf.data in batches of BATCH_SIZE, runs one tf.function per batch (decode -> RGB -> resize ->
centre crop, from image_ops, which the serving signature shares) and writes one output shard
with the same index. Batching amortises the Python/TF call overhead that dominates
per-image Beam work.
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

BATCH_SIZE = 32
COUNTS_FILE = "preprocess_counts.json"


def output_size(split: str, load_size: int, crop_size: int) -> int:
    """Train splits keep room for the Trainer's random crop; test splits are final size."""
    return load_size if split in data_contract.TRAIN_SPLITS else crop_size


@functools.lru_cache(maxsize=None)
def _batch_preprocessor(size: int, method: str) -> Callable:
    """One traced function per worker process and output size, whatever the DoFn instances."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def preprocess(serialized):
        features = tf.io.parse_example(serialized, data_contract.RAW_FEATURES)
        pixels = tf.map_fn(lambda encoded: image_ops.preprocess(encoded, size, method),
                           features[data_contract.ENCODED],
                           fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))
        return pixels, features[data_contract.SOURCE]

    return preprocess


def _raw_batches(paths: str | List[str]) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(paths, compression_type="GZIP").batch(BATCH_SIZE)


def preprocessed_images(paths: List[str], size: int, method: str) -> tf.data.Dataset:
    """uint8 images of raw example files, preprocessed as this component does, at any size:
    for a consumer that needs a split at another size than the one written here (the domain
    classifier reads the train splits exactly as the test splits were made)."""
    preprocess = _batch_preprocessor(size, method)
    return _raw_batches(paths).map(lambda serialized: preprocess(serialized)[0]).unbatch()


class _PreprocessShard(beam.DoFn):
    """(input file, output file) -> the output file written; yields the images written."""

    def __init__(self, size: int, method: str):
        self._size = size
        self._method = method

    def process(self, paths) -> Iterator[int]:
        input_path, output_path = paths
        batches = _raw_batches(input_path)
        count = 0
        with beam_shards.shard_writer(output_path) as writer:
            for serialized in batches:
                try:
                    pixels, sources = _batch_preprocessor(self._size, self._method)(serialized)
                except tf.errors.InvalidArgumentError:
                    raise RuntimeError(_name_undecodable(serialized.numpy())) from None
                for image, source in zip(pixels.numpy(), sources.numpy()):
                    writer.write(data_contract.make_pixel_example(
                        image.tobytes(), self._size, source).SerializeToString())
                count += len(sources)
        yield count


def _name_undecodable(batch: List[bytes]) -> str:
    """ExampleGen validated every image with Pillow, so this is worth a precise message."""
    for serialized in batch:
        example = tf.train.Example.FromString(serialized)
        encoded = example.features.feature[data_contract.ENCODED].bytes_list.value[0]
        try:
            image_ops.decode_rgb(tf.constant(encoded))
        except tf.errors.InvalidArgumentError as error:
            source = example.features.feature[data_contract.SOURCE].bytes_list.value[0]
            return f"TensorFlow cannot decode {source.decode()!r}: {error.message}"
    return "a batch failed to preprocess, but every image decodes alone"


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
        sizes = {split: output_size(split, exec_properties["load_size"],
                                    exec_properties["crop_size"]) for split in splits}

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
