"""The Trainer's run_fn on its own: FnArgs in, a served SavedModel and stable checkpoints out."""

import os

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
        custom_config=run_fn.custom_config(config, str(tmp_path / "root")),
    )


def test_run_fn_trains_exports_and_resumes_where_the_same_training_left_off(
    tmp_path, tiny_config, preprocessed
):
    run_fn.run_fn(_fn_args(tmp_path, preprocessed, tiny_config, "first"))
    loaded = tf.saved_model.load(str(tmp_path / "first" / "serving"))
    assert serving_contract.DEFAULT_SIGNATURE in loaded.signatures
    (checkpoints,) = tf.io.gfile.glob(str(tmp_path / "root" / "checkpoints" / "*"))
    assert tf.train.latest_checkpoint(checkpoints).endswith("ckpt-3")

    # A re-run of the same training (same inputs and config) finds that directory again,
    # with nothing left to train; another config gets a directory of its own.
    longer = tiny_config.replace(epochs=2)
    assert run_fn.checkpoint_dir(
        str(tmp_path / "root"), tiny_config, ["a"], ["b"]
    ) != run_fn.checkpoint_dir(str(tmp_path / "root"), longer, ["a"], ["b"])
    same = _fn_args(tmp_path, preprocessed, tiny_config, "again")
    run_fn.run_fn(same)
    assert tf.io.gfile.glob(str(tmp_path / "root" / "checkpoints" / "*")) == [checkpoints]
    assert os.path.exists(tmp_path / "again" / "serving" / "saved_model.pb")
