"""Multi-worker training for real: two processes on 127.0.0.1 (chief + worker, each with its
own TF_CONFIG) run the Trainer's run_fn under MultiWorkerMirroredStrategy."""

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cyclegan.model import CycleGan
from tests.helpers import tiny_config, write_pixel_records

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The Trainer's entry, as TFX calls it. argv: job dir, config JSON, CPU replicas (for the
# one-process reference). TF_CONFIG comes from the environment.
RUN_FN = r"""
import json, os, sys
from cyclegan import entry
from pipeline import cli
entry.prepare_process()
cli.configure_logging(verbose=False)
import tensorflow as tf
job, config_json, replicas = sys.argv[1], sys.argv[2], int(sys.argv[3])
if replicas > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
from tfx.components.trainer.fn_args_utils import FnArgs
from components.trainer import run_fn
from cyclegan.config import Config

config = Config.from_dict(json.loads(config_json))
data = os.path.join(os.path.dirname(job), "data")
run_fn.run_fn(FnArgs(
    train_files=[os.path.join(data, "trainA", "*"), os.path.join(data, "trainB", "*")],
    eval_files=[os.path.join(data, "testA", "*"), os.path.join(data, "testB", "*")],
    model_run_dir=os.path.join(job, "run"), serving_model_dir=os.path.join(job, "serving"),
    hyperparameters=run_fn.hyperparameters(config),
    custom_config=run_fn.custom_config(job)))
"""


@pytest.fixture
def data(tmp_path):
    for seed, (split, count) in enumerate(
        {"trainA": 6, "trainB": 8, "testA": 2, "testB": 2}.items()
    ):
        write_pixel_records(str(tmp_path / "data" / split / "data.tfrecord"), 32, count, seed)
    return tmp_path


_STARTED = []


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """A failed assertion must not leave a training process running (or waiting for peers)."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _config(steps, checkpoint_every):
    """Tiny, and deterministic across processes: no random crop (load = crop size), flip,
    dropout or pool, so one process and two see the same numbers."""
    return tiny_config(
        load_size=32,
        crop_size=32,
        random_flip=False,
        unet_dropout=0.0,
        pool_size=0,
        batch_size=2,
        steps_per_epoch=steps,
        checkpoint_every_steps=checkpoint_every,
    )


def _start(job, config, name, replicas=1, tf_config=None):
    """The run_fn in a new process; its output goes to <job>-<name>.log (a file, not a pipe
    that nobody reads while waiting on another process, which could fill and block it)."""
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    with open(f"{job}-{name}.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN_FN, str(job), config.to_json(), str(replicas)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process.log_path = log.name
    _STARTED.append(process)
    return process


def _cluster(job, config):
    """Chief and worker processes of one cluster, on two free loopback ports; and the
    worker's address."""
    chief_port, worker_port = _free_ports(2)
    cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
    return {
        role: _start(
            job, config, role, tf_config={"cluster": cluster, "task": {"type": role, "index": 0}}
        )
        for role in ("chief", "worker")
    }, cluster["worker"][0]


def _finish(process, timeout):
    process.wait(timeout=timeout)
    with open(process.log_path) as log:
        return process.returncode, log.read()


def _checkpoint_variables(directory):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(directory))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "/.ATTRIBUTES/VARIABLE_VALUE" in name and "optimizer" not in name
    }


def _max_difference(left, right):
    assert left.keys() == right.keys() and len(left) > 20
    return max(float(np.max(np.abs(left[name] - right[name]))) for name in left)


