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

    # The same spec again, with the runtime parameter training_config set to 2 epochs: the
    # Trainer trains 2 epochs, and the Evaluator compares with the first push.
    defaults = yaml.safe_load(Path(spec_path).read_text())["root"]["inputDefinitions"]["parameters"]
    training_config = json.loads(defaults["training_config"]["defaultValue"])
    assert training_config["cyclegan_config"]["epochs"] == 1
    training_config["cyclegan_config"]["epochs"] = 2
    second_root = str(tmp_path / "second")
    kfp_local.run_spec(spec_path, second_root, {"training_config": json.dumps(training_config)})

    model_dir = _task_output(second_root, "Trainer", "model", "Format-Serving")
    trained_config = Path(model_dir, serving_contract.CONFIG_ASSET).read_text()
    assert json.loads(trained_config)["epochs"] == 2
    last_steps = sorted(
        int(tf.train.latest_checkpoint(path).rsplit("-", 1)[1])
        for path in glob.glob(str(tmp_path / "root" / "checkpoints" / "*"))
    )
    assert last_steps == [3, 6]  # 1 epoch, then 2 epochs, of 3 steps
    metrics = json.loads(
        Path(_task_output(second_root, "Evaluator", "evaluation", "metrics.json")).read_text()
    )
    assert metrics["baseline_version"] == version
    assert metrics["baseline_metrics"] is not None
