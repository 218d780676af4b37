"""The spec kubeflow_runner.py writes, executed end to end by KFP itself (kfp.local), each
task running the image's entrypoint (TFX's Kubeflow v2 container entrypoint) in a subprocess.
"""

import glob
import io
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
import yaml
from PIL import Image

import kubeflow_runner
from cyclegan import serving_contract, serving_dir
from tests import kfp_local
from tests.helpers import TINY_FLAGS, encode, random_pixels

pytestmark = pytest.mark.slow


def _task_output(local_root: str, task: str, *path: str) -> str:
    (found,) = glob.glob(os.path.join(local_root, "cyclegan-*", task, *path))
    return found


def test_kfp_local_executes_the_compiled_spec(tmp_path):
    serving = str(tmp_path / "serving" / "cyclegan")
    assert (
        kubeflow_runner.main(
            [
                "--image",
                "registry.example/cyclegan-tfx:1.0",
                "--pipeline-root",
                str(tmp_path / "root"),
                "--serving-dir",
                serving,
                "--output-file",
                str(tmp_path / "spec.json"),
                *TINY_FLAGS,
            ]
        )
        == 0
    )
    spec_path = str(tmp_path / "spec.yaml")

    first_root = str(tmp_path / "first")
    kfp_local.run_spec(spec_path, first_root, {})
    (version,) = serving_dir.versions(serving)
    loaded = tf.saved_model.load(os.path.join(serving, str(version)))
    jpeg = encode(random_pixels(50, 70), "JPEG")
    png = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert Image.open(io.BytesIO(png.numpy()[0])).size == (32, 32)
    metrics = json.loads(
        Path(_task_output(first_root, "Evaluator", "evaluation", "metrics.json")).read_text()
    )
    assert metrics["blessed"] and metrics["baseline_version"] is None
    # The Report task: the page at its system.HTML artifact's URI, the metrics as the
    # system.Metrics artifact's metadata (what the KFP UI shows).
    page = Path(_task_output(first_root, "Report", "report")).read_text()
    assert page.startswith("<!DOCTYPE html>") and f"pushed as version {version}" in page
    outputs = json.loads(
        Path(_task_output(first_root, "Report", "executor_output.json")).read_text()
    )
    (scalars,) = outputs["artifacts"]["metrics"]["artifacts"]
    assert scalars["metadata"]["cycle_l1_aba"] == metrics["metrics"]["cycle_l1_aba"]
    assert scalars["metadata"]["blessed"] == 1.0

    # The same spec again, with the runtime parameter training_config an overlay of 2 epochs:
    # the Trainer continues the first run's training to 2 epochs, every other compiled value
    # kept, and the Evaluator compares with the first push.
    defaults = yaml.safe_load(Path(spec_path).read_text())["root"]["inputDefinitions"]["parameters"]
    assert defaults["training_config"]["defaultValue"] == "{}"
    second_root = str(tmp_path / "second")
    overlay = {"train": {"epochs": 2}}
    kfp_local.run_spec(spec_path, second_root, {"training_config": json.dumps(overlay)})

    model_dir = _task_output(second_root, "Trainer", "model", "Format-Serving")
    trained_config = Path(model_dir, serving_contract.CONFIG_ASSET).read_text()
    trained = json.loads(trained_config)
    assert trained["train"]["epochs"] == 2
    assert trained["data"]["crop_size"] == 32 and trained["train"]["generator_filters"] == 4
    (checkpoints,) = glob.glob(str(tmp_path / "root" / "checkpoints" / "*"))
    assert tf.train.latest_checkpoint(checkpoints).endswith("ckpt-6")  # 3 steps, then 3 more
    metrics = json.loads(
        Path(_task_output(second_root, "Evaluator", "evaluation", "metrics.json")).read_text()
    )
    assert metrics["baseline_version"] == version
    assert metrics["baseline_metrics"] is not None
