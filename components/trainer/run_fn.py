"""The TFX Trainer's run_fn: thin glue between TFX's FnArgs and the CycleGAN core.

Referenced by dotted path (`components.trainer.run_fn.run_fn`), so Kubeflow runs it from
the installed package and nothing is uploaded at compile time.
"""

from __future__ import annotations

import os

from tfx.components.trainer.fn_args_utils import FnArgs

from cyclegan import checkpoints, distribute, export, logger, train
from cyclegan.config import TRAINER_SECTIONS, Config

CHECKPOINT_ROOT_KEY = "checkpoint_root"


def custom_config(pipeline_root: str) -> dict:
    """What the pipeline passes to the Trainer's custom_config."""
    return {CHECKPOINT_ROOT_KEY: os.path.join(pipeline_root, "checkpoints")}


def hyperparameters(config: Config) -> dict:
    """The config sections the Trainer reads and nothing else, as it receives them (from the
    TrainingConfig step, as `fn_args.hyperparameters`): TFX re-runs it only when they change."""
    return config.to_dict(TRAINER_SECTIONS)


def run_fn(fn_args: FnArgs) -> None:
    config = Config.from_dict(fn_args.hyperparameters)
    logger.info(distribute.visible_devices_line())
    logger.info("CycleGAN config (* = differs from the tutorial's recipe):\n%s", config.describe())
    # The pipeline sets train splits (trainA, trainB) and eval splits (testA, testB), in the
    # contract's order; FnArgs keeps that order.
    train_a, train_b = fn_args.train_files
    test_a, test_b = fn_args.eval_files
    model = train.fit(
        config,
        train_a,
        train_b,
        test_a,
        test_b,
        run_dir=fn_args.model_run_dir,
        checkpoint_dir=checkpoints.checkpoint_dir(
            fn_args.custom_config[CHECKPOINT_ROOT_KEY], config, [train_a, train_b]
        ),
    )
    chief, role = distribute.worker_role()
    # Under MultiWorkerMirroredStrategy every worker must save; only the chief's is served.
    export_dir = (
        fn_args.serving_model_dir
        if chief
        else os.path.join(fn_args.model_run_dir, "worker-exports", role)
    )
    export.export_generators(
        model.g_ab,
        model.g_ba,
        config,
        export_dir,
        export.warmup_images_from(test_a, test_b, config),
    )
    logger.info("Exported the serving SavedModel to %s", export_dir)
