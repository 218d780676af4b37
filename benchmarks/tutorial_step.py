"""The TensorFlow CycleGAN tutorial's networks and train_step, written out as it writes them.

The baseline of the train-step benchmark and the reference tests/test_tutorial_parity.py holds
our step to, so nothing here comes from our own code. The layers are those of tensorflow/examples
tensorflow_examples/models/pix2pix/pix2pix.py (InstanceNormalization, downsample, upsample,
unet_generator, discriminator) on the path the tutorial takes: norm_type='instancenorm', and
target=False for the discriminator; the batch-norm path it never takes is left out. The losses,
optimizers and train_step are the notebook's (tensorflow/docs
site/en/tutorials/generative/cyclegan.ipynb): six generator calls and four discriminator calls
one at a time, four gradient calls on a persistent tape, four Adam optimizers. tf_keras stands in
for tf.keras: it is the Keras 2 that the tutorial was written for.

Two additions, each inactive unless asked for:
- unet_generator(image_size=...): the tutorial's U-Net works only at 256 px (eight stride-2
  blocks down to 1x1). A smaller power-of-two image reaches 1x1 sooner, so the innermost blocks
  of both stacks are left out; the three dropout blocks are the innermost, so none is left at
  32 px and one at 64 px (ours keeps dropout in its first three up-blocks at every size).
- gan_loss="lsgan": the paper's least-squares loss (MSE to 1 and 0) as loss_obj in place of the
  tutorial's BCE; discriminator_loss keeps its 0.5 factor, as the paper's code has it.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import tensorflow as tf
import tf_keras as keras

OUTPUT_CHANNELS = 3
LAMBDA = 10


class InstanceNormalization(keras.layers.Layer):
    """Instance Normalization Layer (https://arxiv.org/abs/1607.08022)."""

    def __init__(self, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=input_shape[-1:],
            initializer=tf.random_normal_initializer(1.0, 0.02),
            trainable=True,
        )
        self.offset = self.add_weight(
            name="offset", shape=input_shape[-1:], initializer="zeros", trainable=True
        )

    def call(self, x):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        inv = tf.math.rsqrt(variance + self.epsilon)
        normalized = (x - mean) * inv
        return self.scale * normalized + self.offset


def downsample(filters: int, size: int, apply_norm: bool = True) -> keras.Sequential:
    """Conv2D => InstanceNorm => LeakyRelu (Keras' default slope, 0.3)."""
    initializer = tf.random_normal_initializer(0.0, 0.02)
    result = keras.Sequential()
    result.add(
        keras.layers.Conv2D(
            filters, size, strides=2, padding="same", kernel_initializer=initializer, use_bias=False
        )
    )
    if apply_norm:
        result.add(InstanceNormalization())
    result.add(keras.layers.LeakyReLU())
    return result


def upsample(filters: int, size: int, apply_dropout: bool = False) -> keras.Sequential:
    """Conv2DTranspose => InstanceNorm => Dropout => Relu."""
    initializer = tf.random_normal_initializer(0.0, 0.02)
    result = keras.Sequential()
    result.add(
        keras.layers.Conv2DTranspose(
            filters, size, strides=2, padding="same", kernel_initializer=initializer, use_bias=False
        )
    )
    result.add(InstanceNormalization())
    if apply_dropout:
        result.add(keras.layers.Dropout(0.5))
    result.add(keras.layers.ReLU())
    return result


def unet_generator(output_channels: int, image_size: int = 256) -> keras.Model:
    """Modified u-net generator model (https://arxiv.org/abs/1611.07004)."""
    down_stack = [
        downsample(64, 4, apply_norm=False),  # (bs, 128, 128, 64)
        downsample(128, 4),  # (bs, 64, 64, 128)
        downsample(256, 4),  # (bs, 32, 32, 256)
        downsample(512, 4),  # (bs, 16, 16, 512)
        downsample(512, 4),  # (bs, 8, 8, 512)
        downsample(512, 4),  # (bs, 4, 4, 512)
        downsample(512, 4),  # (bs, 2, 2, 512)
        downsample(512, 4),  # (bs, 1, 1, 512)
    ]
    up_stack = [
        upsample(512, 4, apply_dropout=True),  # (bs, 2, 2, 1024)
        upsample(512, 4, apply_dropout=True),  # (bs, 4, 4, 1024)
        upsample(512, 4, apply_dropout=True),  # (bs, 8, 8, 1024)
        upsample(512, 4),  # (bs, 16, 16, 1024)
        upsample(256, 4),  # (bs, 32, 32, 512)
        upsample(128, 4),  # (bs, 64, 64, 256)
        upsample(64, 4),  # (bs, 128, 128, 128)
    ]
    # Not in the tutorial: below 256 px, leave out the blocks past 1x1 (the innermost).
    inner = max(0, len(down_stack) - (image_size.bit_length() - 1))
    down_stack, up_stack = down_stack[: len(down_stack) - inner], up_stack[inner:]

    initializer = tf.random_normal_initializer(0.0, 0.02)
    last = keras.layers.Conv2DTranspose(
        output_channels,
        4,
        strides=2,
        padding="same",
        kernel_initializer=initializer,
        activation="tanh",
    )  # (bs, 256, 256, 3)
    concat = keras.layers.Concatenate()

    inputs = keras.layers.Input(shape=[None, None, 3])
    x = inputs
    # Downsampling through the model
    skips = []
    for down in down_stack:
        x = down(x)
        skips.append(x)
    skips = reversed(skips[:-1])
    # Upsampling and establishing the skip connections
    for up, skip in zip(up_stack, skips):
        x = up(x)
        x = concat([x, skip])
    x = last(x)
    return keras.Model(inputs=inputs, outputs=x)


def discriminator() -> keras.Model:
    """PatchGan discriminator model (https://arxiv.org/abs/1611.07004), target=False."""
    initializer = tf.random_normal_initializer(0.0, 0.02)
    inp = keras.layers.Input(shape=[None, None, 3], name="input_image")
    x = inp
    down1 = downsample(64, 4, False)(x)  # (bs, 128, 128, 64)
    down2 = downsample(128, 4)(down1)  # (bs, 64, 64, 128)
    down3 = downsample(256, 4)(down2)  # (bs, 32, 32, 256)
    zero_pad1 = keras.layers.ZeroPadding2D()(down3)  # (bs, 34, 34, 256)
    conv = keras.layers.Conv2D(512, 4, strides=1, kernel_initializer=initializer, use_bias=False)(
        zero_pad1
    )  # (bs, 31, 31, 512)
    norm1 = InstanceNormalization()(conv)
    leaky_relu = keras.layers.LeakyReLU()(norm1)
    zero_pad2 = keras.layers.ZeroPadding2D()(leaky_relu)  # (bs, 33, 33, 512)
    last = keras.layers.Conv2D(1, 4, strides=1, kernel_initializer=initializer)(
        zero_pad2
    )  # (bs, 30, 30, 1)
    return keras.Model(inputs=inp, outputs=last)


class TutorialCycleGan:
    """The notebook's four networks, losses, four optimizers and train_step (X = our domain A,
    Y = B)."""

    def __init__(self, image_size: int = 256, gan_loss: str = "bce"):
        self.generator_g = unet_generator(OUTPUT_CHANNELS, image_size)  # X -> Y
        self.generator_f = unet_generator(OUTPUT_CHANNELS, image_size)  # Y -> X
        self.discriminator_x = discriminator()
        self.discriminator_y = discriminator()
        self.loss_obj = {
            "bce": keras.losses.BinaryCrossentropy(from_logits=True),
            "lsgan": keras.losses.MeanSquaredError(),
        }[gan_loss]
        self.optimizers = [keras.optimizers.Adam(2e-4, beta_1=0.5) for _ in self.networks]
        self.train_step = tf.function(self._train_step)

    @property
    def networks(self) -> Tuple[keras.Model, ...]:
        return self.generator_g, self.generator_f, self.discriminator_x, self.discriminator_y

    def discriminator_loss(self, real, generated):
        real_loss = self.loss_obj(tf.ones_like(real), real)
        generated_loss = self.loss_obj(tf.zeros_like(generated), generated)
        total_disc_loss = real_loss + generated_loss
        return total_disc_loss * 0.5

    def generator_loss(self, generated):
        return self.loss_obj(tf.ones_like(generated), generated)

    @staticmethod
    def calc_cycle_loss(real_image, cycled_image):
        loss1 = tf.reduce_mean(tf.abs(real_image - cycled_image))
        return LAMBDA * loss1

    @staticmethod
    def identity_loss(real_image, same_image):
        loss = tf.reduce_mean(tf.abs(real_image - same_image))
        return LAMBDA * 0.5 * loss

    def gradients(
        self, real_x: tf.Tensor, real_y: tf.Tensor
    ) -> Tuple[Dict[str, tf.Tensor], List[List[tf.Tensor]]]:
        """train_step up to its optimizers: (its losses, the gradients of each network in
        self.networks)."""
        generator_g, generator_f = self.generator_g, self.generator_f
        discriminator_x, discriminator_y = self.discriminator_x, self.discriminator_y
        with tf.GradientTape(persistent=True) as tape:
            fake_y = generator_g(real_x, training=True)
            cycled_x = generator_f(fake_y, training=True)

            fake_x = generator_f(real_y, training=True)
            cycled_y = generator_g(fake_x, training=True)

            # same_x and same_y are used for identity loss.
            same_x = generator_f(real_x, training=True)
            same_y = generator_g(real_y, training=True)

            disc_real_x = discriminator_x(real_x, training=True)
            disc_real_y = discriminator_y(real_y, training=True)

            disc_fake_x = discriminator_x(fake_x, training=True)
            disc_fake_y = discriminator_y(fake_y, training=True)

            gen_g_loss = self.generator_loss(disc_fake_y)
            gen_f_loss = self.generator_loss(disc_fake_x)
            total_cycle_loss = self.calc_cycle_loss(real_x, cycled_x) + self.calc_cycle_loss(
                real_y, cycled_y
            )
            identity_g = self.identity_loss(real_y, same_y)
            identity_f = self.identity_loss(real_x, same_x)
            total_gen_g_loss = gen_g_loss + total_cycle_loss + identity_g
            total_gen_f_loss = gen_f_loss + total_cycle_loss + identity_f

            disc_x_loss = self.discriminator_loss(disc_real_x, disc_fake_x)
            disc_y_loss = self.discriminator_loss(disc_real_y, disc_fake_y)

        generator_g_gradients = tape.gradient(total_gen_g_loss, generator_g.trainable_variables)
        generator_f_gradients = tape.gradient(total_gen_f_loss, generator_f.trainable_variables)
        discriminator_x_gradients = tape.gradient(disc_x_loss, discriminator_x.trainable_variables)
        discriminator_y_gradients = tape.gradient(disc_y_loss, discriminator_y.trainable_variables)
        losses = {
            "gen_g_loss": gen_g_loss,
            "gen_f_loss": gen_f_loss,
            "total_cycle_loss": total_cycle_loss,
            "identity_loss": identity_g + identity_f,
            "disc_x_loss": disc_x_loss,
            "disc_y_loss": disc_y_loss,
        }
        return losses, [
            generator_g_gradients,
            generator_f_gradients,
            discriminator_x_gradients,
            discriminator_y_gradients,
        ]

    def _train_step(self, real_x: tf.Tensor, real_y: tf.Tensor) -> Dict[str, tf.Tensor]:
        losses, gradients = self.gradients(real_x, real_y)
        for optimizer, network, network_gradients in zip(self.optimizers, self.networks, gradients):
            optimizer.apply_gradients(zip(network_gradients, network.trainable_variables))
        return losses
