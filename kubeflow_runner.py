"""Compiles the CycleGAN pipeline for Kubeflow Pipelines (KFP v2 / Vertex AI Pipelines).

    python kubeflow_runner.py --image REGISTRY/cyclegan-tfx:TAG \\
        --pipeline-root gs://BUCKET/cyclegan --data gs://BUCKET/horse2zebra \\
        --gpu-type NVIDIA_TESLA_T4 --gpu-count 1

Writes a pipeline spec (JSON) to upload to KFP or Vertex. User code is referenced by dotted
path and runs from the image (see Dockerfile); nothing is uploaded at compile time.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline import cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compile the CycleGAN TFX pipeline into a Kubeflow Pipelines v2 spec.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cli.add_common_flags(parser, default_data="synthetic")
    parser.add_argument("--image", required=True,
                        help="container image with this package installed (build it with "
                             "`make image`); every component runs in it")
    parser.add_argument("--pipeline-root", required=True,
                        help="where the cluster writes artifacts, e.g. gs://BUCKET/cyclegan")
    parser.add_argument("--serving-dir", default=None,
                        help="TF Serving base path; the Pusher writes <serving-dir>/<version>/ "
                             "(default: <pipeline-root>/serving/<model name>)")
    parser.add_argument("--gpu-type", default=None,
                        help="accelerator type for the Trainer, e.g. NVIDIA_TESLA_T4 or "
                             "nvidia.com/gpu (as your cluster names it); none by default")
    parser.add_argument("--gpu-count", type=int, default=1,
                        help="accelerators for the Trainer (with --gpu-type)")
    parser.add_argument("--output-file", default="cyclegan.pipeline.json",
                        help="where to write the compiled pipeline spec")
    return parser.parse_args(argv)


def trainer_resources(gpu_type: str | None, gpu_count: int):
    """A KFP ResourceSpec asking for the Trainer's accelerators, or None for CPU only."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    if not gpu_type:
        return None
    if gpu_count < 1:
        raise SystemExit(f"error: --gpu-count must be >= 1 with --gpu-type, got {gpu_count}")
    resources = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    resources.accelerator.type = gpu_type
    resources.accelerator.count = gpu_count
    resources.accelerator.resource_type = gpu_type
    resources.accelerator.resource_count = str(gpu_count)
    return resources


def main(argv=None) -> int:
    args = parse_args(argv)
    cli.prepare_process()
    log = cli.configure_logging(args.verbose)
    config = cli.resolve_config(args)

    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    serving_dir = args.serving_dir or os.path.join(args.pipeline_root, "serving",
                                                   args.model_name)
    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=args.pipeline_root,
        data=args.data,
        config=config,
        serving_base_dir=serving_dir,
        tfds_data_dir=args.tfds_data_dir,
        inception_weights=args.inception_weights,
        beam_pipeline_args=args.beam_args,
        trainer_platform_config=trainer_resources(args.gpu_type, args.gpu_count),
    )
    output_dir, output_name = os.path.split(os.path.abspath(args.output_file))
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_dir=output_dir, output_filename=output_name)
    runner.run(pipeline, write_out=True)
    log.info("Wrote the pipeline spec to %s (image %s, preset %s, pushes to %s)",
             os.path.join(output_dir, output_name), args.image, args.preset, serving_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
