"""The canary: a fresh process with only TensorFlow loads the candidate and answers the
requests a client sends (its warm-up requests); any failure names the reason."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from cyclegan import canary, evaluation, serving_contract
from tests.helpers import tiny_config, write_pixel_records

# Warm-up requests of the tiny export: translate_a_to_b and serving_default at batch 1 and 8
# (4), translate_b_to_a (2), both float signatures (4).
WARMUP_REQUESTS = 10


def test_the_canary_process_answers_every_request_importing_nothing_of_the_project(tiny_export):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-I", canary.SCRIPT, tiny_export, "32"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["ok"] and answer["requests"] == WARMUP_REQUESTS, answer
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "tensorflow" in imported and "tensorflow_serving" in imported
    assert not imported & {"cyclegan", "components", "pipeline", "client", "tests"}


def test_a_model_without_warmup_requests_fails_the_canary(tiny_export, tmp_path):
    copy = shutil.copytree(tiny_export, tmp_path / "copy")
    os.remove(os.path.join(copy, serving_contract.WARMUP_ASSET))
    (result,) = canary.run(str(copy), 32, timeout_s=300)
    assert not result.ok and result.reason.startswith("no warm-up requests at ")
    assert result.line().startswith("canary failed in a fresh TensorFlow process: no warm-up")


def test_answers_of_the_wrong_size_fail_the_canary(tiny_export):
    (result,) = canary.run(tiny_export, 64, timeout_s=300)
    assert not result.ok
    assert "answer 0 is (32, 32, 3), not (64, 64, 3)" in result.reason


def test_a_model_that_does_not_load_fails_the_canary(tiny_export, tmp_path):
    copy = shutil.copytree(tiny_export, tmp_path / "copy")
    with open(os.path.join(copy, "saved_model.pb"), "wb") as file:
        file.write(b"not a SavedModel")
    (result,) = canary.run(str(copy), 32, timeout_s=300)
    assert not result.ok and result.requests == 0 and result.reason


def test_a_canary_over_its_time_budget_fails(tiny_export):
    (result,) = canary.run(tiny_export, 32, timeout_s=0.1)
    assert not result.ok
    assert result.reason == "no answer within 0.1 s (evaluation.canary_timeout_s)"


def test_a_failed_canary_withholds_the_blessing_naming_the_reason(tiny_export, tmp_path):
    copy = shutil.copytree(tiny_export, tmp_path / "copy")
    os.remove(os.path.join(copy, serving_contract.WARMUP_ASSET))
    test_files = tuple(
        [write_pixel_records(str(tmp_path / split / "d"), 32, 2, seed)]
        for seed, split in enumerate(("testA", "testB"))
    )
    thresholds = tiny_config(**{"evaluation.max_cycle_l1": 2.0}).evaluation
    judgement = evaluation.judge(str(copy), test_files, str(tmp_path / "serving"), thresholds)
    assert not judgement.blessed
    (failure,) = judgement.failed_checks
    assert failure.startswith("canary failed in a fresh TensorFlow process: no warm-up requests")
    assert judgement.report()["canary"][0]["ok"] is False


@pytest.mark.skipif(
    shutil.which(canary.MODEL_SERVER) is None,
    reason=f"{canary.MODEL_SERVER} is not on PATH (TF Serving's binary cannot be installed here)",
)
def test_the_canary_also_asks_a_real_tf_serving(tiny_export):
    results = canary.run(tiny_export, 32, timeout_s=600)
    assert [r.where for r in results] == ["a fresh TensorFlow process", canary.MODEL_SERVER]
    assert all(r.ok and r.requests == WARMUP_REQUESTS for r in results), results
