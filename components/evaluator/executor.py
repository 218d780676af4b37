"""Evaluator executor: artifacts in, the core's judge() (cyclegan/evaluation.py), then
metrics.json, the blessing and their artifact properties out."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from cyclegan import data_contract, logger, metrics
from cyclegan import evaluation as evaluation_lib
from cyclegan.config import EvaluationConfig

BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"  # marker files, as TFX's validators write


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(input_dict["model"])
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        evaluation = artifact_utils.get_single_instance(output_dict["evaluation"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        classifier = (input_dict.get("domain_classifier") or [None])[0]

        judgement = evaluation_lib.judge(
            path_utils.serving_model_path(model.uri),
            tuple(data_contract.split_files(examples.uri, s) for s in data_contract.TEST_SPLITS),
            exec_properties["serving_base_dir"],
            EvaluationConfig(
                **{f.name: exec_properties[f.name] for f in dataclasses.fields(EvaluationConfig)}
            ),
            exec_properties.get("inception_weights"),
            evaluation_lib.Classifier(path_utils.serving_model_path(classifier.uri), classifier.uri)
            if classifier
            else None,
        )

        failures = judgement.failed_checks
        evaluation_lib.write_rows(
            judgement.rows, os.path.join(evaluation.uri, evaluation_lib.ROWS_DIR)
        )
        metrics_path = os.path.join(evaluation.uri, evaluation_lib.METRICS_FILE)
        io_utils.write_string_file(metrics_path, json.dumps(judgement.report(), indent=2))
        evaluation.set_json_value_custom_property("metrics", judgement.metrics)
        if judgement.domain_classifier:
            evaluation.set_json_value_custom_property(
                "domain_classifier", judgement.domain_classifier
            )
        blessing.set_int_custom_property("blessed", int(judgement.blessed))
        blessing.set_json_value_custom_property("metrics", judgement.metrics)  # for the Pusher
        blessing.set_int_custom_property("current_model_id", model.id)
        blessing.set_string_custom_property("current_model", model.uri)
        blessing.set_string_custom_property("failed_checks", "; ".join(failures))
        if judgement.baseline:
            blessing.set_string_custom_property("baseline_model", judgement.baseline.path)
        io_utils.write_string_file(
            os.path.join(blessing.uri, BLESSED if judgement.blessed else NOT_BLESSED), ""
        )
        logger.info(
            "Evaluation on the test splits (%s):\n%s",
            metrics_path,
            metrics.format_table(judgement.metrics, judgement.baseline_metrics),
        )
        if failures:
            logger.warning("Model NOT blessed, it will not be pushed: %s", "; ".join(failures))
        else:
            logger.info("Model blessed.")
