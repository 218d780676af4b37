"""ExampleGen executor: image files (or the synthetic set) -> raw tf.Examples, with a report.

Built on TFX's BaseExampleGenExecutor, so output layout, split handling and artifact
properties are TFX's own. Each split also writes a report of what it saw, wrote and skipped
(with paths and reasons); `Do` merges them into `ingest_report.json` in the artifact and into
the artifact's `ingest_report` custom property, and fails if a split ended up empty.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Iterator, List

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import data_contract, synthetic
from components.image_example_gen import sources

logger = logging.getLogger("cyclegan")

REPORT_FILE = "ingest_report.json"
_REPORT_DIR_KEY = "_ingest_report_dir"
_PARTS_DIR = "ingest_report_parts"


def _split_name(exec_properties: Dict[str, Any], split_pattern: str) -> str:
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    return next(split.name for split in input_config.splits if split.pattern == split_pattern)


class _ReadImageFile(beam.DoFn):
    """Path -> raw example, or a (path, reason) record on the 'skipped' output."""

    def __init__(self, domain: str, root: str):
        self._domain = domain
        self._root = root

    def process(self, path: str) -> Iterator[Any]:
        try:
            data = tf.io.gfile.GFile(path, "rb").read()
        except (OSError, tf.errors.OpError) as error:
            yield beam.pvalue.TaggedOutput("skipped", (path, f"cannot read file: {error}"))
            return
        stored, reason = sources.validate_image(data)
        if reason:
            yield beam.pvalue.TaggedOutput("skipped", (path, reason))
            return
        source = os.path.relpath(path, self._root) if "://" not in path else path
        yield data_contract.make_raw_example(stored, self._domain, source)


def _synthetic_example(index: int, split: str, seed: int, size: int) -> tf.train.Example:
    scene = synthetic.make_scene(seed, split, index)
    pixels = synthetic.render(scene, data_contract.DOMAIN_OF_SPLIT[split], size)
    return data_contract.make_raw_example(
        synthetic.encode_png(pixels), data_contract.DOMAIN_OF_SPLIT[split],
        synthetic.source_name(split, index))


def _write_report_part(_, path: str, split: str, seen: int, written: int,
                       skipped: List[Any], ignored: List[str]) -> None:
    report = {
        "split": split,
        "seen": seen,
        "written": written,
        "skipped": [{"path": p, "reason": r} for p, r in sorted(skipped)],
        "ignored_non_images": ignored,
    }
    with tf.io.gfile.GFile(path, "w") as file:
        json.dump(report, file, indent=2)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImagesToExamples(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.pvalue.PCollection:
    split = _split_name(exec_properties, split_pattern)
    ignored: List[str] = []
    if split_pattern.startswith(sources.SYNTHETIC_PREFIX):
        params = sources.parse_synthetic_pattern(split_pattern)
        seen = params["count"]
        examples = (pipeline
                    | "Indices" >> beam.Create(range(params["count"]))
                    | "Render" >> beam.Map(_synthetic_example, split=params["split"],
                                           seed=params["seed"], size=params["size"]))
        skipped = pipeline | "NoSkips" >> beam.Create([])
    else:
        root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        listing = sources.list_split(os.path.dirname(os.path.join(root, split_pattern)))
        if not listing.images:
            raise sources.DataError(f"split {split}: no image files under "
                                    f"{os.path.join(root, split_pattern)!r}")
        ignored, seen = listing.ignored, len(listing.images)
        results = (pipeline
                   | "Paths" >> beam.Create(listing.images)
                   | "Spread" >> beam.Reshuffle()
                   | "Read" >> beam.ParDo(_ReadImageFile(data_contract.DOMAIN_OF_SPLIT[split],
                                                         root)).with_outputs("skipped",
                                                                             main="examples"))
        examples, skipped = results.examples, results.skipped

    report_path = os.path.join(exec_properties[_REPORT_DIR_KEY], f"{split}.json")
    _ = (pipeline
         | "Report" >> beam.Create([None])
         | "WriteReport" >> beam.Map(
             _write_report_part, path=report_path, split=split, seen=seen,
             written=beam.pvalue.AsSingleton(examples | "Count" >> beam.combiners.Count.Globally()),
             skipped=beam.pvalue.AsList(skipped), ignored=ignored))
    return examples


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads a trainA/trainB/testA/testB folder, or renders the synthetic set."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ImagesToExamples

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        parts_dir = os.path.join(examples.uri, _PARTS_DIR)
        tf.io.gfile.makedirs(parts_dir)
        super().Do(input_dict, output_dict, dict(exec_properties, **{_REPORT_DIR_KEY: parts_dir}))

        report = {}
        for name in sorted(tf.io.gfile.listdir(parts_dir)):
            with tf.io.gfile.GFile(os.path.join(parts_dir, name)) as file:
                part = json.load(file)
            report[part["split"]] = part
        tf.io.gfile.rmtree(parts_dir)
        with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_FILE), "w") as file:
            json.dump(report, file, indent=2)
        examples.set_json_value_custom_property("ingest_report", report)

        logger.info("Ingested images (report: %s):\n%s",
                     os.path.join(examples.uri, REPORT_FILE), format_report(report))
        for part in report.values():
            for item in part["skipped"]:
                logger.warning("Skipped %s: %s", item["path"], item["reason"])
        empty = [split for split, part in report.items() if part["written"] == 0]
        if empty:
            raise sources.DataError(
                f"no usable images in split(s) {empty}: every file was skipped; see "
                f"{os.path.join(examples.uri, REPORT_FILE)}")


def format_report(report: Dict[str, Any]) -> str:
    lines = [f"  {'split':<8}{'seen':>8}{'written':>9}{'skipped':>9}{'ignored':>9}"]
    for split, part in report.items():
        lines.append(f"  {split:<8}{part['seen']:>8}{part['written']:>9}"
                     f"{len(part['skipped']):>9}{len(part['ignored_non_images']):>9}")
    return "\n".join(lines)
