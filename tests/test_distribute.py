"""The training step under tf.distribute, and the choice of strategy."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from cyclegan import distribute
from tests.helpers import tiny_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs in a fresh process: logical CPU devices must be set before TensorFlow initialises.
TWO_REPLICAS = r"""
import json, os
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cyclegan.model import CycleGan
from cyclegan.config import Config

config = Config.from_dict(json.loads(CONFIG_JSON))
real_a = tf.random.stateless_uniform([2, 32, 32, 3], [1, 2], -1, 1)
real_b = tf.random.stateless_uniform([2, 32, 32, 3], [3, 4], -1, 1)

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with mirrored.scope():
    distributed = CycleGan(config)
batches = iter(mirrored.experimental_distribute_dataset(
    tf.data.Dataset.from_tensor_slices((real_a, real_b)).batch(2)))

@tf.function
def distributed_step(a, b):
    per_replica = mirrored.run(distributed.train_step, args=(a, b, 2))
    return {k: mirrored.reduce("SUM", v, axis=None) for k, v in per_replica.items()}

single = CycleGan(config)  # same seed: same initial weights
distributed_losses = distributed_step(*next(batches))
single_losses = tf.function(lambda a, b: single.train_step(a, b, 2))(real_a, real_b)

def weights(model):
    return [w.numpy() for net in (model.g_ab, model.g_ba, model.d_a, model.d_b)
            for w in net.weights]

print(json.dumps({
    "replicas": mirrored.num_replicas_in_sync,
    "weight_diff": max(float(np.max(np.abs(x - y)))
                       for x, y in zip(weights(distributed), weights(single))),
    "weight_change": max(float(np.max(np.abs(x - y)))
                         for x, y in zip(weights(single), weights(CycleGan(config)))),
    "loss_diff": max(abs(float(distributed_losses[k]) - float(single_losses[k]))
                     for k in single_losses),
}))
"""


@pytest.mark.parametrize("gan_loss", ["bce", "lsgan"])
def test_two_replicas_take_the_same_step_as_one(gan_loss):
    config = tiny_config(
        crop_size=32, load_size=32, unet_dropout=0.0, batch_size=2, pool_size=0, gan_loss=gan_loss
    )
    code = TWO_REPLICAS.replace("CONFIG_JSON", repr(config.to_json()))
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert output.returncode == 0, output.stderr[-3000:]
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["weight_change"] > 1e-4  # the step did change the weights...
    assert result["weight_diff"] < 1e-5  # ...identically with two replicas and with one
    assert result["loss_diff"] < 1e-5


def test_strategy_follows_tf_config(monkeypatch):
    chosen, options = object(), []
    monkeypatch.setattr(
        tf.distribute,
        "MultiWorkerMirroredStrategy",
        lambda communication_options: options.append(communication_options) or chosen,
    )
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["host-a:2222", "host-b:2222"]},
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    assert distribute.choose_strategy() is chosen
    # A lost peer cannot hang it.
    assert options[0].timeout_seconds == distribute.COLLECTIVE_TIMEOUT_S
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": {"worker": ["host-a:2222"]}, "task": {"type": "worker", "index": 0}}
        ),
    )
    assert isinstance(distribute.choose_strategy(), tf.distribute.MirroredStrategy)
    monkeypatch.delenv("TF_CONFIG")
    strategy = distribute.choose_strategy()
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == len(tf.config.list_logical_devices("CPU"))


def test_worker_roles_from_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.worker_role() == (True, "chief-0")
    for cluster, task, expected in [
        ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "chief", "index": 0}, True),
        ({"chief": ["a:1"], "worker": ["b:1"]}, {"type": "worker", "index": 0}, False),
        ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, True),
        ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, False),
    ]:
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
        assert distribute.worker_role()[0] is expected, (cluster, task)


def test_the_devices_line_names_the_gpus_or_says_how_to_get_them():
    a100 = {"device_name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0)}
    assert distribute.devices_line([a100, a100], cpu_cores=16, cpu_replicas=1) == (
        "Training on 2 GPUs: GPU:0 (NVIDIA A100-SXM4-40GB, compute capability 8.0), "
        "GPU:1 (NVIDIA A100-SXM4-40GB, compute capability 8.0)"
    )
    assert distribute.devices_line([{}], 2, 1) == "Training on 1 GPU: GPU:0 (unnamed)"
    line = distribute.devices_line([], cpu_cores=2, cpu_replicas=2)
    assert line.startswith("No GPU visible: training on the CPU (2 cores, 2 replicas); to use GPUs")
    assert "make install GPU=1" in line and "--gpu-image" in line


def test_the_devices_line_reads_what_tensorflow_sees(monkeypatch):
    fake_gpus = [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")]
    details = {"device_name": "Tesla T4", "compute_capability": (7, 5)}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: fake_gpus)
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: details)
    assert distribute.visible_devices_line() == (
        "Training on 1 GPU: GPU:0 (Tesla T4, compute capability 7.5)"
    )
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [])
    assert distribute.visible_devices_line().startswith("No GPU visible: training on the CPU (")
