"""Compiles the CycleGAN pipeline for open-source Kubeflow Pipelines 2.x (--target kfp, the
default) or Vertex AI Pipelines (--target vertex), and with --endpoint also uploads it to a
KFP API and starts a run.

    python kubeflow_runner.py --image REGISTRY/cyclegan-tfx:TAG \\
        --gpu-image REGISTRY/cyclegan-tfx-gpu:TAG \\
        --pipeline-root gs://BUCKET/cyclegan --data gs://BUCKET/horse2zebra \\
        --gpu-type nvidia.com/gpu --gpu-count 1 --cpu Preprocess=4 --memory Trainer=32G

Writes <output>.json (a PipelineJob, what Vertex AI takes) and <output>.yaml (the pipeline
spec, what KFP takes). User code is referenced by dotted path and runs from the images (see
Dockerfile: the Trainer runs in the GPU image, every other step in the CPU image); nothing is
uploaded at compile time. What the target cannot run is refused before compiling, with the
alternative.
"""

from __future__ import annotations

import argparse
import os
import sys

import components
from cyclegan import entry, logger
from cyclegan.entry import UsageError
from pipeline import cli, kubeflow_spec, kubeflow_targets


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compile the CycleGAN TFX pipeline for Kubeflow Pipelines v2 / Vertex AI "
        "Pipelines; with --endpoint, also upload it and start a run.",
        formatter_class=entry.HelpFormatter,
    )
    cli.add_common_flags(parser, default_data="synthetic")
    parser.add_argument(
        "--target",
        choices=kubeflow_targets.TARGETS,
        default=kubeflow_targets.KFP,
        help="where the spec runs: 'kfp' is open-source Kubeflow Pipelines 2.x "
        "(container executors only); 'vertex' is Vertex AI Pipelines, "
        "which also runs the Trainer on several workers (--workers)",
    )
    parser.add_argument(
        "--image",
        required=True,
        help="the CPU container image with this package installed (`make image` builds it); "
        "every step but the Trainer runs in it, and the Trainer too without --gpu-image",
    )
    parser.add_argument(
        "--gpu-image",
        default=None,
        help="the Trainer's image: the CPU image plus the CUDA libraries (`make image` "
        "builds both); needed with --gpu-type",
    )
    parser.add_argument(
        "--pipeline-root",
        required=True,
        help="where the cluster writes artifacts, e.g. gs://BUCKET/cyclegan",
    )
    parser.add_argument(
        "--serving-dir",
        default=None,
        help="TF Serving base path; the Pusher writes <serving-dir>/<version>/ "
        "(default: <pipeline-root>/serving/<model name>)",
    )
    parser.add_argument(
        "--gpu-type",
        default=None,
        help="accelerator for the Trainer: the Kubernetes resource name on "
        "kfp (nvidia.com/gpu), the accelerator type on vertex "
        "(NVIDIA_TESLA_T4); none by default",
    )
    parser.add_argument(
        "--gpu-count",
        type=int,
        default=1,
        help="accelerators per Trainer pod, all used by MirroredStrategy (with "
        "--gpu-type); the global batch_size must split over them",
    )
    parser.add_argument(
        "--cpu",
        action="append",
        default=[],
        metavar="COMPONENT=CPUS",
        help="CPU request (and limit) for a component, e.g. Preprocess=4; "
        f"components: {', '.join(kubeflow_spec.RESOURCE_COMPONENTS)}; "
        "repeatable",
    )
    parser.add_argument(
        "--memory",
        action="append",
        default=[],
        metavar="COMPONENT=SIZE",
        help="memory request (and limit) for a component, e.g. Trainer=32G; repeatable",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Trainer machines; more than 1 runs the Trainer as a Vertex AI "
        "training job with MultiWorkerMirroredStrategy (--target vertex "
        "only; needs --vertex-project, --vertex-region)",
    )
    parser.add_argument("--vertex-project", default=None, help="GCP project for --workers > 1")
    parser.add_argument("--vertex-region", default=None, help="GCP region for --workers > 1")
    parser.add_argument(
        "--machine-type",
        default="n1-standard-8",
        help="machine type of each Vertex training replica",
    )
    parser.add_argument(
        "--output-file",
        default="cyclegan.pipeline.json",
        help="where to write the PipelineJob JSON; the KFP spec goes beside it with a .yaml suffix",
    )
    parser.add_argument(
        "--endpoint",
        default=None,
        help="KFP API endpoint, e.g. http://localhost:8080 after "
        "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`; "
        "without it the pipeline is only compiled",
    )
    parser.add_argument("--namespace", default=None, help="KFP namespace (multi-user mode)")
    parser.add_argument("--experiment", default="cyclegan", help="KFP experiment for the run")
    parser.add_argument("--run-name", default=None, help="name of the KFP run")
    return parser.parse_args(argv)


