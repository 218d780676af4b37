"""The model and its training step: the schedule, the optimizer, the precision and paper
switches. (That one step equals the tutorial's is tests/test_tutorial_parity.py.)"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from cyclegan.config import preset
from cyclegan.model import CycleGan, EpochLinearDecay


def test_learning_rate_follows_the_papers_epoch_rule():
    # 100 constant epochs then 100 of decay, 10 steps per epoch: the factor for 0-based
    # epoch e is 1 - max(0, e + 1 - 100) / 101.
    schedule = EpochLinearDecay(2e-4, steps_per_epoch=10, constant_epochs=100, decay_epochs=100)
    for epoch, factor in [
        (0, 1.0),
        (99, 1.0),
        (100, 1 - 1 / 101),
        (150, 1 - 51 / 101),
        (199, 1 / 101),
        (250, 0.0),
    ]:
        for step in (epoch * 10, epoch * 10 + 9):
            assert float(schedule(step)) == pytest.approx(2e-4 * factor, rel=1e-6, abs=1e-12), step
    constant = EpochLinearDecay(2e-4, steps_per_epoch=10, constant_epochs=40, decay_epochs=0)
    assert float(constant(10_000)) == pytest.approx(2e-4)


def test_our_fused_adam_updates_exactly_like_the_tutorials_adam():
    # Fixed draws. The two compute the update in a different float32 order: after 20 steps,
    # values near 1e-2 differ by up to ~6e-7 (seen), hence atol 2e-6.
    start = tf.random.stateless_normal([5, 7], seed=[1, 2])
    ours, reference = tf.Variable(start), tf.Variable(start)
    fused = CycleGan(preset("demo").replace(crop_size=32, load_size=32))._optimizer(1e-2)
    plain = keras.optimizers.Adam(1e-2, beta_1=0.5)  # what the tutorial uses
    for step in range(20):
        gradient = tf.random.stateless_normal([5, 7], seed=[3, step]) * (10.0 ** (step % 4 - 3))
        fused.apply_gradients([(gradient, ours)])
        plain.apply_gradients([(gradient, reference)])
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=2e-6)
    assert not np.allclose(ours.numpy(), start.numpy())


@pytest.mark.parametrize(
    "changes",
    [
        {"precision": "mixed_bfloat16"},
        {"precision": "mixed_float16"},
        {"jit_compile": True},
        {
            "pool_size": 3,
            "gan_loss": "lsgan",
            "generator": "resnet",
            "resnet_blocks": 1,
            "norm_affine": False,
            "conv_bias": True,
        },
    ],
    ids=["bfloat16", "float16", "xla", "paper-features"],
)
def test_speed_and_paper_switches_train_with_float32_losses(tiny_config, changes):
    model = CycleGan(tiny_config.replace(**changes))
    step = tf.function(lambda a, b: model.train_step(a, b, 2))
    before = [w.numpy() for w in model.generator_variables]
    # float16's dynamic loss scaling skips steps whose gradients overflow while it finds its
    # scale, so allow some steps before the weights must have moved.
    for _ in range(20):
        losses = step(
            tf.random.uniform([2, 32, 32, 3], -1, 1), tf.random.uniform([2, 32, 32, 3], -1, 1)
        )
        for name, value in losses.items():
            assert value.dtype == tf.float32 and np.isfinite(value.numpy()), name
        if any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.generator_variables)):
            break
    else:
        raise AssertionError("20 steps left the generators unchanged")
    if "precision" in changes:
        assert model.g_ab.layers[1].compute_dtype == changes["precision"].split("_")[1]
        assert model.g_ab.output.dtype == tf.float32
