"""create_pipeline(): the one pipeline definition that every runner compiles.

  ExampleGen (folder, TFDS or synthetic) -> Preprocess (Beam) -> Trainer (run_fn)
    -> Evaluator (against the model serving has now) -> Pusher (blessed models only)
    -> Report (an HTML page and the scalar metrics, as KFP renders them)
  TrainingConfig (the Trainer's config sections + the run's overlay) -> Trainer
  ExampleGen -> DomainClassifier -> Evaluator (domain scores)

Every node runs as a container on Kubeflow: no Resolver node, which open-source Kubeflow
Pipelines cannot run (the Evaluator reads its baseline from the serving directory).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, NamedTuple, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.extensions.google_cloud_ai_platform import constants as vertex_constants
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer

from components.domain_classifier.component import DomainClassifier
from components.evaluator.component import Evaluator
from components.preprocess.component import Preprocess
from components.pusher import executor as pusher_executor
from components.report.component import Report
from components.trainer import run_fn
from components.training_config.component import TrainingConfig
from cyclegan import data_contract
from cyclegan.config import Config, DataConfig
from pipeline.data_source import DataSource

RUN_FN = "components.trainer.run_fn.run_fn"  # dotted path: nothing uploaded at compile time


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data: DataSource,
    config: Config,
    serving_base_dir: str,
    model_name: str = "cyclegan",
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
      TF Serving polls, and models.config there, with the versions' labels: serve it with
      --model_config_file=<serving_base_dir>/models.config.
    model_name: the name TF Serving serves the model under (in models.config).
    inception_weights: InceptionV3 weights (.h5) for FID and KID; skipped without them.
    platform_configs: per component id (ExampleGen ids as built here, "Preprocess",
      "DomainClassifier", "TrainingConfig", "Trainer", "Evaluator", "Pusher", "Report"), e.g. a KFP
      ResourceSpec with
      CPU, memory, GPUs.
    runtime_parameters: expose per-run knobs as TFX RuntimeParameters (Kubeflow): the data
      folder ("data_root") and a JSON overlay of the Trainer's config sections
      ("training_config", e.g. {"train": {"epochs": 20}}).
    vertex_training: {"project", "region", "worker_pool_specs"} to run the Trainer as a
      Vertex AI training job, e.g. several workers (MultiWorkerMirroredStrategy via TF_CONFIG).
    """
    example_gen, preprocess, classifier = data_steps(data, config, runtime_parameters)
    for data_step in (example_gen, preprocess):  # the Beam steps; the rest never see them
        data_step.with_beam_pipeline_args(list(beam_pipeline_args or []))

    # The Trainer's config sections, with the run's `training_config` overlay on Kubeflow.
    training_config = TrainingConfig(
        compiled=json.dumps(run_fn.hyperparameters(config), sort_keys=True),
        overlay=tfx.dsl.experimental.RuntimeParameter(
            name="training_config", ptype=str, default="{}"
        )
        if runtime_parameters
        else "{}",
    )
    trainer_config = run_fn.custom_config(pipeline_root)
    trainer_class = tfx.components.Trainer
    if vertex_training:
        trainer_class = tfx.extensions.google_cloud_ai_platform.Trainer
        trainer_config.update(vertex_trainer_config(**vertex_training))
    trainer = trainer_class(
        run_fn=RUN_FN,
        examples=preprocess.outputs["preprocessed"],
        train_args=tfx.proto.TrainArgs(splits=list(data_contract.TRAIN_SPLITS)),
        eval_args=tfx.proto.EvalArgs(splits=list(data_contract.TEST_SPLITS)),
        hyperparameters=training_config.outputs["hyperparameters"],
        custom_config=trainer_config,
    )

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
        custom_config=pusher_executor.custom_config(config.serving, model_name),
    )

    report = Report(
        evaluation=evaluator.outputs["evaluation"],
        pushed_model=pusher.outputs["pushed_model"],
        model_run=trainer.outputs["model_run"],
        domain_classifier=classifier.outputs["model"],
        examples=example_gen.outputs["examples"],
    )

    components = [
        example_gen,
        preprocess,
        classifier,
        training_config,
        trainer,
        evaluator,
        pusher,
        report,
    ]
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


class DataSteps(NamedTuple):
    example_gen: Any
    preprocess: Preprocess
    classifier: DomainClassifier


def preprocess_step(examples, data: DataConfig) -> Preprocess:
    return Preprocess(
        examples=examples,
        load_size=data.load_size,
        crop_size=data.crop_size,
        resize_method=data.resize_method,
    )


def data_steps(data: DataSource, config: Config, runtime_parameters: bool = False) -> DataSteps:
    """ExampleGen, Preprocess and the DomainClassifier, as the pipeline builds them (the
    benchmarks run them too). The classifier judges the translations; trained on the data
    alone, TFX's cache keeps it while only the CycleGAN's config changes."""
    example_gen = data.example_gen(config, runtime_parameters)
    examples = example_gen.outputs["examples"]
    return DataSteps(
        example_gen,
        preprocess_step(examples, config.data),
        DomainClassifier(examples=examples, config=config),
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
