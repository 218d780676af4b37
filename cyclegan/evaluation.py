"""judge(): a candidate SavedModel against the thresholds and the model serving now.

Loads the exported SavedModel's float signatures (what is served), computes the metrics on
the preprocessed test splits, compares with the baseline and decides the blessing. The
baseline is the model serving has now: the version the serving directory's `stable` label
points to (the newest without a model config file), read from the directory rather than
resolved from ML Metadata, so every orchestrator runs the same pipeline (open-source
Kubeflow Pipelines cannot run Resolver nodes). The canary (canary.py) must pass too. With a domain
classifier the domain scores are added; they count for blessing only when its accuracy on
the real test images of each domain reaches `classifier_min_accuracy`.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import tensorflow as tf

from cyclegan import (
    canary,
    domain_classifier,
    image_ops,
    input_pipeline,
    logger,
    metrics,
    serving_contract,
)
from cyclegan import serving_dir as serving_dir_lib
from cyclegan.config import EvaluationConfig


def image_size(model_dir: str) -> int:
    with tf.io.gfile.GFile(os.path.join(model_dir, serving_contract.INFO_ASSET)) as file:
        return json.load(file)["image_size"]


Translate = Callable[[tf.Tensor], tf.Tensor]  # float images in [-1, 1] -> translations


def generators(model_dir: str) -> Dict[str, Translate]:
    """The SavedModel's float signatures, by direction ("a_to_b", "b_to_a")."""
    loaded = tf.saved_model.load(model_dir)

    def signature(direction):
        function = loaded.signatures[
            serving_contract.SIGNATURES[direction] + serving_contract.FLOAT_SUFFIX
        ]
        return lambda images: function(images=images)[serving_contract.FLOAT_KEY]

    return {direction: signature(direction) for direction in serving_contract.DIRECTIONS}


def model_metrics(
    translate: Dict[str, Translate],
    test: input_pipeline.TestSet,
    features,
    domain_score: Optional[domain_classifier.Score] = None,
) -> Dict[str, float]:
    return metrics.evaluate(
        translate["a_to_b"],
        translate["b_to_a"],
        test.images_a,
        test.images_b,
        test.sources_a,
        test.sources_b,
        features,
        domain_score,
    )


class Classifier(NamedTuple):
    """A domain classifier as the DomainClassifier step exports it."""

    model_dir: str  # its SavedModel
    report_dir: str  # the folder of its domain_classifier.json


def load_domain_classifier(
    classifier: Optional[Classifier], min_accuracy: float
) -> Tuple[Optional[domain_classifier.Score], Optional[Dict[str, Any]], str]:
    """(P(B) of images, or None; its accuracy and whether it is reliable; a note saying so)."""
    if classifier is None:
        return None, None, "domain scores skipped: no domain classifier given"
    score = domain_classifier.load(classifier.model_dir)
    report = domain_classifier.read_report(classifier.report_dir)
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
        f"below evaluation.classifier_min_accuracy {min_accuracy}"
    )
    summary = {
        "model": classifier.model_dir,
        "accuracy_a": accuracy_a,
        "accuracy_b": accuracy_b,
        "min_accuracy": min_accuracy,
        "reliable": reliable,
    }
    return score, summary, note


METRICS_FILE = "metrics.json"  # Judgement.report()
ROWS_DIR = "translations"  # the report's images: <direction>_<index>_<kind>.png
# What the report shows of each test image, left to right.
ROW_KINDS = ("input", "candidate", "served", "cycled")


def translation_rows(
    candidate: Dict[str, Translate],
    served: Optional[Dict[str, Translate]],
    test: input_pipeline.TestSet,
    count: int,
) -> Dict[str, List[Dict[str, tf.Tensor]]]:
    """Per direction, the first `count` test images: the input, the candidate's translation,
    the served model's (when there is one) and the candidate's translation translated back."""
    other = {"a_to_b": "b_to_a", "b_to_a": "a_to_b"}
    rows = {}
    for direction, images in (("a_to_b", test.images_a), ("b_to_a", test.images_b)):
        inputs = images[:count]
        translated = candidate[direction](inputs)
        columns = {
            "input": inputs,
            "candidate": translated,
            "cycled": candidate[other[direction]](translated),
        }
        if served:
            columns["served"] = served[direction](inputs)
        rows[direction] = [
            {kind: columns[kind][i] for kind in ROW_KINDS if kind in columns}
            for i in range(int(inputs.shape[0]))
        ]
    return rows


