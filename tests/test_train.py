"""The training loop: fit() trains, logs, checkpoints, resumes, stops on NaN, writes the grid."""

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cyclegan import samples, train
from cyclegan.model import CycleGan


def test_fit_trains_logs_and_writes_outputs(tmp_path, tiny_config, preprocessed, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    run_dir = str(tmp_path / "run")
    before = CycleGan(tiny_config).g_ab.get_weights()  # same seed, same initial weights
    evaluated = []

    def evaluate(model):  # after every epoch: to TensorBoard and the epoch's log line
        evaluated.append(int(model.step.numpy()))
        return {"score": 0.25}

    model = train.fit(
        tiny_config,
        preprocessed["train_a"],
        preprocessed["train_b"],
        preprocessed["test_a"],
        preprocessed["test_b"],
        run_dir,
        evaluate=evaluate,
    )
    assert int(model.generator_optimizer.iterations.numpy()) == 3 and evaluated == [3]
    assert any(not np.allclose(a, b) for a, b in zip(before, model.g_ab.get_weights()))
    grid = Image.open(os.path.join(run_dir, samples.GRID_FILE))
    assert grid.size == (3 * 32, 2 * tiny_config.grid_images * 32)  # 3 columns, A rows + B rows
    assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")).endswith("-3")
    (events,) = tf.io.gfile.glob(os.path.join(run_dir, "logs", "events.out.tfevents.*"))
    tags = {
        value.tag
        for event in tf.compat.v1.train.summary_iterator(events)
        for value in event.summary.value
    }
    assert {"loss/cycle", "eval/score"} <= tags
    assert '"epochs": 1' in Path(run_dir, "config.json").read_text()
    assert any(
        "epoch 1/1" in m and "steps/s" in m and "ETA" in m and "score 0.250" in m
        for m in caplog.messages
    )


def test_fit_resumes_from_the_last_checkpoint(tmp_path, tiny_config, preprocessed, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    files = (
        preprocessed["train_a"],
        preprocessed["train_b"],
        preprocessed["test_a"],
        preprocessed["test_b"],
    )
    run_dir = str(tmp_path / "run")
    train.fit(tiny_config, *files, run_dir)
    model = train.fit(tiny_config.replace(epochs=2), *files, run_dir)
    assert any("Resumed" in m and "at step 3" in m for m in caplog.messages)
    assert int(model.generator_optimizer.iterations.numpy()) == 6


def test_non_finite_loss_stops_training(tmp_path, tiny_config, preprocessed):
    # Step 1's losses come from the initial weights; the NaN update shows in step 2's.
    with pytest.raises(FloatingPointError, match="is nan at step 2"):
        train.fit(
            tiny_config.replace(learning_rate=float("nan")),
            preprocessed["train_a"],
            preprocessed["train_b"],
            preprocessed["test_a"],
            preprocessed["test_b"],
            str(tmp_path / "run"),
        )


def test_non_finite_loss_between_summaries_names_its_first_step_and_is_never_saved(
    tmp_path, tiny_config, preprocessed
):
    # The loop reads the losses only to write summaries or checkpoints, here never before the
    # epoch's end (step 3): it must still name step 2 and stop before the epoch's checkpoint.
    config = tiny_config.replace(
        learning_rate=float("nan"), summary_every_steps=100, checkpoint_every_steps=100
    )
    run_dir = str(tmp_path / "run")
    with pytest.raises(FloatingPointError, match="is nan at step 2"):
        train.fit(
            config,
            preprocessed["train_a"],
            preprocessed["train_b"],
            preprocessed["test_a"],
            preprocessed["test_b"],
            run_dir,
        )
    assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) is None


def test_a_batch_that_does_not_split_over_the_replicas_is_refused(
    tmp_path, tiny_config, preprocessed
):
    two_replicas = type("TwoReplicas", (), {"num_replicas_in_sync": 2})()
    with pytest.raises(ValueError, match="batch_size 1 does not split evenly over 2 replicas"):
        train.fit(
            tiny_config,
            preprocessed["train_a"],
            preprocessed["train_b"],
            preprocessed["test_a"],
            preprocessed["test_b"],
            str(tmp_path / "run"),
            strategy=two_replicas,
        )
