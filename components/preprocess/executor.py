"""Preprocess executor: raw examples -> uint8 pixel examples, in Beam.

One Beam element per input shard file (beam_shards), one tf.data pipeline per Beam bundle: the
DoFn collects a bundle's shards and streams them through one pipeline, which decodes and
resizes (image_ops, which the serving signature shares) on every core, in parallel and ahead
of the one loop that serialises and writes, one output shard per input shard with the same
index. Each new pipeline is set up, starts empty and ends draining (~0.14 s of the cores per
pipeline, measured); the runner sizes bundles to its workers (the DirectRunner: one bundle per
split in memory, one per worker in multi_processing mode; Dataflow: a work item), so a
worker pays that once per bundle, not once per shard.
"""

from __future__ import annotations

import itertools
import json
import operator
import os
from typing import Any, Dict, Iterator, List, Tuple

import apache_beam as beam
import tensorflow as tf
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components import beam_shards
from cyclegan import data_contract, image_ops, input_pipeline, logger

COUNTS_FILE = "preprocess_counts.json"


def preprocess_shards(shards: List[Tuple[str, str]], size: int, method: str) -> int:
    """Writes each (input file, output file) shard's images preprocessed, in order, through
    one tf.data pipeline; returns the images written."""
    inputs = [input_path for input_path, _ in shards]
    batches = input_pipeline.raw_example_reader(size, method)(inputs).as_numpy_iterator()
    records = (record for batch in batches for record in zip(*batch))
    # Records come shard by shard; a shard without any still gets its (empty) file.
    by_shard = itertools.groupby(records, key=operator.itemgetter(0))
    count = 0
    try:
        next_index, next_records = next(by_shard, (None, ()))
        for index, (_, output_path) in enumerate(shards):
            with beam_shards.shard_writer(output_path) as writer:
                if next_index != index:
                    continue
                for _, image, source in next_records:
                    writer.write(data_contract.serialized_pixel_example(image, size, source))
                    count += 1
                next_index, next_records = next(by_shard, (None, ()))
    except tf.errors.InvalidArgumentError:
        raise RuntimeError(_name_undecodable(inputs)) from None
    return count


class _PreprocessBundle(beam.DoFn):
    """(input file, output file) elements -> the output files, one pipeline per bundle;
    yields the images each bundle wrote."""

    def __init__(self, size: int, method: str):
        self._size = size
        self._method = method
        self._shards: List[Tuple[str, str]] = []

    def start_bundle(self) -> None:
        self._shards = []

    def process(self, shard: Tuple[str, str]) -> None:
        self._shards.append(shard)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._shards:
            count = preprocess_shards(self._shards, self._size, self._method)
            yield WindowedValue(count, MIN_TIMESTAMP, [GlobalWindow()])


def _name_undecodable(input_paths: List[str]) -> str:
    """ExampleGen validated every image with Pillow, so this is worth a precise message."""
    for serialized in tf.data.TFRecordDataset(input_paths, compression_type="GZIP"):
        example = tf.train.Example.FromString(serialized.numpy())
        encoded = example.features.feature[data_contract.ENCODED].bytes_list.value[0]
        try:
            image_ops.decode_rgb(tf.constant(encoded))
        except tf.errors.InvalidArgumentError as error:
            source = example.features.feature[data_contract.SOURCE].bytes_list.value[0]
            return f"TensorFlow cannot decode {source.decode()!r}: {error.message}"
    return f"preprocessing failed, but every image in {input_paths} decodes alone"


def _output_name(input_path: str) -> str:
    name = os.path.basename(input_path)
    return (name[:-3] if name.endswith(".gz") else name) + ".tfrecord"


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        raw = artifact_utils.get_single_instance(input_dict["examples"])
        out = artifact_utils.get_single_instance(output_dict["preprocessed"])
        splits = artifact_utils.decode_split_names(raw.split_names)
        out.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(out, example_gen_pb2.FORMAT_TF_EXAMPLE)
        sizes = {
            split: data_contract.stored_size(
                split, exec_properties["load_size"], exec_properties["crop_size"]
            )
            for split in splits
        }

        shards = {}
        for split in splits:
            output_dir = data_contract.split_dir(out.uri, split)
            tf.io.gfile.makedirs(output_dir)
            shards[split] = [
                (path, os.path.join(output_dir, _output_name(path)))
                for path in data_contract.split_files(raw.uri, split)
            ]
        summary = beam_shards.run_per_split(
            self._make_beam_pipeline,
            out.uri,
            shards,
            lambda split: _PreprocessBundle(sizes[split], exec_properties["resize_method"]),
            lambda split, counts: {"images": sum(counts), "size": sizes[split]},
        )
        with tf.io.gfile.GFile(os.path.join(out.uri, COUNTS_FILE), "w") as file:
            json.dump(summary, file, indent=2)
        out.set_json_value_custom_property("split_counts", summary)
        logger.info("Preprocessed images per split: %s", summary)
