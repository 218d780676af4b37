"""ExampleGen executor: image sources -> raw tf.Examples in TFX's Examples layout, with a report.

Each split is planned as shards of up to SHARD_SIZE images (sources.plan_split). A Beam worker
turns one shard into one GZIP TFRecord file, `Split-<name>/data_tfrecord-<i>-of-<n>.gz`,
reading and validating images one at a time and in order. So memory does not grow with the
data set, shards run in parallel, and the same input gives byte-identical output (which keeps
runs reproducible). Skipped files are reported per split with path and reason in
`ingest_report.json` and the artifact's `ingest_report` custom property; seen = written +
skipped.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import beam_shards
from cyclegan import data_contract, logger, sources

# TFX's Examples are GZIP TFRecords. Image bytes are compressed already: deflating them saves
# about 1% for far more CPU than ingesting them otherwise takes, and slows every read. Stored
# deflate blocks (level 0) keep the format and cost a copy.
RECORD_OPTIONS = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=0)


def shard_path(split_uri: str, index: int, count: int) -> str:
    return os.path.join(split_uri, f"{write_split.DEFAULT_FILE_NAME}-{index:05d}-of-{count:05d}.gz")


class _WriteShard(beam.DoFn):
    """(shard index, (reader, kwargs)) -> one TFRecord file; yields what it wrote and skipped."""

    def __init__(self, split: str, split_uri: str, shard_count: int):
        self._domain = data_contract.DOMAIN_OF_SPLIT[split]
        self._split_uri = split_uri
        self._shard_count = shard_count

    def process(self, shard) -> Any:
        index, (reader, kwargs) = shard
        seen, written, skipped = 0, 0, []
        with beam_shards.shard_writer(
            shard_path(self._split_uri, index, self._shard_count), RECORD_OPTIONS
        ) as writer:
            for item in reader(**kwargs):
                seen += 1
                stored, reason = (
                    (None, item.error) if item.error else sources.validate_image(item.data)
                )
                if reason:
                    skipped.append((item.source, reason))
                    continue
                writer.write(
                    data_contract.make_raw_example(
                        stored, self._domain, item.source
                    ).SerializeToString(deterministic=True)
                )
                written += 1
        yield {"seen": seen, "written": written, "skipped": skipped}


def _split_report(
    split: str,
    shard_results: List[Dict[str, Any]],
    unreadable: List[Tuple[str, str]],
    ignored: List[str],
) -> Dict[str, Any]:
    # Entries the listing found unreadable were seen, but never reached a shard.
    skipped = sorted(
        [
            *(tuple(item) for item in unreadable),
            *(tuple(item) for result in shard_results for item in result["skipped"]),
        ]
    )
    return {
        "split": split,
        "seen": len(unreadable) + sum(result["seen"] for result in shard_results),
        "written": sum(result["written"] for result in shard_results),
        "skipped": [{"path": source, "reason": reason} for source, reason in skipped],
        "ignored_non_images": ignored,
    }


class Executor(base_beam_executor.BaseBeamExecutor):
    """Runs for FolderImageExampleGen, SyntheticImageExampleGen and TfdsImageExampleGen."""

    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        input_base = exec_properties.get(standard_component_specs.INPUT_BASE_KEY)
        plans = {
            split.name: sources.plan_split(split.pattern, input_base)
            for split in input_config.splits
        }
        empty = [name for name, plan in plans.items() if not plan.shards]
        if empty:
            raise sources.DataError(
                f"no images in split(s) {empty} of {input_base or 'the source'}"
            )

        examples.split_names = artifact_utils.encode_split_names(list(plans))
        split_uris = {split: data_contract.split_dir(examples.uri, split) for split in plans}
        for split_uri in split_uris.values():
            tf.io.gfile.makedirs(split_uri)
        report = beam_shards.run_per_split(
            self._make_beam_pipeline,
            examples.uri,
            {split: list(enumerate(plan.shards)) for split, plan in plans.items()},
            lambda split: _WriteShard(split, split_uris[split], len(plans[split].shards)),
            lambda split, results: _split_report(
                split, results, plans[split].unreadable, plans[split].ignored
            ),
        )

        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
        )
        report_path = os.path.join(examples.uri, data_contract.INGEST_REPORT_FILE)
        with tf.io.gfile.GFile(report_path, "w") as file:
            json.dump(report, file, indent=2)
        examples.set_json_value_custom_property("ingest_report", report)

        logger.info("Ingested images (report: %s):\n%s", report_path, format_report(report))
        for part in report.values():
            for item in part["skipped"]:
                logger.warning("Skipped %s: %s", item["path"], item["reason"])
            for path in part["ignored_non_images"]:
                logger.info("Ignored (hidden or not .jpg/.jpeg/.png): %s", path)
        unusable = [split for split, part in report.items() if part["written"] == 0]
        if unusable:
            raise sources.DataError(
                f"no usable images in split(s) {unusable}: every file was skipped; see "
                f"{report_path}"
            )


def format_report(report: Dict[str, Any]) -> str:
    lines = [f"  {'split':<8}{'seen':>8}{'written':>9}{'skipped':>9}{'ignored':>9}"]
    for split, part in report.items():
        lines.append(
            f"  {split:<8}{part['seen']:>8}{part['written']:>9}"
            f"{len(part['skipped']):>9}{len(part['ignored_non_images']):>9}"
        )
    return "\n".join(lines)
