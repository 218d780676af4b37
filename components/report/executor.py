"""Report executor: the artifacts' files in, cyclegan.report.build_html() out, as the HTML
artifact's file (and `report.html` beside it, for a browser), and the
Evaluator's finite scalar metrics as float properties of the Metrics artifact."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from cyclegan import data_contract, domain_classifier, logger
from cyclegan import evaluation as evaluation_lib
from cyclegan import report as report_lib

REPORT_FILE = "report.html"


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as file:
        return json.load(file)


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(input_dict["evaluation"])
        pushed = artifact_utils.get_single_instance(input_dict["pushed_model"])
        model_run = artifact_utils.get_single_instance(input_dict["model_run"])
        classifier = (input_dict.get("domain_classifier") or [None])[0]
        examples = (input_dict.get("examples") or [None])[0]
        page = artifact_utils.get_single_instance(output_dict["report"])
        scalars = artifact_utils.get_single_instance(output_dict["metrics"])

        judged = _read_json(os.path.join(evaluation.uri, evaluation_lib.METRICS_FILE))
        was_pushed = pushed.has_custom_property("pushed") and bool(
            pushed.get_int_custom_property("pushed")
        )
        text = report_lib.build_html(
            report_lib.ReportInputs(
                evaluation=judged,
                rows_dir=os.path.join(evaluation.uri, evaluation_lib.ROWS_DIR),
                tensorboard_dir=os.path.join(model_run.uri, "logs"),
                classifier=_read_json(os.path.join(classifier.uri, domain_classifier.REPORT_FILE))
                if classifier
                else None,
                ingest=_read_json(os.path.join(examples.uri, data_contract.INGEST_REPORT_FILE))
                if examples
                else None,
                pushed_version=pushed.get_string_custom_property("pushed_version")
                if was_pushed
                else None,
                pushed_to=pushed.get_string_custom_property("pushed_destination")
                if was_pushed
                else None,
            )
        )
        tf.io.gfile.makedirs(os.path.dirname(page.uri))  # kfp.local does not make it
        page.write(text)  # the artifact's URI is the page (what the KFP UI shows)
        # A copy named as a page, which a browser opens as one (it takes a symbolic link's
        # target's name for the type: `value` shows as text).
        path = os.path.join(os.path.dirname(page.uri), REPORT_FILE)
        with tf.io.gfile.GFile(path, "w") as file:
            file.write(text)
        for name, value in sorted(judged["metrics"].items()):
            if math.isfinite(value):
                scalars.set_float_custom_property(name, value)
        scalars.set_float_custom_property("blessed", float(judged["blessed"]))
        logger.info("Run report: %s", path)
