"""Evaluator executor: loads the exported SavedModel (its float signatures: what is served),
computes metrics on the preprocessed test splits, compares with the baseline, blesses.

The baseline is the model serving has now: the newest version under the serving directory.
Read from the directory rather than resolved from ML Metadata, it needs no Resolver node
(which open-source Kubeflow Pipelines cannot run) and is the same on every orchestrator.

With a DomainClassifier's model it adds the domain scores; they count for blessing only when
the classifier's accuracy on the real test images of each domain reaches
domain_classifier_min_accuracy."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.domain_classifier import executor as domain_classifier_executor
from cyclegan import (
    data_contract,
    domain_classifier,
    input_pipeline,
    logger,
    metrics,
    serving_contract,
    serving_dir,
)

METRICS_FILE = "metrics.json"
BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"  # marker files, as TFX's validators write


def image_size(model_dir: str) -> int:
    with tf.io.gfile.GFile(os.path.join(model_dir, serving_contract.INFO_ASSET)) as file:
        return json.load(file)["image_size"]


def model_metrics(
    model_dir: str,
    test: input_pipeline.TestSet,
    features,
    domain_score: Optional[domain_classifier.Score] = None,
) -> Dict[str, float]:
    loaded = tf.saved_model.load(model_dir)

    def signature(direction):
        function = loaded.signatures[
            serving_contract.SIGNATURES[direction] + serving_contract.FLOAT_SUFFIX
        ]
        return lambda images: function(images=images)[serving_contract.FLOAT_KEY]

    return metrics.evaluate(
        signature("a_to_b"),
        signature("b_to_a"),
        test.images_a,
        test.images_b,
        test.sources_a,
        test.sources_b,
        features,
        domain_score,
    )


def load_domain_classifier(
    artifact: Optional[Any],
    min_accuracy: float,
) -> Tuple[Optional[domain_classifier.Score], Optional[Dict[str, Any]], str]:
    """(P(B) of images, or None; its accuracy and whether it is reliable; a note saying so)."""
    if artifact is None:
        return None, None, "domain scores skipped: no domain classifier given"
    score, report = domain_classifier_executor.load(artifact.uri)
    accuracy_a, accuracy_b = report["accuracy_a"], report["accuracy_b"]
    reliable = min(accuracy_a, accuracy_b) >= min_accuracy
    accuracies = (
        f"the domain classifier's accuracy on the real test images is A "
        f"{accuracy_a:.3f}, B {accuracy_b:.3f}"
    )
    note = (
        f"domain scores used for blessing: {accuracies} (>= {min_accuracy})"
        if reliable
        else f"domain scores UNRELIABLE, reported but not used for blessing: {accuracies}, "
        f"below domain_classifier_min_accuracy {min_accuracy}"
    )
    return (
        score,
        {
            "model": artifact.uri,
            "accuracy_a": accuracy_a,
            "accuracy_b": accuracy_b,
            "min_accuracy": min_accuracy,
            "reliable": reliable,
        },
        note,
    )


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

        features, note = metrics.inception_features(exec_properties.get("inception_weights"))
        logger.info("%s", note)
        domain_score, classifier, classifier_note = load_domain_classifier(
            (input_dict.get("domain_classifier") or [None])[0],
            exec_properties["domain_classifier_min_accuracy"],
        )
        reliable = bool(classifier and classifier["reliable"])
        (logger.info if reliable else logger.warning)("%s", classifier_note)
        model_dir = path_utils.serving_model_path(model.uri)
        test = input_pipeline.read_test_set(
            data_contract.split_files(examples.uri, data_contract.TEST_A),
            data_contract.split_files(examples.uri, data_contract.TEST_B),
            image_size(model_dir),
        )
        current = model_metrics(model_dir, test, features, domain_score)
        serving_base = exec_properties["serving_base_dir"]
        served = serving_dir.latest_servable(serving_base)
        if served:
            logger.info(
                "Baseline: version %d, the model serving has now (%s)", served.number, served.path
            )
            baseline = model_metrics(served.path, test, features, domain_score)
        else:
            logger.info("No baseline: nothing pushed to %s yet", serving_base)
            baseline = None
        failures = metrics.blessing_failures(
            current,
            exec_properties["max_cycle_l1"],
            exec_properties["min_output_spread"],
            baseline,
            exec_properties["baseline_margin"],
            exec_properties["min_domain_score"] if reliable else None,
        )

        report = {
            "metrics": current,
            "baseline_metrics": baseline,
            "baseline_version": served.number if served else None,
            "baseline_model": served.path if served else None,
            "domain_classifier": classifier,
            "notes": [note, classifier_note],
            "failed_checks": failures,
            "blessed": not failures,
        }
        io_utils.write_string_file(
            os.path.join(evaluation.uri, METRICS_FILE), json.dumps(report, indent=2)
        )
        evaluation.set_json_value_custom_property("metrics", current)
        if classifier:
            evaluation.set_json_value_custom_property("domain_classifier", classifier)
        blessing.set_int_custom_property("blessed", int(not failures))
        blessing.set_int_custom_property("current_model_id", model.id)
        blessing.set_string_custom_property("current_model", model.uri)
        blessing.set_string_custom_property("failed_checks", "; ".join(failures))
        if served:
            blessing.set_string_custom_property("baseline_model", served.path)
        io_utils.write_string_file(
            os.path.join(blessing.uri, NOT_BLESSED if failures else BLESSED), ""
        )
        logger.info(
            "Evaluation on the test splits (%s):\n%s",
            os.path.join(evaluation.uri, METRICS_FILE),
            metrics.format_table(current, baseline),
        )
        if failures:
            logger.warning("Model NOT blessed, it will not be pushed: %s", "; ".join(failures))
        else:
            logger.info("Model blessed.")
