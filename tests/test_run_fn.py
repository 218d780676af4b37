"""The Trainer's run_fn on its own: FnArgs in, a served SavedModel and stable checkpoints out;
warm starts from a pushed model or a checkpoint."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import run_fn
from cyclegan import serving_contract


def _fn_args(tmp_path, preprocessed, config, job):
    return FnArgs(
        train_files=[preprocessed["train_a"], preprocessed["train_b"]],
        eval_files=[preprocessed["test_a"], preprocessed["test_b"]],
        model_run_dir=str(tmp_path / job / "run"),
        serving_model_dir=str(tmp_path / job / "serving"),
        hyperparameters=run_fn.hyperparameters(config),
        custom_config=run_fn.custom_config(str(tmp_path / "root")),
    )


def _translate(model_dir, images):
    loaded = tf.saved_model.load(model_dir)
    return [
        loaded.signatures[name](images=images)["images"].numpy()
        for name in ("translate_a_to_b_float", "translate_b_to_a_float")
    ]


def test_run_fn_trains_exports_and_warm_starts(tmp_path, tiny_config, preprocessed, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    run_fn.run_fn(_fn_args(tmp_path, preprocessed, tiny_config, "first"))
    pushed = str(tmp_path / "first" / "serving")
    assert serving_contract.DEFAULT_SIGNATURE in tf.saved_model.load(pushed).signatures
    (checkpoints,) = tf.io.gfile.glob(str(tmp_path / "root" / "checkpoints" / "*"))
    assert tf.train.latest_checkpoint(checkpoints).endswith("ckpt-3")

    # Fine-tuning from the pushed model (learning rate 0: the weights stay as loaded).
    caplog.clear()
    tuned = tiny_config.replace(init_from=pushed, learning_rate=0.0)
    run_fn.run_fn(_fn_args(tmp_path, preprocessed, tuned, "tuned"))
    assert (
        f"Started both generators from SavedModel {pushed}; the discriminators start fresh"
        in caplog.messages
    )
    images = tf.random.stateless_uniform([1, 32, 32, 3], [5, 6], -1, 1)
    for ours, base in zip(
        _translate(str(tmp_path / "tuned" / "serving"), images), _translate(pushed, images)
    ):
        np.testing.assert_allclose(ours, base, atol=1e-6)

    # ...or from a checkpoint: the discriminators too. Each warm start is a training of its own
    # (init_from is part of its identity), beside the first.
    caplog.clear()
    from_checkpoint = tiny_config.replace(init_from=checkpoints, learning_rate=0.0)
    run_fn.run_fn(_fn_args(tmp_path, preprocessed, from_checkpoint, "from-checkpoint"))
    assert any(
        m.startswith("Started both generators and both discriminators from checkpoint")
        for m in caplog.messages
    )
    assert len(tf.io.gfile.glob(str(tmp_path / "root" / "checkpoints" / "*"))) == 3

    # Another architecture is refused in one line naming both.
    wider = tiny_config.replace(init_from=pushed, generator_filters=8)
    with pytest.raises(ValueError) as refused:
        run_fn.run_fn(_fn_args(tmp_path, preprocessed, wider, "wider"))
    message = str(refused.value)
    assert message.startswith(f"train.init_from {pushed} holds a unet generator (4 filters")
    assert "this config trains a unet generator (8 filters" in message and "\n" not in message


def test_the_trainer_gets_only_the_sections_it_reads(tiny_config):
    assert set(run_fn.hyperparameters(tiny_config)) == {
        "data",
        "train",
        "observability",
        "export",
    }
    stricter = tiny_config.replace(min_domain_score=0.9, domain_classifier_steps=1)
    assert run_fn.hyperparameters(stricter) == run_fn.hyperparameters(tiny_config)
