"""The shard plumbing both Beam executors share (ExampleGen and Preprocess): one Beam element
per shard, one output file per shard written under a temporary name, and a per-split summary
of what the shards did, handed back to the executor after the pipeline ran.

Writing shard by shard keeps memory flat, runs shards in parallel and makes the output
deterministic; the temporary name means a retried bundle never leaves half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import apache_beam as beam
import tensorflow as tf

SUMMARY_DIR = ".shard-summaries"  # under the output artifact, removed once read


@contextlib.contextmanager
def shard_writer(
    path: str, options: Optional[tf.io.TFRecordOptions] = None
) -> Iterator[tf.io.TFRecordWriter]:
    """A TFRecord writer for `path` that puts the file there only once it is complete."""
    with tf.io.TFRecordWriter(path + ".tmp", options=options) as writer:
        yield writer
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def run_per_split(
    make_pipeline: Callable[[], beam.Pipeline],
    output_uri: str,
    shards: Dict[str, Sequence[Any]],
    shard_fn: Callable[[str], beam.DoFn],
    summarize: Callable[[str, List[Any]], Any],
) -> Dict[str, Any]:
    """Runs shard_fn(split) over each split's shards in one Beam pipeline; returns, per split,
    summarize(split, [what each shard's DoFn yielded]) (JSON-serialisable)."""
    summary_dir = os.path.join(output_uri, SUMMARY_DIR)
    tf.io.gfile.makedirs(summary_dir)
    with make_pipeline() as pipeline:
        for split, items in shards.items():
            _ = (
                pipeline
                | f"Shards[{split}]" >> beam.Create(list(items))
                | f"Process[{split}]" >> beam.ParDo(shard_fn(split))
                | f"Collect[{split}]" >> beam.combiners.ToList()
                | f"Summarize[{split}]"
                >> beam.Map(_write_summary, summarize, split, os.path.join(summary_dir, split))
            )
    summaries = {}
    for split in shards:
        with tf.io.gfile.GFile(os.path.join(summary_dir, split)) as file:
            summaries[split] = json.load(file)
    tf.io.gfile.rmtree(summary_dir)
    return summaries


def _write_summary(results: List[Any], summarize, split: str, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as file:
        json.dump(summarize(split, results), file)
