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
    assert grid.size == (
        3 * 32,
        2 * tiny_config.observability.grid_images * 32,
    )  # 3 columns, A rows + B rows
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
    assert "Precision: float32 (train.precision=float32: set in the config)" in caplog.messages


def _files(preprocessed):
    return tuple(preprocessed[s] for s in ("train_a", "train_b", "test_a", "test_b"))


def _weights(model):
    return [v.numpy() for v in model.generator_variables + model.discriminator_variables]


def test_training_longer_resumes_and_ends_where_one_straight_run_ends(
    tmp_path, tiny_config, preprocessed, caplog
):
    """1 epoch, then 2: N + N steps, not 2N, and (constant learning rate, no dropout, no
    image pool) the same weights as one straight 2-epoch run. Then a decay after them follows
    the new total, and a shorter config keeps the model as it is."""
    caplog.set_level(logging.INFO, logger="cyclegan")
    config = tiny_config.replace(unet_dropout=0.0, pool_size=0)
    files = _files(preprocessed)
    checkpoints = str(tmp_path / "checkpoints")
    train.fit(config, *files, str(tmp_path / "first"), checkpoints)
    caplog.clear()
    resumed = train.fit(config.replace(epochs=2), *files, str(tmp_path / "second"), checkpoints)
    assert "Resumed from step 3; training to step 6; schedule: constant 0.0002" in caplog.messages
    assert any(m.startswith("epoch 2/2  3 steps in") for m in caplog.messages)
    assert not any(m.startswith("epoch 1/2") for m in caplog.messages)  # only the new steps
    assert int(resumed.generator_optimizer.iterations.numpy()) == 6

    straight = train.fit(config.replace(epochs=2), *files, str(tmp_path / "straight"))
    for ours, theirs in zip(_weights(resumed), _weights(straight)):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)

    caplog.clear()
    decayed = config.replace(epochs=2, decay_epochs=2)
    train.fit(decayed, *files, str(tmp_path / "decayed"), checkpoints)
    assert (
        "Resumed from step 6; training to step 12; schedule: 0.0002 to step 6, then down by "
        "the epoch to 0 at step 12" in caplog.messages
    )
    caplog.clear()
    kept = train.fit(config, *files, str(tmp_path / "shorter"), checkpoints)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"The checkpoint in {checkpoints} holds 12 steps, more than the 3")
    assert "the model is exported as it is" in warning
    assert int(kept.step.numpy()) == 12  # not cut back, not trained further
    assert os.path.exists(tmp_path / "shorter" / "translations.png")


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
