import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from PIL import Image

from cyclegan import data_contract, export, samples, serving_contract, train
from cyclegan.config import preset
from cyclegan.model import CycleGan, EpochLinearDecay
from tests.conftest import encode, random_pixels


def _write_pixels(path, size, count, seed):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(path) as writer:
        for index in range(count):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            writer.write(data_contract.make_pixel_example(
                pixels.tobytes(), size, f"{index}".encode()).SerializeToString())
    return path


@pytest.fixture
def preprocessed(tmp_path, tiny_config):
    """Preprocessed splits: 5 A and 7 B train images at load size, 2+2 test at crop size."""
    return {
        "train_a": _write_pixels(str(tmp_path / "trainA" / "d.tfrecord"), 36, 5, 1),
        "train_b": _write_pixels(str(tmp_path / "trainB" / "d.tfrecord"), 36, 7, 2),
        "test_a": _write_pixels(str(tmp_path / "testA" / "d.tfrecord"), 32, 2, 3),
        "test_b": _write_pixels(str(tmp_path / "testB" / "d.tfrecord"), 32, 2, 4),
    }


def test_fit_trains_logs_and_writes_outputs(tmp_path, tiny_config, preprocessed, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    run_dir = str(tmp_path / "run")
    before = CycleGan(tiny_config).g_ab.get_weights()  # same seed, same initial weights
    model = train.fit(tiny_config, preprocessed["train_a"], preprocessed["train_b"],
                      preprocessed["test_a"], preprocessed["test_b"], run_dir)
    assert int(model.generator_optimizer.iterations.numpy()) == 3
    assert any(not np.allclose(a, b) for a, b in zip(before, model.g_ab.get_weights()))
    grid = Image.open(os.path.join(run_dir, samples.GRID_FILE))
    assert grid.size == (3 * 32, 2 * tiny_config.grid_images * 32)  # 3 columns, A rows + B rows
    assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")).endswith("-3")
    assert tf.io.gfile.glob(os.path.join(run_dir, "logs", "events.out.tfevents.*"))
    assert '"epochs": 1' in Path(run_dir, "config.json").read_text()
    assert any("epoch 1/1" in m and "steps/s" in m and "ETA" in m for m in caplog.messages)


def test_epoch_covers_the_larger_domain(tiny_config, preprocessed):
    _, steps = train.input_pipeline.train_dataset(
        preprocessed["train_a"], preprocessed["train_b"],
        tiny_config.replace(steps_per_epoch=None), global_batch_size=2)
    assert steps == 7 // 2  # trainB has 7 images, trainA 5


def test_fit_resumes_from_the_last_checkpoint(tmp_path, tiny_config, preprocessed, caplog):
    caplog.set_level(logging.INFO, logger="cyclegan")
    files = (preprocessed["train_a"], preprocessed["train_b"], preprocessed["test_a"],
             preprocessed["test_b"])
    run_dir = str(tmp_path / "run")
    train.fit(tiny_config, *files, run_dir)
    model = train.fit(tiny_config.replace(epochs=2), *files, run_dir)
    assert any("Resumed" in m and "at step 3" in m for m in caplog.messages)
    assert int(model.generator_optimizer.iterations.numpy()) == 6


def test_non_finite_loss_stops_training(tmp_path, tiny_config, preprocessed):
    # Step 1's losses come from the initial weights; the NaN update shows in step 2's.
    with pytest.raises(FloatingPointError, match="is nan at step 2"):
        train.fit(tiny_config.replace(learning_rate=float("nan")), preprocessed["train_a"],
                  preprocessed["train_b"], preprocessed["test_a"], preprocessed["test_b"],
                  str(tmp_path / "run"))


def test_non_finite_loss_between_summaries_names_its_first_step_and_is_never_saved(
        tmp_path, tiny_config, preprocessed):
    # The loop reads the losses only to write summaries or checkpoints, here never before the
    # epoch's end (step 3): it must still name step 2 and stop before the epoch's checkpoint.
    config = tiny_config.replace(learning_rate=float("nan"), summary_every_steps=100,
                                 checkpoint_every_steps=100)
    run_dir = str(tmp_path / "run")
    with pytest.raises(FloatingPointError, match="is nan at step 2"):
        train.fit(config, preprocessed["train_a"], preprocessed["train_b"],
                  preprocessed["test_a"], preprocessed["test_b"], run_dir)
    assert tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) is None


def test_learning_rate_follows_the_papers_epoch_rule():
    # 100 constant epochs then 100 of decay, 10 steps per epoch: the factor for 0-based
    # epoch e is 1 - max(0, e + 1 - 100) / 101.
    schedule = EpochLinearDecay(2e-4, steps_per_epoch=10, constant_epochs=100,
                                      decay_epochs=100)
    for epoch, factor in [(0, 1.0), (99, 1.0), (100, 1 - 1 / 101), (150, 1 - 51 / 101),
                          (199, 1 / 101), (250, 0.0)]:
        for step in (epoch * 10, epoch * 10 + 9):
            assert float(schedule(step)) == pytest.approx(2e-4 * factor, rel=1e-6, abs=1e-12), step
    constant = EpochLinearDecay(2e-4, steps_per_epoch=10, constant_epochs=40,
                                      decay_epochs=0)
    assert float(constant(10_000)) == pytest.approx(2e-4)


