"""The domain classifier (core and TFX executor) and the blessing gate built on it.

On the synthetic set at 32 px: A is blobs, B the same kind of blobs striped, and testA[i]
and testB[i] share a scene, so testB is the ground-truth translation of testA.
"""

import json
import logging
import os
from pathlib import Path

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.domain_classifier import executor as classifier_executor
from components.evaluator import executor as evaluator_executor
from cyclegan import (
    data_contract,
    domain_classifier,
    evaluation,
    input_pipeline,
    metrics,
    synthetic,
    train,
)
from cyclegan.evaluation import METRICS_FILE
from tests import helpers

TINY_CONFIG = helpers.tiny_config()

SIZE = TINY_CONFIG.data.crop_size
COUNTS = {"trainA": 48, "trainB": 48, "testA": 16, "testB": 16}
MIN_ACCURACY, MIN_SCORE = 0.75, 0.5


def _failures(*args, **kwargs):
    """Why blessing_checks() would not let the model be served."""
    return [c.failure for c in metrics.blessing_checks(*args, **kwargs) if not c.passed]


def _write(path, examples, options=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options) as writer:
        for example in examples:
            writer.write(example.SerializeToString())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Raw examples (as ExampleGen writes them, 40 px) and their preprocessed splits."""
    root = tmp_path_factory.mktemp("data")
    raw, pixels = str(root / "raw"), str(root / "preprocessed")
    for split, count in COUNTS.items():
        domain = data_contract.DOMAIN_OF_SPLIT[split]
        raw_file = os.path.join(data_contract.split_dir(raw, split), "data.gz")
        generated = list(synthetic.generate(0, split, 40, 0, count))
        _write(
            raw_file,
            [data_contract.make_raw_example(png, domain, source) for source, png in generated],
            "GZIP",
        )
        size = data_contract.stored_size(split, TINY_CONFIG.data.load_size, SIZE)
        images = input_pipeline.preprocessed_images(
            [raw_file], size, TINY_CONFIG.data.resize_method
        )
        _write(
            os.path.join(data_contract.split_dir(pixels, split), "data.tfrecord"),
            [
                data_contract.make_pixel_example(image.numpy().tobytes(), size, source.encode())
                for image, (source, _) in zip(images, generated)
            ],
        )
    return {
        "raw": raw,
        "preprocessed": pixels,
        "test": input_pipeline.read_test_set(
            data_contract.split_files(pixels, "testA"),
            data_contract.split_files(pixels, "testB"),
            SIZE,
        ),
    }


def _classifier(data, uri, steps):
    examples, model = standard_artifacts.Examples(), standard_artifacts.Model()
    examples.uri, model.uri = data["raw"], uri
    classifier_executor.Executor().Do(
        {"examples": [examples]},
        {"model": [model]},
        {
            "image_size": SIZE,
            "train_steps": steps,
            "crop_size": SIZE,
            "resize_method": TINY_CONFIG.data.resize_method,
            "seed": 0,
        },
    )
    return model


@pytest.fixture(scope="module")
def classifier(data, tmp_path_factory):
    return _classifier(data, str(tmp_path_factory.mktemp("classifier")), steps=200)


@pytest.fixture(scope="module")
def barely_trained(data, tmp_path_factory):
    """A CycleGAN with 4 filters trained 3 steps, exported as the Trainer does."""
    files = {
        split: data_contract.split_files(data["preprocessed"], split)
        for split in data_contract.SPLITS
    }
    root = tmp_path_factory.mktemp("barely_trained")
    model = train.fit(
        TINY_CONFIG,
        files["trainA"],
        files["trainB"],
        files["testA"],
        files["testB"],
        str(root / "run"),
    )
    artifact = standard_artifacts.Model()
    artifact.uri = str(root / "model")
    helpers.export_model(model, TINY_CONFIG, path_utils.serving_model_path(artifact.uri))
    return artifact


def _ground_truth(sources, targets):
    """A stand-in for a perfectly trained generator: each source image -> its pair."""

    def translate(images):
        distances = tf.reduce_sum(tf.abs(images[:, None] - sources[None]), axis=[2, 3, 4])
        return tf.gather(targets, tf.argmin(distances, axis=1))

    return translate


def _evaluate(translate_ab, translate_ba, test, score):
    return metrics.evaluate(
        translate_ab,
        translate_ba,
        test.images_a,
        test.images_b,
        test.sources_a,
        test.sources_b,
        domain_score=score,
    )


def _load(model_uri):
    return domain_classifier.load(path_utils.serving_model_path(model_uri))


def test_classifier_separates_the_synthetic_domains(classifier, data):
    report = json.loads(Path(classifier.uri, domain_classifier.REPORT_FILE).read_text())
    assert report["accuracy_a"] >= 0.9 and report["accuracy_b"] >= 0.9
    assert (report["test_images_a"], report["test_images_b"]) == (16, 16)
    assert classifier.get_float_custom_property("accuracy_b") == report["accuracy_b"]
    # The exported model scores as the report says.
    score = _load(classifier.uri)
    loaded_report = domain_classifier.read_report(classifier.uri)
    assert loaded_report == report
    test = data["test"]
    assert domain_classifier.accuracy(score, test.images_a, test.images_b) == {
        "accuracy_a": report["accuracy_a"],
        "accuracy_b": report["accuracy_b"],
    }


def test_identity_scores_low_and_the_ground_truth_high(classifier, data):
    score = _load(classifier.uri)
    test = data["test"]
    identity = _evaluate(lambda x: x, lambda x: x, test, score)
    assert identity["domain_score_ab"] < 0.2 and identity["domain_score_ba"] < 0.2
    assert identity["domain_score_ab"] == identity["domain_score_ab_untranslated"]
    truth = _evaluate(
        _ground_truth(test.images_a, test.images_b),
        _ground_truth(test.images_b, test.images_a),
        test,
        score,
    )
    assert truth["ground_truth_l1_ab"] == 0.0  # the stand-in is what it claims to be
    assert truth["domain_score_ab"] > 0.8 and truth["domain_score_ba"] > 0.8
    assert truth["domain_score_ab_untranslated"] == identity["domain_score_ab"]


def test_the_domain_gate_refuses_a_barely_trained_model_and_passes_the_ground_truth(
    classifier, barely_trained, data
):
    score = _load(classifier.uri)
    test = data["test"]
    barely = evaluation.model_metrics(
        evaluation.generators(path_utils.serving_model_path(barely_trained.uri)), test, None, score
    )
    failures = _failures(barely, 1.0, 0.01, min_domain_score=MIN_SCORE)
    assert any(f.startswith("domain_score_ab ") and "as domain B" in f for f in failures)
    # Without the domain gate, today's checks let it through: what this gate is for.
    assert _failures(barely, 1.0, 0.01) == []

    truth = _evaluate(
        _ground_truth(test.images_a, test.images_b),
        _ground_truth(test.images_b, test.images_a),
        test,
        score,
    )
    assert _failures(truth, 1.0, 0.01, min_domain_score=MIN_SCORE) == []
    # Against a baseline, a domain score that drops by more than the margin fails.
    (worse,) = _failures(
        truth,
        1.0,
        0.01,
        dict(truth, domain_score_ba=truth["domain_score_ba"] / 0.8),
        0.1,
        min_domain_score=MIN_SCORE,
    )
    assert "domain_score_ba" in worse and "worse than the blessed baseline" in worse


def _run_evaluator(model, examples_uri, classifier, tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(tmp_path / "evaluation"), str(tmp_path / "blessing")
    evaluator_executor.Executor().Do(
        {"model": [model], "examples": [examples], "domain_classifier": [classifier]},
        {"evaluation": [evaluation], "blessing": [blessing]},
        {
            "max_cycle_l1": 1.0,
            "min_output_spread": 0.01,
            "baseline_margin": 0.1,
            "serving_base_dir": str(tmp_path / "serving"),  # nothing served yet: no baseline
            "inception_weights": str(tmp_path / "no_inception.h5"),
            "min_domain_score": MIN_SCORE,
            "classifier_min_accuracy": MIN_ACCURACY,
            "canary_timeout_s": 600.0,
            "report_images": 2,
        },
    )
    return json.loads(Path(evaluation.uri, METRICS_FILE).read_text())


def test_evaluator_refuses_a_barely_trained_model_naming_the_domain_check(
    classifier, barely_trained, data, tmp_path
):
    report = _run_evaluator(barely_trained, data["preprocessed"], classifier, tmp_path)
    assert report["domain_classifier"]["reliable"] and not report["blessed"]
    assert any(check.startswith("domain_score_ab ") for check in report["failed_checks"])
    assert "domain_score_ab_untranslated" in report["metrics"]


def test_an_unreliable_classifier_is_reported_and_does_not_block(
    barely_trained, data, tmp_path, caplog
):
    caplog.set_level(logging.INFO, logger="cyclegan")
    unreliable = _classifier(data, str(tmp_path / "unreliable"), steps=1)
    report = _run_evaluator(barely_trained, data["preprocessed"], unreliable, tmp_path)
    accuracies = report["domain_classifier"]
    assert min(accuracies["accuracy_a"], accuracies["accuracy_b"]) < MIN_ACCURACY
    assert not accuracies["reliable"] and report["blessed"]
    assert "domain_score_ab" in report["metrics"]  # still reported
    assert any(
        "UNRELIABLE" in record.message and record.levelno == logging.WARNING
        for record in caplog.records
    )