@cli.reports_errors
def main(argv=None) -> int:
    entry.require_stack("kubeflow_runner.py", argv)  # before anything imports TensorFlow
    args = parse_args(argv)
    config = cli.start(args)
    problems = kubeflow_targets.flag_problems(
        args.target,
        workers=args.workers,
        gpu_type=args.gpu_type,
        gpu_image=args.gpu_image,
        gpu_count=args.gpu_count,
        batch_size=config.train.batch_size,
        vertex_flags=bool(args.vertex_project or args.vertex_region),
        endpoint=args.endpoint,
    )
    if problems:
        raise UsageError("\nerror: ".join(problems))
    output_dir, output_name = os.path.split(os.path.abspath(args.output_file))
    cli.check_output_dir(output_dir)

    from tfx import v1 as tfx

    from pipeline import data_source
    from pipeline.pipeline import create_pipeline

    data = data_source.parse(args.data, args.tfds_data_dir, local=False)
    serving_dir = args.serving_dir or os.path.join(args.pipeline_root, "serving", args.model_name)
    resources = kubeflow_spec.resource_specs(
        args.cpu, args.memory, args.gpu_type, args.gpu_count, args.workers, data.example_gen_id
    )
    images = kubeflow_targets.step_images(args.image, args.gpu_image)
    pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=args.pipeline_root,
        data=data,
        config=config,
        serving_base_dir=serving_dir,
        model_name=args.model_name,
        inception_weights=args.inception_weights,
        beam_pipeline_args=args.beam_args,
        platform_configs=resources,
        runtime_parameters=True,
        vertex_training=kubeflow_spec.vertex_training(
            args.workers,
            args.vertex_project,
            args.vertex_region,
            args.machine_type,
            args.gpu_type,
            args.gpu_count,
            images[kubeflow_targets.TRAINER],
        ),
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=dict(images), use_pipeline_spec_2_1=True
        ),
        output_dir=output_dir,
        output_filename=output_name,
    )
    runner.run(pipeline, write_out=True)
    job_path = os.path.join(output_dir, output_name)
    spec_path, spec = kubeflow_spec.write_specs(
        job_path, resources, kubeflow_spec.runtime_defaults(pipeline)
    )
    problems = kubeflow_targets.spec_problems(
        spec,
        args.target,
        images,
        forbidden_paths=[
            os.path.dirname(os.path.abspath(module.__file__)) for module in (components, cli)
        ],
    )
    if problems:
        raise UsageError(
            f"the compiled spec cannot run on {args.target}:\n  " + "\n  ".join(problems)
        )
    logger.info(
        "Wrote %s (Vertex AI PipelineJob) and %s (KFP pipeline spec) for %s: image %s, "
        "Trainer image %s, preset %s, pushes to %s",
        job_path,
        spec_path,
        args.target,
        args.image,
        images[kubeflow_targets.TRAINER],
        args.preset,
        serving_dir,
    )

    if args.endpoint:
        import kfp

        client = kfp.Client(host=args.endpoint, namespace=args.namespace)
        run = client.create_run_from_pipeline_package(
            spec_path,
            arguments={},
            run_name=args.run_name,
            experiment_name=args.experiment,
            namespace=args.namespace,
            pipeline_root=args.pipeline_root,
        )
        logger.info(
            "Started run %s in experiment %r at %s", run.run_id, args.experiment, args.endpoint
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