def test_two_workers_train_as_one_process_with_two_replicas(data):
    config = _config(steps=3, checkpoint_every=3)
    processes, _ = _cluster(data / "multi", config)
    outputs = {}
    for role, process in processes.items():
        code, outputs[role] = _finish(process, 600)
        assert code == 0, f"{role} failed:\n{outputs[role][-3000:]}"
    assert "global batch 2, 2 replica(s)" in outputs["chief"]  # one replica per worker
    code, output = _finish(_start(data / "single", config, "single", replicas=2), 600)
    assert code == 0, output[-3000:]
    assert "global batch 2, 2 replica(s)" in output

    (multi_checkpoints,) = glob.glob(str(data / "multi" / "checkpoints" / "*"))
    (single_checkpoints,) = glob.glob(str(data / "single" / "checkpoints" / "*"))
    assert tf.train.latest_checkpoint(multi_checkpoints).endswith("ckpt-3")
    multi = _checkpoint_variables(multi_checkpoints)
    single = _checkpoint_variables(single_checkpoints)
    initial_dir = str(data / "initial")
    tf.train.Checkpoint(model=CycleGan(config)).save(os.path.join(initial_dir, "ckpt"))
    assert _max_difference(multi, _checkpoint_variables(initial_dir)) > 1e-4  # it trained...
    assert _max_difference(multi, single) < 1e-5  # ...as one process with two replicas
    # Only the chief exports what is served.
    assert os.path.exists(data / "multi" / "serving" / "saved_model.pb")
    assert glob.glob(str(data / "multi" / "run" / "worker-exports" / "worker-0" / "*.pb"))


def _wait_for(pattern, process, timeout_s):
    """Polls for a file; fails if the process ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not glob.glob(pattern):
        assert process.poll() is None, Path(process.log_path).read_text()[-3000:]
        assert time.monotonic() < deadline, f"nothing matched {pattern}"
        time.sleep(0.2)


def _log(process):
    return Path(process.log_path).read_text()


def _wait_for_text(process, text, timeout_s):
    """Polls the process's log for `text`; fails if the process ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while text not in _log(process):
        assert process.poll() is None, _log(process)[-3000:]
        assert time.monotonic() < deadline, f"no {text!r} in the log"
        time.sleep(0.2)


def test_a_lost_worker_stops_the_chief_a_restart_resumes_and_sigterm_stops_all(data):
    config = _config(steps=30, checkpoint_every=5)
    job = data / "job"
    processes, worker_address = _cluster(job, config)
    _wait_for(str(job / "checkpoints" / "*" / "ckpt-*.index"), processes["chief"], 300)
    processes["worker"].send_signal(signal.SIGKILL)
    processes["worker"].wait()
    code, output = _finish(processes["chief"], 120)  # bounded: it fails, it does not hang
    assert code != 0
    assert f"lost contact with worker-0 ({worker_address})" in output, output[-3000:]
    assert "restart every worker of the job: it resumes from" in output
    (checkpoints,) = glob.glob(str(job / "checkpoints" / "*"))
    saved_step = int(tf.train.latest_checkpoint(checkpoints).rsplit("-", 1)[1])
    assert 0 < saved_step < 30

    # The restart resumes there; SIGTERM to the chief then stops the whole cluster after one
    # agreed step: the chief saves and exits 143, the worker stops with it (exit 0).
    restarted, _ = _cluster(job, _config(steps=100_000, checkpoint_every=5))
    _wait_for_text(restarted["chief"], "Training 100000 steps", 300)
    assert re.search(
        rf"Resumed from step {saved_step}; training to step \d+", _log(restarted["chief"])
    )
    restarted["chief"].send_signal(signal.SIGTERM)
    outputs = {role: _finish(process, 300) for role, process in restarted.items()}
    (code, chief), (worker_code, worker) = outputs["chief"], outputs["worker"]
    assert code == 128 + signal.SIGTERM, chief[-3000:]
    stopped = re.search(r"Stopped by SIGTERM at step (\d+); checkpoint saved", chief)
    assert stopped, chief[-3000:]
    step = int(stopped.group(1))
    assert worker_code == 0, worker[-3000:]
    assert f"Stopped at step {step} with the cluster" in worker
    assert tf.train.latest_checkpoint(checkpoints).endswith(f"ckpt-{step}")
