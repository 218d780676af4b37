"""Training survives its faults: SIGTERM saves where it stopped, kill -9 resumes from the last
checkpoint and leaves no debris, two trainers of one training never interleave."""

import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from cyclegan import train
from tests.helpers import write_pixel_records

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    for seed, (split, size) in enumerate(
        [("trainA", 36), ("trainB", 36), ("testA", 32), ("testB", 32)]
    ):
        write_pixel_records(str(root / split / "d"), size, 4, seed)
    return str(root)


def _start(data, run_dir, checkpoints, config):
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "tests.fit_process", data, run_dir, checkpoints]
        + [config.to_json()],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(process, text):
    """Lines of the process's output up to the first that holds `text`."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            return lines
    process.wait()
    raise AssertionError(f"the process ended without {text!r}:\n{''.join(lines)[-3000:]}")


def _fit(config, data, run_dir, checkpoints):
    splits = [os.path.join(data, split, "*") for split in ("trainA", "trainB", "testA", "testB")]
    return train.fit(config, *splits, run_dir, checkpoints)


def _saved_steps(checkpoints):
    state = tf.train.get_checkpoint_state(checkpoints)
    return [int(path.rsplit("-", 1)[1]) for path in state.all_model_checkpoint_paths]


@pytest.mark.slow
def test_sigterm_saves_the_step_it_stopped_at_and_a_rerun_resumes_there(
    tmp_path, tiny_config, data, caplog
):
    config = tiny_config.replace(steps_per_epoch=100_000, checkpoint_every_steps=100_000)
    checkpoints = str(tmp_path / "checkpoints")
    process = _start(data, str(tmp_path / "run"), checkpoints, config)
    _read_until(process, "Training 100000 steps")  # the signal handlers are in place
    process.send_signal(signal.SIGTERM)
    output = "".join(process.stdout)
    assert process.wait() == 128 + signal.SIGTERM
    stopped = [line for line in output.splitlines() if "Stopped by SIGTERM at step" in line]
    assert len(stopped) == 1, output[-3000:]
    step = int(stopped[0].split("at step ")[1].split(";")[0])
    assert "; checkpoint saved: " in stopped[0] and _saved_steps(checkpoints) == [step]

    caplog.set_level(logging.INFO, logger="cyclegan")
    _fit(config.replace(steps_per_epoch=step + 2), data, str(tmp_path / "again"), checkpoints)
    assert any(
        m.startswith(f"Resumed from step {step}; training to step {step + 2}")
        for m in caplog.messages
    )


@pytest.mark.slow
def test_after_kill_9_a_rerun_resumes_and_removes_the_leftovers(
    tmp_path, tiny_config, data, caplog
):
    config = tiny_config.replace(steps_per_epoch=100_000, checkpoint_every_steps=5)
    checkpoints = str(tmp_path / "checkpoints")
    process = _start(data, str(tmp_path / "run"), checkpoints, config)
    _read_until(process, "Training 100000 steps")
    deadline = time.monotonic() + 300
    while not tf.train.latest_checkpoint(checkpoints):  # polls for the first checkpoint
        assert process.poll() is None, "training ended before it was killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    process.kill()
    process.wait()
    saved = max(_saved_steps(checkpoints))
    # What a save cut short by kill -9 leaves, and the dead trainer's lock.
    tf.io.gfile.makedirs(os.path.join(checkpoints, f"ckpt-{saved}_temp"))
    assert tf.io.gfile.exists(os.path.join(checkpoints, "trainer.lock"))

    caplog.set_level(logging.INFO, logger="cyclegan")
    config = config.replace(steps_per_epoch=saved + 1)
    _fit(config, data, str(tmp_path / "again"), checkpoints)
    assert any(m.startswith(f"Resumed from step {saved};") for m in caplog.messages)
    assert not tf.io.gfile.exists(os.path.join(checkpoints, f"ckpt-{saved}_temp"))
    # The dead trainer's lock was taken over at once (its process is gone), and released.
    assert any(m.startswith("Taking over") and f"pid {process.pid}" in m for m in caplog.messages)
    assert not tf.io.gfile.exists(os.path.join(checkpoints, "trainer.lock"))


@pytest.mark.slow
def test_two_trainers_of_one_training_write_one_checkpoint_sequence(tmp_path, tiny_config, data):
    checkpoints = str(tmp_path / "checkpoints")
    first, second = (
        _start(data, str(tmp_path / name), checkpoints, tiny_config) for name in ("a", "b")
    )
    outputs = [process.communicate()[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    waiting = [index for index, out in enumerate(outputs) if "Waiting for the trainer" in out]
    assert len(waiting) == 1  # the other held the folder
    holder = (first, second)[1 - waiting[0]]
    assert f"(pid {holder.pid})" in outputs[waiting[0]]
    assert "holds all 3 steps: nothing to train" in outputs[waiting[0]]
    assert _saved_steps(checkpoints) == [2, 3]  # one sequence, from the trainer that trained
