"""The TensorFlow CycleGAN tutorial's train_step, re-implemented faithfully.

Six generator calls and four discriminator calls, one at a time; four gradient calls on a
persistent tape; four Adam optimizers; the tutorial's own InstanceNormalization layer
(moments, then normalise). The baseline of the train-step benchmark and the reference the
tests hold our batched step to.
"""

from __future__ import annotations

from typing import Dict

import tensorflow as tf
import tf_keras as keras


def _bce(target_is_real: bool, logits: tf.Tensor) -> tf.Tensor:
    target = tf.ones_like(logits) if target_is_real else tf.zeros_like(logits)
    return keras.losses.BinaryCrossentropy(from_logits=True)(target, logits)


def tutorial_losses(model, real_x: tf.Tensor, real_y: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The tutorial's losses, call by call (X = domain A, Y = domain B)."""
    lam = model.config.lambda_cycle
    generator_g, generator_f = model.g_ab, model.g_ba
    discriminator_x, discriminator_y = model.d_a, model.d_b
    fake_y = generator_g(real_x, training=True)
    cycled_x = generator_f(fake_y, training=True)
    fake_x = generator_f(real_y, training=True)
    cycled_y = generator_g(fake_x, training=True)
    same_x = generator_f(real_x, training=True)
    same_y = generator_g(real_y, training=True)
    disc_real_x = discriminator_x(real_x, training=True)
    disc_real_y = discriminator_y(real_y, training=True)
    disc_fake_x = discriminator_x(fake_x, training=True)
    disc_fake_y = discriminator_y(fake_y, training=True)
    gen_g_loss = _bce(True, disc_fake_y)
    gen_f_loss = _bce(True, disc_fake_x)
    total_cycle_loss = (lam * tf.reduce_mean(tf.abs(real_x - cycled_x))
                        + lam * tf.reduce_mean(tf.abs(real_y - cycled_y)))
    identity_g = lam * 0.5 * tf.reduce_mean(tf.abs(real_y - same_y))
    identity_f = lam * 0.5 * tf.reduce_mean(tf.abs(real_x - same_x))
    return {
        "total_gen_g": gen_g_loss + total_cycle_loss + identity_g,
        "total_gen_f": gen_f_loss + total_cycle_loss + identity_f,
        "gen_g": gen_g_loss, "gen_f": gen_f_loss, "cycle": total_cycle_loss,
        "identity": identity_g + identity_f,
        "disc_x": 0.5 * (_bce(True, disc_real_x) + _bce(False, disc_fake_x)),
        "disc_y": 0.5 * (_bce(True, disc_real_y) + _bce(False, disc_fake_y)),
    }


class TutorialInstanceNormalization(keras.layers.Layer):
    """The tutorial's layer (tensorflow_examples pix2pix.InstanceNormalization)."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=input_shape[-1:],
                                     initializer=tf.random_normal_initializer(1.0, 0.02),
                                     trainable=True)
        self.offset = self.add_weight(name="offset", shape=input_shape[-1:],
                                      initializer="zeros", trainable=True)
        super().build(input_shape)

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        inv = tf.math.rsqrt(variance + self.epsilon)
        normalized = (x - mean) * inv
        return self.scale * normalized + self.offset


def _with_tutorial_norm(network: keras.Model) -> keras.Model:
    """A copy of one of our networks with the tutorial's norm layer, same weights."""
    from components.cyclegan.networks import InstanceNormalization

    def swap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=swap)
        if isinstance(layer, InstanceNormalization):
            return TutorialInstanceNormalization(layer.epsilon)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(network, clone_function=swap)
    copy.set_weights(network.get_weights())
    return copy


class TutorialNetworks:
    """The four networks of a CycleGan, rebuilt with the tutorial's norm layer."""

    def __init__(self, model):
        self.config = model.config
        self.g_ab, self.g_ba, self.d_a, self.d_b = (
            _with_tutorial_norm(n) for n in (model.g_ab, model.g_ba, model.d_a, model.d_b))


class TutorialStep:
    """The tutorial's train_step over a CycleGan's networks (or TutorialNetworks), with its
    own four optimizers."""

    def __init__(self, model, learning_rate: float = 2e-4, beta_1: float = 0.5):
        self.model = model
        self.optimizers = [keras.optimizers.Adam(learning_rate, beta_1=beta_1) for _ in range(4)]
        self.step = tf.function(self._step)

    def _step(self, real_x, real_y):
        model = self.model
        with tf.GradientTape(persistent=True) as tape:
            losses = tutorial_losses(model, real_x, real_y)
        for optimizer, network, loss in zip(
                self.optimizers, (model.g_ab, model.g_ba, model.d_a, model.d_b),
                ("total_gen_g", "total_gen_f", "disc_x", "disc_y")):
            gradients = tape.gradient(losses[loss], network.trainable_variables)
            optimizer.apply_gradients(zip(gradients, network.trainable_variables))
        return losses
