"""Ingestion speed: ExampleGen and Preprocess (real TFX components, LocalDagRunner, Beam
DirectRunner) against a plain single-process TensorFlow decode -> resize -> normalise loop
over the same images, measured in one run.

    python -m benchmarks ingest [--data ../shared/data/horse2zebra] [--load-size 286]

Component times come from ML Metadata (each execution's start and end). Each pipeline runs
twice, on one image per split and on all images; the difference is the work that scales with
the data, and the one-image run is reported as the component's start-up.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from cyclegan import entry
from pipeline import cli

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                            "horse2zebra")


def plain_loop(paths: List[str], load_size: int, crop_size: int) -> float:
    """Images/s of decode -> resize -> normalise, one tf.function call per image."""
    import tensorflow as tf

    from cyclegan import image_ops

    @tf.function
    def prepare(encoded, size):
        return image_ops.to_unit_range(image_ops.preprocess(encoded, size, "bicubic"))

    datas = [(Path(path).read_bytes(), load_size if "/train" in path else crop_size)
             for path in paths]
    for size in {size for _, size in datas}:  # trace outside the timed loop
        prepare(tf.constant(datas[0][0]), size)
    start = time.perf_counter()
    for data, size in datas:
        prepare(tf.constant(data), size).numpy()
    return len(datas) / (time.perf_counter() - start)


def _component_seconds(metadata_path: str) -> Dict[str, float]:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    store = metadata_store.MetadataStore(connection)
    types = {t.id: t.name for t in store.get_execution_types()}
    return {types[e.type_id].split(".")[-1]: (e.last_update_time_since_epoch
                                              - e.create_time_since_epoch) / 1000.0
            for e in store.get_executions()}


def run_components(data: str, work_dir: str, load_size: int, crop_size: int,
                   beam_args: List[str]) -> Tuple[Dict[str, float], str]:
    from tfx import v1 as tfx

    from components.image_example_gen import component as example_gen_component
    from components.preprocess.component import Preprocess

    example_gen = example_gen_component.folder_example_gen(data)
    preprocess = Preprocess(examples=example_gen.outputs["examples"], load_size=load_size,
                            crop_size=crop_size, resize_method="bicubic")
    metadata_path = os.path.join(work_dir, "metadata.sqlite")
    tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="bench", pipeline_root=work_dir, components=[example_gen, preprocess],
        enable_cache=False, beam_pipeline_args=beam_args,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path)))
    return _component_seconds(metadata_path), os.path.join(work_dir, "Preprocess")


def _one_per_split(data: str, into: str) -> str:
    from cyclegan import data_contract

    for split in data_contract.SPLITS:
        os.makedirs(os.path.join(into, split))
        first = sorted(glob.glob(os.path.join(data, split, "*")))[0]
        os.symlink(os.path.abspath(first), os.path.join(into, split, os.path.basename(first)))
    return into


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="a trainA/trainB/testA/testB folder (default: horse2zebra in "
                             "../shared/data)")
    parser.add_argument("--load-size", type=int, default=286)
    parser.add_argument("--crop-size", type=int, default=256)
    parser.add_argument("--beam-arg", dest="beam_args", action="append", default=[])
    args = parser.parse_args(argv)
    entry.prepare_process()
    cli.configure_logging(verbose=False)

    from cyclegan import data_contract, sources

    listings = sources.check_folder(args.data)
    paths = [p for split in data_contract.SPLITS for p in listings[split].images]
    count = len(paths)
    print(f"{count} images from {os.path.abspath(args.data)}; train splits to "
          f"{args.load_size} px, test splits to {args.crop_size} px")

    work = tempfile.mkdtemp(prefix="bench_ingest_")
    try:
        small, _ = run_components(_one_per_split(args.data, os.path.join(work, "small_data")),
                                  os.path.join(work, "small"), args.load_size, args.crop_size,
                                  args.beam_args)
        full, preprocess_dir = run_components(args.data, os.path.join(work, "full"),
                                              args.load_size, args.crop_size, args.beam_args)
        plain = plain_loop(paths, args.load_size, args.crop_size)
        stored = sum(os.path.getsize(p) for p in glob.glob(
            os.path.join(preprocess_dir, "**", "Split-*", "*"), recursive=True))
    finally:
        shutil.rmtree(work)

    rows = []
    for name in ("FolderImageExampleGen", "Preprocess"):
        rate = (count - 4) / max(full[name] - small[name], 1e-9)
        rows.append((name, full[name], small[name], rate, rate / plain))
    print(f"\n{'stage':<24}{'total s':>9}{'start-up s':>12}{'images/s':>10}{'x plain':>9}")
    for name, total, startup, rate, ratio in rows:
        print(f"{name:<24}{total:>9.1f}{startup:>12.1f}{rate:>10.0f}{ratio:>9.2f}")
    print(f"{'plain TF loop':<24}{count / plain:>9.1f}{'':>12}{plain:>10.0f}{1.0:>9.2f}")
    print(f"\npreprocessed bytes on disk per image: {stored / count / 1024:.0f} KiB "
          f"(uint8 pixels)")
