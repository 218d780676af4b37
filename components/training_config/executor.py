"""TrainingConfig executor: compiled config + the run's overlay -> <uri>/training_config.json,
which TFX's Trainer hands to run_fn as `fn_args.hyperparameters`."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from cyclegan import config as config_lib
from cyclegan import logger

FILE = "training_config.json"


def resolve(compiled: str, overlay: str) -> config_lib.Config:
    try:
        values = json.loads(overlay or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"training_config is not JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(
            'training_config takes a JSON object such as {"train": {"epochs": 20}}, '
            f"got {values!r}"
        )
    return config_lib.run_overlay(config_lib.Config.from_dict(json.loads(compiled)), values)


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        config = resolve(exec_properties["compiled"], exec_properties.get("overlay"))
        uri = artifact_utils.get_single_uri(output_dict["hyperparameters"])
        tf.io.gfile.makedirs(uri)
        with tf.io.gfile.GFile(os.path.join(uri, FILE), "w") as file:
            file.write(
                json.dumps(config.to_dict(config_lib.TRAINER_SECTIONS), indent=2, sort_keys=True)
            )
        logger.info("Training config for this run: %s", os.path.join(uri, FILE))