def test_export_serves_image_bytes_in_both_directions(tmp_path, tiny_config):
    model = CycleGan(tiny_config)
    export_dir = export.export_generators(model.g_ab, model.g_ba, tiny_config,
                                          str(tmp_path / "export"))
    loaded = tf.saved_model.load(export_dir)
    saved_config = Path(export_dir, serving_contract.CONFIG_ASSET).read_text()
    assert type(tiny_config).from_dict(json.loads(saved_config)) == tiny_config
    assert set(loaded.signatures) == {"serving_default", "translate_a_to_b", "translate_b_to_a",
                                      "translate_a_to_b_float", "translate_b_to_a_float"}
    jpeg = encode(random_pixels(48, 60), "JPEG")
    gray_png = encode(random_pixels(20, 20), "PNG", "L")
    for name in ("serving_default", "translate_a_to_b", "translate_b_to_a"):
        out = loaded.signatures[name](image_bytes=tf.constant([jpeg, gray_png]))["png_bytes"]
        out = out.numpy()
        assert len(out) == 2
        for png in out:
            image = Image.open(io.BytesIO(png))
            assert (image.format, image.size, image.mode) == ("PNG", (32, 32), "RGB")
    default = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    a_to_b = loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert default.numpy()[0] == a_to_b.numpy()[0]
    # The same generator outside the SavedModel gives the same picture.
    pixels = export.image_ops.preprocess(tf.constant(jpeg), 32, tiny_config.resize_method)
    direct = model.g_ab(export.image_ops.to_unit_range(pixels)[None], training=False)[0]
    np.testing.assert_array_equal(tf.io.decode_png(default[0]).numpy(),
                                  export.image_ops.from_unit_range(direct).numpy())
    # The float signature is the bare generator.
    floats = loaded.signatures["translate_b_to_a_float"](images=pixels_batch(pixels))["images"]
    np.testing.assert_allclose(floats.numpy(), model.g_ba(pixels_batch(pixels),
                                                          training=False).numpy(), atol=1e-5)
    # Bytes that are not an image fail that request only.
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([b"not an image"]))
    again = loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert again.numpy()[0] == default.numpy()[0]
    info = json.loads(Path(os.path.join(export_dir, serving_contract.INFO_ASSET)).read_text())
    assert info["image_size"] == 32 and info["serving_default"] == "translate_a_to_b"


def pixels_batch(pixels):
    return export.image_ops.to_unit_range(pixels)[None]


def test_our_fused_adam_updates_exactly_like_the_tutorials_adam():
    start = tf.random.normal([5, 7])
    ours, reference = tf.Variable(start), tf.Variable(start)
    fused = CycleGan(preset("demo").replace(crop_size=32, load_size=32))._optimizer(1e-2)
    plain = keras.optimizers.Adam(1e-2, beta_1=0.5)  # what the tutorial uses
    for step in range(20):
        gradient = tf.random.normal([5, 7], seed=step) * (10.0 ** (step % 4 - 3))
        fused.apply_gradients([(gradient, ours)])
        plain.apply_gradients([(gradient, reference)])
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-7)
    assert not np.allclose(ours.numpy(), start.numpy())


@pytest.mark.parametrize("changes", [
    {"precision": "mixed_bfloat16"},
    {"precision": "mixed_float16"},
    {"jit_compile": True},
    {"pool_size": 3, "gan_loss": "lsgan", "generator": "resnet", "resnet_blocks": 1,
     "norm_affine": False, "conv_bias": True},
], ids=["bfloat16", "float16", "xla", "paper-features"])
def test_speed_and_paper_switches_train_with_float32_losses(tiny_config, changes):
    model = CycleGan(tiny_config.replace(**changes))
    step = tf.function(lambda a, b: model.train_step(a, b, 2))
    before = [w.numpy() for w in model.generator_variables]
    # float16's dynamic loss scaling skips steps whose gradients overflow while it finds its
    # scale, so allow some steps before the weights must have moved.
    for _ in range(20):
        losses = step(tf.random.uniform([2, 32, 32, 3], -1, 1),
                      tf.random.uniform([2, 32, 32, 3], -1, 1))
        for name, value in losses.items():
            assert value.dtype == tf.float32 and np.isfinite(value.numpy()), name
        if any(not np.allclose(a, b.numpy()) for a, b in zip(before,
                                                              model.generator_variables)):
            break
    else:
        raise AssertionError("20 steps left the generators unchanged")
    if "precision" in changes:
        assert model.g_ab.layers[1].compute_dtype == changes["precision"].split("_")[1]
        assert model.g_ab.output.dtype == tf.float32


def test_a_batch_that_does_not_split_over_the_replicas_is_refused(tmp_path, tiny_config,
                                                                   preprocessed):
    two_replicas = type("TwoReplicas", (), {"num_replicas_in_sync": 2})()
    with pytest.raises(ValueError, match="batch_size 1 does not split evenly over 2 replicas"):
        train.fit(tiny_config, preprocessed["train_a"], preprocessed["train_b"],
                  preprocessed["test_a"], preprocessed["test_b"], str(tmp_path / "run"),
                  strategy=two_replicas)