def write_rows(rows: Dict[str, List[Dict[str, tf.Tensor]]], folder: str) -> None:
    """translation_rows() as PNGs: <folder>/<direction>_<index>_<kind>.png."""
    tf.io.gfile.makedirs(folder)
    for direction, images in rows.items():
        for index, row in enumerate(images):
            for kind, image in row.items():
                path = os.path.join(folder, f"{direction}_{index}_{kind}.png")
                with tf.io.gfile.GFile(path, "wb") as file:
                    file.write(image_ops.encode_png(image).numpy())


class Judgement(NamedTuple):
    metrics: Dict[str, float]
    baseline_metrics: Optional[Dict[str, float]]
    baseline: Optional[serving_dir_lib.Version]
    domain_classifier: Optional[Dict[str, Any]]
    canary: List[canary.Result]
    checks: List[metrics.Check]
    rows: Dict[str, List[Dict[str, tf.Tensor]]]  # translation_rows() of the test images
    notes: List[str]
    failed_checks: List[str]

    @property
    def blessed(self) -> bool:
        return not self.failed_checks

    def report(self) -> Dict[str, Any]:
        """What metrics.json holds."""
        return {
            "metrics": self.metrics,
            "baseline_metrics": self.baseline_metrics,
            "baseline_version": self.baseline.number if self.baseline else None,
            "baseline_model": self.baseline.path if self.baseline else None,
            "domain_classifier": self.domain_classifier,
            "canary": [result._asdict() for result in self.canary],
            "checks": [check._asdict() for check in self.checks],
            "notes": self.notes,
            "failed_checks": self.failed_checks,
            "blessed": self.blessed,
        }


def judge(
    model_dir: str,
    test_files: Tuple[List[str], List[str]],
    serving_base: str,
    thresholds: EvaluationConfig,
    inception_weights: Optional[str] = None,
    classifier: Optional[Classifier] = None,
) -> Judgement:
    """The candidate SavedModel at model_dir, on the preprocessed test files of A and B,
    against `thresholds` and the stable version under serving_base; then the canary."""
    features, inception_note = metrics.inception_features(inception_weights)
    logger.info("%s", inception_note)
    domain_score, classifier_summary, classifier_note = load_domain_classifier(
        classifier, thresholds.classifier_min_accuracy
    )
    reliable = bool(classifier_summary and classifier_summary["reliable"])
    (logger.info if reliable else logger.warning)("%s", classifier_note)
    notes = [inception_note, classifier_note]

    size = image_size(model_dir)
    test = input_pipeline.read_test_set(*test_files, size)
    started = time.monotonic()
    logger.info(
        "Evaluating the candidate on %d + %d test images (%s)",
        len(test.sources_a),
        len(test.sources_b),
        model_dir,
    )
    candidate = generators(model_dir)
    current = model_metrics(candidate, test, features, domain_score)
    logger.info("Candidate evaluated in %.1f s", time.monotonic() - started)
    served = serving_dir_lib.stable_version(serving_base)
    baseline, served_generators = None, None
    if served is None:
        logger.info("No baseline: nothing pushed to %s yet", serving_base)
    elif image_size(served.path) != size:
        # The test splits are preprocessed at the candidate's size only.
        note = (
            f"baseline skipped: version {served.number} ({served.path}) serves "
            f"{image_size(served.path)} px images, the candidate {size} px; the candidate is "
            f"judged on its own"
        )
        logger.warning("%s", note)
        notes.append(note)
        served = None
    else:
        logger.info(
            "Baseline: version %d, the model serving as stable now (%s)",
            served.number,
            served.path,
        )
        started = time.monotonic()
        served_generators = generators(served.path)
        baseline = model_metrics(served_generators, test, features, domain_score)
        logger.info("Baseline evaluated in %.1f s", time.monotonic() - started)
    checks = metrics.blessing_checks(
        current,
        thresholds.max_cycle_l1,
        thresholds.min_output_spread,
        baseline,
        thresholds.baseline_margin,
        thresholds.min_domain_score if reliable else None,
    )
    logger.info("Canary: loading the candidate in a fresh process, replaying its requests")
    canary_results = canary.run(model_dir, size, thresholds.canary_timeout_s)
    checks += [
        metrics.Check(
            f"canary ({result.where})",
            f"answers its warm-up requests within {thresholds.canary_timeout_s:g} s",
            result.ok,
            "" if result.ok else result.line(),
        )
        for result in canary_results
    ]
    failures = [check.failure for check in checks if not check.passed]
    rows = translation_rows(candidate, served_generators, test, thresholds.report_images)
    return Judgement(
        current,
        baseline,
        served,
        classifier_summary,
        canary_results,
        checks,
        rows,
        notes,
        failures,
    )
