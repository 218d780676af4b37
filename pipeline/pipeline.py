"""create_pipeline(): the one pipeline definition that every runner compiles.

  ExampleGen (folder, TFDS or synthetic) -> Preprocess (Beam) -> Trainer (run_fn)
    -> Evaluator (against the last blessed model) -> Pusher (blessed models only)
"""

from __future__ import annotations

from typing import List, Optional

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components import data_contract
from components.evaluator.component import Evaluator
from components.image_example_gen import component as example_gen_component
from components.preprocess.component import Preprocess
from components.pusher import executor as pusher_executor
from components.trainer import run_fn
from pipeline.config import Config

SYNTHETIC = "synthetic"
TFDS = "tfds:"
RUN_FN = "components.trainer.run_fn.run_fn"  # dotted path: nothing uploaded at compile time


def create_pipeline(
    *,
    pipeline_name: str,
    pipeline_root: str,
    data: str,
    config: Config,
    serving_base_dir: str,
    tfds_data_dir: Optional[str] = None,
    inception_weights: Optional[str] = None,
    metadata_connection_config=None,
    beam_pipeline_args: Optional[List[str]] = None,
    trainer_platform_config=None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline.

    data: "synthetic" for the built-in set; "tfds:NAME" for a TFDS dataset with trainA/
      trainB/testA/testB splits (cycle_gan/*), read from tfds_data_dir (TFDS's default when
      None); or a folder (local or bucket path) holding trainA/ trainB/ testA/ testB/.
    serving_base_dir: the Pusher writes <serving_base_dir>/<numeric version>/, the layout
      TF Serving polls (point --model_base_path at serving_base_dir).
    inception_weights: InceptionV3 weights (.h5) for FID; FID is skipped without them.
    trainer_platform_config: e.g. a KFP ResourceSpec asking for GPUs.
    """
    if data == SYNTHETIC:
        example_gen = example_gen_component.synthetic_example_gen(
            seed=config.seed, train_count=config.synthetic_train_per_domain,
            test_count=config.synthetic_test_per_domain, size=config.synthetic_image_size)
    elif data.startswith(TFDS):
        example_gen = example_gen_component.tfds_example_gen(data[len(TFDS):], tfds_data_dir)
    else:
        example_gen = example_gen_component.folder_example_gen(data)

    preprocess = Preprocess(examples=example_gen.outputs["examples"],
                            load_size=config.load_size, crop_size=config.crop_size,
                            resize_method=config.resize_method)

    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=preprocess.outputs["preprocessed"],
        train_args=tfx.proto.TrainArgs(splits=list(data_contract.TRAIN_SPLITS)),
        eval_args=tfx.proto.EvalArgs(splits=list(data_contract.TEST_SPLITS)),
        custom_config=run_fn.custom_config(config, pipeline_root))
    if trainer_platform_config is not None:
        trainer.with_platform_config(trainer_platform_config)

    # The last blessed model, if any: the Evaluator's baseline.
    baseline = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")

    evaluator = Evaluator(model=trainer.outputs["model"],
                          examples=preprocess.outputs["preprocessed"], config=config,
                          baseline_model=baseline.outputs["model"],
                          inception_weights=inception_weights)

    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_base_dir)),
        custom_executor_spec=executor_spec.ExecutorClassSpec(pusher_executor.Executor))

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[example_gen, preprocess, trainer, baseline, evaluator, pusher],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
