"""Training survives interruption: kill the pipeline mid-training, re-run, it resumes."""

import glob
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import local_runner
from tests.helpers import TINY_FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOTAL_STEPS = 300
FLAGS = [*TINY_FLAGS, f"--set=steps_per_epoch={TOTAL_STEPS}", "--set=checkpoint_every_steps=5"]


def _wait_for_checkpoint(pattern: str, process: subprocess.Popen, timeout_s: float) -> None:
    """Polls for a checkpoint index file; fails if the process ends or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not glob.glob(pattern):
        assert process.poll() is None, "training ended before it was interrupted"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, caplog):
    output_dir = str(tmp_path / "out")
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "local_runner.py"), "--output-dir", output_dir, *FLAGS],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = os.path.join(output_dir, "tfx", "checkpoints", "*")
    try:
        _wait_for_checkpoint(os.path.join(checkpoints, "ckpt-*.index"), process, 600)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (checkpoint_dir,) = glob.glob(checkpoints)
    saved_step = int(tf.train.latest_checkpoint(checkpoint_dir).rsplit("-", 1)[1])
    assert 0 < saved_step < TOTAL_STEPS

    caplog.set_level(logging.INFO, logger="cyclegan")
    assert local_runner.main(["--output-dir", output_dir, *FLAGS]) == 0
    resumed = [m for m in caplog.messages if m.startswith("Resumed from")]
    assert resumed == [
        f"Resumed from step {saved_step}; training to step {TOTAL_STEPS}; schedule: constant 0.0002"
    ]
    assert tf.train.latest_checkpoint(checkpoint_dir).endswith(f"ckpt-{TOTAL_STEPS}")
    epoch_line = next(m for m in caplog.messages if m.startswith("epoch 1/1"))
    assert f"{TOTAL_STEPS - saved_step} steps in" in epoch_line  # only the missing steps ran
