"""create_pipeline(): the one pipeline definition that every runner compiles.

  ExampleGen (folder, TFDS or synthetic) -> Preprocess (Beam) -> Trainer (run_fn)
    -> Evaluator (against the model serving has now) -> Pusher (blessed models only)
  ExampleGen -> DomainClassifier -> Evaluator (domain scores)

Every node runs as a container on Kubeflow: no Resolver node, which open-source Kubeflow
Pipelines cannot run (the Evaluator reads its baseline from the serving directory).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer
from tfx.utils import json_utils

from components.domain_classifier.component import DomainClassifier
from components.evaluator.component import Evaluator
from components.preprocess.component import Preprocess
from components.pusher import executor as pusher_executor
from components.trainer import run_fn
from cyclegan import data_contract
from cyclegan.config import Config
from pipeline.data_source import DataSource

RUN_FN = "components.trainer.run_fn.run_fn"  # dotted path: nothing uploaded at compile time


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data: DataSource,
    config: Config,
    serving_base_dir: str,
    inception_weights: Optional[str] = None,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[List[str]] = None,
    platform_configs: Optional[Dict[str, Any]] = None,
    runtime_parameters: bool = False,
    vertex_training: Optional[Dict[str, Any]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline.

    data: where the images come from (data_source.parse(--data)).
    serving_base_dir: the Pusher writes <serving_base_dir>/<numeric version>/, the layout
      TF Serving polls (point --model_base_path at serving_base_dir).
    inception_weights: InceptionV3 weights (.h5) for FID and KID; skipped without them.
    platform_configs: per component id (ExampleGen ids as built here, "Preprocess",
      "DomainClassifier", "Trainer", "Evaluator", "Pusher"), e.g. a KFP ResourceSpec with
      CPU, memory, GPUs.
    runtime_parameters: expose per-run knobs as TFX RuntimeParameters (Kubeflow): the data
      folder ("data_root") and the training config JSON ("training_config", e.g. epochs).
    vertex_training: {"project", "region", "worker_pool_specs"} to run the Trainer as a
      Vertex AI training job, e.g. several workers (MultiWorkerMirroredStrategy via TF_CONFIG).
    """
    example_gen = data.example_gen(config, runtime_parameters)

    preprocess = Preprocess(
        examples=example_gen.outputs["examples"],
        load_size=config.load_size,
        crop_size=config.crop_size,
        resize_method=config.resize_method,
    )
    for data_step in (example_gen, preprocess):  # the Beam steps; the rest never see them
        data_step.with_beam_pipeline_args(list(beam_pipeline_args or []))

    trainer_config = run_fn.custom_config(config, pipeline_root)
    trainer_class = tfx.components.Trainer
    if vertex_training:
        trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
        trainer_config.update(vertex_trainer_config(**vertex_training))
    trainer = trainer_class(
        run_fn=RUN_FN,
        examples=preprocess.outputs["preprocessed"],
        train_args=tfx.proto.TrainArgs(splits=list(data_contract.TRAIN_SPLITS)),
        eval_args=tfx.proto.EvalArgs(splits=list(data_contract.TEST_SPLITS)),
        custom_config=tfx.dsl.experimental.RuntimeParameter(
            name="training_config", ptype=str, default=json_utils.dumps(trainer_config)
        )
        if runtime_parameters
        else trainer_config,
    )

    # Judges the translations; trained on the data alone, so TFX's cache keeps it while only
    # the CycleGAN's config changes.
    classifier = DomainClassifier(examples=example_gen.outputs["examples"], config=config)

    evaluator = Evaluator(
        model=trainer.outputs["model"],
        examples=preprocess.outputs["preprocessed"],
        config=config,
        serving_base_dir=serving_base_dir,
        inception_weights=inception_weights,
        domain_classifier=classifier.outputs["model"],
    )

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_base_dir)
        ),
        custom_executor_spec=executor_spec.ExecutorClassSpec(pusher_executor.Executor),
    )

    components = [example_gen, preprocess, classifier, trainer, evaluator, pusher]
    unknown = set(platform_configs or {}) - {c.id for c in components}
    if unknown:
        raise ValueError(
            f"no components {sorted(unknown)}; the pipeline has {sorted(c.id for c in components)}"
        )
    for component in components:
        if component.id in (platform_configs or {}):
            component.with_platform_config(platform_configs[component.id])

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=components,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
    )


def vertex_trainer_config(
    project: str, region: str, worker_pool_specs: List[Dict[str, Any]]
) -> Dict[str, Any]:
    """The custom_config keys TFX's Vertex Trainer reads to start a training job."""
    return {
        vertex_constants.ENABLE_VERTEX_KEY: True,
        vertex_constants.VERTEX_REGION_KEY: region,
        vertex_trainer.TRAINING_ARGS_KEY: {
            "project": project,
            "worker_pool_specs": worker_pool_specs,
        },
    }
