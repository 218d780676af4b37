"""DomainClassifier executor: trains the core's classifier (cyclegan/domain_classifier.py)
and exports it as a standard Model artifact.

The train images are the raw train splits run through Preprocess's own code at crop_size:
the size and resampling of the test splits, which the classifier must judge. Preprocess's
train splits are at load_size, and downscaled again they alias differently from the test
images: at the demo preset (bilinear, 256 -> 72 vs 256 -> 64) a classifier trained on them
called 63-81% of horse2zebra's test horses zebras, against 1-13% this way.

Writes <uri>/Format-Serving/ (the SavedModel: `serving_default`, images -> probability_b)
and <uri>/domain_classifier.json (accuracy on the real test images of each domain, what it
was trained on, how long it took); the accuracies are also artifact properties.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from cyclegan import data_contract, domain_classifier, image_ops, input_pipeline, logger


def _split(raw_uri: str, split: str, size: int, method: str) -> tf.data.Dataset:
    return input_pipeline.preprocessed_images(
        data_contract.split_files(raw_uri, split), size, method
    )


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: Dict[str, List[Any]],
        output_dict: Dict[str, List[Any]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        raw = artifact_utils.get_single_instance(input_dict["examples"])
        model = artifact_utils.get_single_instance(output_dict["model"])
        size, method = exec_properties["crop_size"], exec_properties["resize_method"]
        image_size, steps = exec_properties["image_size"], exec_properties["train_steps"]

        start = time.time()
        network = domain_classifier.train(
            _split(raw.uri, data_contract.TRAIN_A, size, method),
            _split(raw.uri, data_contract.TRAIN_B, size, method),
            image_size,
            steps,
            seed=exec_properties["seed"],
        )
        seconds = time.time() - start
        test_a, test_b = (
            image_ops.to_unit_range(tf.stack(list(_split(raw.uri, split, size, method))))
            for split in data_contract.TEST_SPLITS
        )
        report = {
            **domain_classifier.accuracy(
                domain_classifier.scorer(network, image_size), test_a, test_b
            ),
            "test_images_a": int(test_a.shape[0]),
            "test_images_b": int(test_b.shape[0]),
            "image_size": image_size,
            "train_steps": steps,
            "train_seconds": round(seconds, 1),
        }

        domain_classifier.export(network, image_size, path_utils.serving_model_path(model.uri))
        report_path = domain_classifier.write_report(model.uri, report)
        for key in ("accuracy_a", "accuracy_b"):
            model.set_float_custom_property(key, report[key])
        logger.info(
            "Domain classifier: accuracy on the real test images A %.3f (%d images), "
            "B %.3f (%d images); trained %d steps at %d px in %.0f s (%s)",
            report["accuracy_a"],
            report["test_images_a"],
            report["accuracy_b"],
            report["test_images_b"],
            steps,
            image_size,
            seconds,
            report_path,
        )
