"""Runs the CycleGAN pipeline on this machine: LocalDagRunner, Beam DirectRunner, SQLite MLMD.

python local_runner.py                        # built-in synthetic data, demo preset
python local_runner.py --data path/to/horse2zebra --preset tutorial
python local_runner.py --data tfds:cycle_gan/horse2zebra
"""

from __future__ import annotations

import argparse
import os
import sys

from cyclegan import config as config_lib
from cyclegan import entry, logger
from cyclegan.entry import UsageError
from pipeline import cli

DEFAULT_OUTPUT_DIR = "runs/local"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train CycleGAN with a TFX pipeline on this machine and push a SavedModel\n"
        "that TF Serving can load. Steps: ExampleGen -> Preprocess (Beam) ->\n"
        "Trainer -> Evaluator -> Pusher (blessed models only). Re-running with\n"
        "the same inputs reuses cached steps.",
        formatter_class=entry.HelpFormatter,
    )
    cli.add_common_flags(parser, default_data="synthetic")
    parser.add_argument(
        "--output-dir",
        default=DEFAULT_OUTPUT_DIR,
        help="everything the run writes goes under this folder: tfx/ (artifacts), "
        "metadata.sqlite (ML Metadata), serving/<model name>/<version>/ (pushed models)",
    )
    parser.add_argument(
        "--cpu-replicas",
        type=int,
        default=1,
        help="split the CPU into this many logical devices, so MirroredStrategy trains with "
        "that many replicas without GPUs (GPUs, when present, are used instead)",
    )
    return parser.parse_args(argv)


@cli.reports_errors
def main(argv=None) -> int:
    entry.require_stack("local_runner.py", argv)  # before anything imports TensorFlow
    args = parse_args(argv)
    config = cli.start(args)

    problem = config_lib.batch_split_problem(
        config.train.batch_size, args.cpu_replicas, f"--cpu-replicas {args.cpu_replicas}"
    )
    if problem:
        raise UsageError(problem)

    import tensorflow as tf  # after prepare_process()

    if args.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_replicas
        )
    from cyclegan import distribute

    logger.info(distribute.visible_devices_line(args.cpu_replicas))

    from tfx import v1 as tfx

    from pipeline import data_source, outputs
    from pipeline.pipeline import create_pipeline

    data = data_source.parse(args.data, args.tfds_data_dir)
    logger.info("Data: %s", data.check())  # fails fast, before any pipeline work
    output_dir = os.path.abspath(args.output_dir)
    cli.check_output_dir(output_dir)
    init_from = config.train.init_from
    if init_from and not tf.io.gfile.exists(init_from):
        raise UsageError(f"train.init_from {init_from}: no such model or checkpoint")
    serving_base_dir = os.path.join(output_dir, "serving", args.model_name)
    metadata_path = os.path.join(output_dir, "metadata.sqlite")
    logger.info(
        "Preset %r, resolved config (* = differs from the tutorial's recipe):\n%s",
        args.preset,
        config.describe(),
    )

    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=os.path.join(output_dir, "tfx"),
        data=data,
        config=config,
        serving_base_dir=serving_base_dir,
        model_name=args.model_name,
        inception_weights=args.inception_weights,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path
        ),
        beam_pipeline_args=args.beam_args,
    )
    logger.info("Running pipeline %r; outputs under %s", args.pipeline_name, output_dir)
    tfx.orchestration.LocalDagRunner().run(pipeline)

    result = outputs.latest_outputs(metadata_path, args.pipeline_name)
    if result.pushed_model:
        pushed = (
            f"  pushed model:       {result.pushed_model}\n"
            f"  serve it with TF Serving: tensorflow_model_server "
            f"--model_config_file={os.path.join(serving_base_dir, 'models.config')} "
            f"--model_config_file_poll_wait_seconds=30 "
            f"--allow_version_labels_for_unavailable_models\n"
            f"  versions, rollback: cyclegan-serving --base {serving_base_dir} list"
        )
    else:
        pushed = f"  NOT PUSHED: the model was not blessed: {result.failed_checks}"
    print(
        f"\nDone. Outputs of pipeline {args.pipeline_name!r}:\n"
        f"  ingest report:      {result.ingest_report}\n"
        f"  TensorBoard:        tensorboard --logdir {result.tensorboard_dir}\n"
        f"  translations (PNG): {result.translations_png}\n"
        f"  evaluation:         {result.evaluation}\n"
        f"  run report (HTML):  {result.report}\n{pushed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
