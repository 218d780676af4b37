"""The Evaluator's executor on its own: metrics of an exported model on preprocessed test
splits, the baseline from the serving directory, the blessing."""

import json
import logging
import os

import pytest
from tfx.types import standard_artifacts

from components.evaluator import executor as evaluator
from cyclegan import data_contract
from cyclegan import evaluation as evaluation_lib
from cyclegan.model import CycleGan
from cyclegan.serving_dir import push
from tests.helpers import export_model, write_pixel_records


def _artifact(kind, uri):
    artifact = kind()
    artifact.uri = str(uri)
    os.makedirs(artifact.uri, exist_ok=True)
    return artifact


@pytest.fixture
def evaluate(tmp_path, tiny_config):
    """Runs the executor on a tiny exported model; returns (metrics.json, blessing dir)."""
    model = _artifact(standard_artifacts.Model, tmp_path / "model")
    generators = CycleGan(tiny_config)
    export_model(generators, tiny_config, os.path.join(model.uri, "Format-Serving"))
    examples = _artifact(standard_artifacts.Examples, tmp_path / "examples")
    for seed, split in enumerate(data_contract.TEST_SPLITS):
        write_pixel_records(
            os.path.join(data_contract.split_dir(examples.uri, split), "d"),
            tiny_config.data.crop_size,
            3,
            seed,
        )
    runs = iter(range(100))

    def run(max_cycle_l1=1.0):
        run_dir = tmp_path / f"run{next(runs)}"
        evaluation = _artifact(standard_artifacts.ModelEvaluation, run_dir / "evaluation")
        blessing = _artifact(standard_artifacts.ModelBlessing, run_dir / "blessing")
        evaluator.Executor().Do(
            {"model": [model], "examples": [examples]},
            {"evaluation": [evaluation], "blessing": [blessing]},
            {
                "max_cycle_l1": max_cycle_l1,
                "min_output_spread": 0.0,
                "baseline_margin": 0.1,
                "serving_base_dir": str(tmp_path / "serving" / "cyclegan"),
                "min_domain_score": 0.5,
                "classifier_min_accuracy": 0.75,
                "canary_timeout_s": 600.0,
                "report_images": 2,
            },
        )
        with open(os.path.join(evaluation.uri, evaluation_lib.METRICS_FILE)) as file:
            return json.load(file), blessing

    run.model_dir = os.path.join(model.uri, "Format-Serving")
    run.serving = str(tmp_path / "serving" / "cyclegan")
    return run


def test_first_model_is_judged_alone_then_against_what_serving_has(evaluate, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    report, blessing = evaluate()
    assert report["blessed"] and report["baseline_version"] is None
    assert report["metrics"]["cycle_l1_aba"] > 0 and "fid_ab" not in report["metrics"]
    assert os.listdir(blessing.uri) == [evaluator.BLESSED]
    assert blessing.get_int_custom_property("blessed") == 1
    assert any("No baseline: nothing pushed to" in m for m in caplog.messages)

    version_dir = push(evaluate.model_dir, evaluate.serving).path
    version = int(os.path.basename(version_dir))
    report, blessing = evaluate(max_cycle_l1=1e-6)  # the same model, held to a bar it fails
    assert report["baseline_version"] == version and report["baseline_model"] == version_dir
    assert report["baseline_metrics"] == report["metrics"]  # it is the same model
    assert not report["blessed"] and "cycle_l1_aba" in report["failed_checks"][0]
    assert os.listdir(blessing.uri) == [evaluator.NOT_BLESSED]
    assert "cycle_l1_aba" in blessing.get_string_custom_property("failed_checks")
    assert any(f"Baseline: version {version}" in m for m in caplog.messages)
