"""Our CycleGAN step against the tutorial's (benchmarks/tutorial_step.py), from identical weights.

32 px with the tutorial's real widths: its layer functions have no width parameter, and its
U-Net leaves out its innermost blocks below 256 px. Dropout is off on both sides: ours by
unet_dropout=0; the tutorial's three dropout blocks are among those innermost ones
(asserted).
"""

from typing import List, Tuple

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from benchmarks import tutorial_step
from benchmarks.tutorial_step import TutorialCycleGan
from cyclegan import networks
from cyclegan.config import preset
from cyclegan.model import CycleGan

SIZE = 32


def _layers(model: keras.Model) -> List[keras.layers.Layer]:
    return [
        inner
        for layer in model.layers
        for inner in (_layers(layer) if isinstance(layer, keras.Model) else [layer])
    ]


def _pair(gan_loss: str) -> Tuple[CycleGan, TutorialCycleGan]:
    """Ours (tutorial preset, or its paper-loss variant) and the tutorial's, same weights."""
    config = preset("tutorial").replace(
        crop_size=SIZE,
        load_size=SIZE,
        unet_dropout=0.0,
        gan_loss=gan_loss,
        pool_size=0,
        precision="float32",  # the tutorial's
    )
    ours = CycleGan(config)
    tutorial = TutorialCycleGan(SIZE, gan_loss)
    assert not any(
        isinstance(layer, keras.layers.Dropout)
        for network in tutorial.networks
        for layer in _layers(network)
    )
    # Both build the same graph in the same order, so their variables pair up by position;
    # equal shapes check the pairing, the equal results below prove it.
    for mine, theirs in zip(_our_networks(ours), tutorial.networks):
        assert len(mine.weights) == len(theirs.weights)
        for source, target in zip(mine.weights, theirs.weights):
            assert source.shape == target.shape, (source.name, target.name)
            target.assign(source)
    return ours, tutorial


def _our_networks(model: CycleGan) -> Tuple[keras.Model, ...]:
    return model.g_ab, model.g_ba, model.d_a, model.d_b  # the tutorial's G, F, D_X, D_Y


def _images() -> Tuple[tf.Tensor, tf.Tensor]:
    return (
        tf.random.stateless_uniform([1, SIZE, SIZE, 3], [1, 2], -1, 1),
        tf.random.stateless_uniform([1, SIZE, SIZE, 3], [3, 4], -1, 1),
    )


def _assert_same_step(
    ours: keras.Model, theirs: keras.Model, start: List[np.ndarray], learning_rate: float
) -> None:
    """Adam's first step moves a weight by lr * g / (|g| + 1e-7): lr whatever the gradient's
    size, unless the gradient is near zero, where float32 noise in it (~1e-5 of the
    variable's largest gradient, as batched calls and fused instance norm sum in other
    orders) moves the step by a fraction of lr. The two Adam kernels (our legacy fused one,
    the tutorial's Keras Adam) round differently too. So: all but a few weights of the
    network agree to float32 rounding, none is half a step apart, and the step moved them."""
    differences, moves = [], []
    for source, target, initial in zip(ours.weights, theirs.weights, start):
        difference = np.abs(source.numpy() - target.numpy())
        assert difference.max() < learning_rate / 2, f"{ours.name}: {source.name}"
        differences.append(difference.ravel())
        moves.append(np.abs(source.numpy() - initial).max())
    assert np.mean(np.concatenate(differences) > 1e-6) < 1e-3, ours.name
    assert max(moves) > learning_rate / 2, f"{ours.name} did not change"


@pytest.mark.parametrize("gan_loss", ["bce", "lsgan"], ids=["tutorial-bce", "paper-lsgan"])
def test_one_step_of_ours_leaves_the_weights_of_one_step_of_the_tutorials(gan_loss):
    ours, tutorial = _pair(gan_loss)
    before = [[w.numpy() for w in network.weights] for network in tutorial.networks]
    real_a, real_b = _images()
    # Eagerly: the same ops as under tf.function, without tracing either step.
    ours.train_step(real_a, real_b, 1)
    tutorial.train_step.python_function(real_a, real_b)
    for mine, theirs, start in zip(_our_networks(ours), tutorial.networks, before):
        _assert_same_step(mine, theirs, start, ours.config.train.learning_rate)


def test_compute_gradients_gives_all_four_networks_the_tutorials_gradients():
    # Adam's step is blind to the gradients' scale (the first is about lr * sign(gradient)),
    # so the test above pins their signs; this one pins their values, and the losses.
    ours, tutorial = _pair("bce")
    real_a, real_b = _images()
    generator_grads, discriminator_grads, ours_losses = ours.compute_gradients(real_a, real_b, 1)
    tutorial_losses, tutorial_grads = tutorial.gradients(real_a, real_b)
    for our_name, tutorial_name in [
        ("generator_ab", "gen_g_loss"),
        ("generator_ba", "gen_f_loss"),
        ("cycle", "total_cycle_loss"),
        ("identity", "identity_loss"),
        ("discriminator_a", "disc_x_loss"),
        ("discriminator_b", "disc_y_loss"),
    ]:
        assert float(ours_losses[our_name]) == pytest.approx(
            float(tutorial_losses[tutorial_name]), rel=1e-5
        ), our_name
    ours_grads = list(generator_grads) + list(discriminator_grads)
    for network, theirs in zip(_our_networks(ours), tutorial_grads):
        mine, ours_grads = ours_grads[: len(theirs)], ours_grads[len(theirs) :]
        for variable, our_grad, their_grad in zip(network.trainable_variables, mine, theirs):
            # Summation order differs, so errors scale with the variable's largest gradient.
            np.testing.assert_allclose(
                our_grad.numpy(),
                their_grad.numpy(),
                rtol=1e-4,
                atol=1e-4 * float(tf.reduce_max(tf.abs(their_grad))),
                err_msg=f"{network.name}: {variable.name}",
            )
    assert not ours_grads


def test_at_256_px_the_tutorial_preset_has_the_tutorials_weights_layer_for_layer():
    """The steps above run at 32 px, where the tutorial's U-Net leaves out three blocks."""
    config = preset("tutorial")
    for mine, theirs in [
        (networks.generator(config, "g"), tutorial_step.unet_generator(3)),
        (networks.patchgan_discriminator(config, "d"), tutorial_step.discriminator()),
    ]:
        assert [w.shape for w in mine.weights] == [w.shape for w in theirs.weights]
