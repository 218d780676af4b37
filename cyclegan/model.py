"""The CycleGAN model and its training step, run per replica under a tf.distribute strategy.

The step computes the tutorial's math with fewer, batched network calls: G runs once on
[A, B] (translation and identity), F once on [B, A], then each once more for the cycle.
Instance norm is per-sample, so batching is exact. Each discriminator sees real and fake
images in separate calls, so the generators' backward pass runs through the fakes only. One
generator gradient over the sum of both generators' losses gives each generator exactly the
gradient of its own loss in the tutorial (the terms of the other do not depend on its
weights; the shared cycle term is counted once).
"""

from __future__ import annotations

from typing import Dict

import tensorflow as tf
import tf_keras as keras

from cyclegan import losses, networks, precision
from cyclegan.config import Config
from cyclegan.image_pool import ImagePool

LOSS_NAMES = (
    "generator_ab",
    "generator_ba",
    "cycle",
    "identity",
    "discriminator_a",
    "discriminator_b",
)


class EpochLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The paper's schedule: constant for `constant_epochs`, then linear decay over
    `decay_epochs`, stepped per epoch: factor = 1 - max(0, epoch + 1 - constant) / (decay + 1)
    for the 0-based epoch (as pytorch-CycleGAN-and-pix2pix's lambda rule). Constant when
    decay_epochs is 0."""

    def __init__(
        self, learning_rate: float, steps_per_epoch: int, constant_epochs: int, decay_epochs: int
    ):
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs

    def __call__(self, step):
        if not self.decay_epochs:
            return tf.constant(self.learning_rate, tf.float32)
        epoch = tf.cast(step // self.steps_per_epoch, tf.float32)
        late = tf.maximum(0.0, epoch + 1.0 - self.constant_epochs)
        return self.learning_rate * tf.maximum(0.0, 1.0 - late / (self.decay_epochs + 1.0))

    def describe(self) -> str:
        """The schedule in words, in steps."""
        if not self.decay_epochs:
            return f"constant {self.learning_rate:g}"
        constant_steps = self.constant_epochs * self.steps_per_epoch
        end = (self.constant_epochs + self.decay_epochs) * self.steps_per_epoch
        return (
            f"{self.learning_rate:g} to step {constant_steps}, then down by the epoch to 0 "
            f"at step {end}"
        )

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "constant_epochs": self.constant_epochs,
            "decay_epochs": self.decay_epochs,
        }


class CycleGan(tf.Module):
    """Both generators, both discriminators, their optimizers and (paper) image pools.

    Build inside strategy.scope().
    """

    def __init__(self, config: Config, steps_per_epoch: int = 1):
        super().__init__(name="cyclegan")
        self.config = config
        keras.utils.set_random_seed(config.train.seed)
        self.precision = precision.resolve(config.train.precision)
        with networks.built_in(self.precision.policy):
            self.g_ab = networks.generator(config, "generator_ab")  # G: A -> B
            self.g_ba = networks.generator(config, "generator_ba")  # F: B -> A
            self.d_a = networks.patchgan_discriminator(config, "discriminator_a")
            self.d_b = networks.patchgan_discriminator(config, "discriminator_b")
        self.learning_rate = EpochLinearDecay(
            config.train.learning_rate,
            steps_per_epoch,
            config.train.epochs,
            config.train.decay_epochs,
        )
        # One Adam per role: Adam is per-variable, so this equals the tutorial's four.
        self.generator_optimizer = self._optimizer(self.learning_rate)
        self.discriminator_optimizer = self._optimizer(self.learning_rate)
        image_shape = [config.data.crop_size, config.data.crop_size, 3]
        self.pool_a, self.pool_b = (
            (
                ImagePool(config.train.pool_size, image_shape, "pool_a"),
                ImagePool(config.train.pool_size, image_shape, "pool_b"),
            )
            if config.train.pool_size
            else (None, None)
        )

    def _optimizer(self, schedule) -> keras.optimizers.Optimizer:
        # The legacy Adam runs TensorFlow's fused ResourceApplyAdam kernel, one pass over
        # each variable instead of several ops: ~20% off a CPU step whose networks hold 64M
        # parameters. Its update is the current Keras Adam's (epsilon-hat form, the
        # tutorial's optimizer); a test holds it to that.
        optimizer = keras.optimizers.legacy.Adam(schedule, beta_1=self.config.train.beta_1)
        if self.precision.policy == "mixed_float16":  # float16 gradients need loss scaling
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        return optimizer

    @property
    def step(self) -> tf.Variable:
        """The global step: the generator optimizer's iteration count (checkpointed)."""
        return self.generator_optimizer.iterations

    @property
    def generator_variables(self):
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    @property
    def discriminator_variables(self):
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def _discriminate(self, discriminator, pool, real, fake):
        """(logits on real, logits on fake for the generator, logits on fake for the
        discriminator). With a pool, the discriminator's fakes come from the history;
        without, they are the current fakes. Real images get a call of their own: batched
        with the fakes, the generators' backward pass would also run through them."""
        real_logits = discriminator(real, training=True)
        fake_logits = discriminator(fake, training=True)
        if pool is None:
            return real_logits, fake_logits, fake_logits
        pooled_logits = discriminator(tf.stop_gradient(pool.query(fake)), training=True)
        return real_logits, fake_logits, pooled_logits

    def per_example_losses(self, real_a: tf.Tensor, real_b: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Every loss term as a [batch] float32 vector, from one forward pass."""
        with networks.kernels_cast_once([self.g_ab, self.g_ba, self.d_a, self.d_b]):
            return self._per_example_losses(real_a, real_b)

    def _per_example_losses(self, real_a: tf.Tensor, real_b: tf.Tensor) -> Dict[str, tf.Tensor]:
        config = self.config
        n = tf.shape(real_a)[0]
        fake_b, same_b = tf.split(self.g_ab(tf.concat([real_a, real_b], 0), training=True), [n, n])
        fake_a, same_a = tf.split(self.g_ba(tf.concat([real_b, real_a], 0), training=True), [n, n])
        cycled_a = self.g_ba(fake_b, training=True)
        cycled_b = self.g_ab(fake_a, training=True)
        d_a_real, d_a_fake, d_a_pooled = self._discriminate(self.d_a, self.pool_a, real_a, fake_a)
        d_b_real, d_b_fake, d_b_pooled = self._discriminate(self.d_b, self.pool_b, real_b, fake_b)
        kind = config.train.gan_loss
        return {
            "generator_ab": losses.adversarial(d_b_fake, True, kind),
            "generator_ba": losses.adversarial(d_a_fake, True, kind),
            "cycle": config.train.lambda_cycle
            * (losses.l1(real_a, cycled_a) + losses.l1(real_b, cycled_b)),
            "identity": config.train.lambda_cycle
            * config.train.lambda_identity
            * (losses.l1(real_b, same_b) + losses.l1(real_a, same_a)),
            "discriminator_a": losses.discriminator(d_a_real, d_a_pooled, kind),
            "discriminator_b": losses.discriminator(d_b_real, d_b_pooled, kind),
        }

    def _scaled(self, optimizer, loss):
        return optimizer.get_scaled_loss(loss) if hasattr(optimizer, "get_scaled_loss") else loss

    def _unscaled(self, optimizer, grads):
        if hasattr(optimizer, "get_unscaled_gradients"):
            return optimizer.get_unscaled_gradients(grads)
        return grads

    def compute_gradients(self, real_a: tf.Tensor, real_b: tf.Tensor, global_batch_size: int):
        """(generator grads, discriminator grads, this replica's share of each loss's
        global-batch mean). Pure computation: XLA-compilable."""
        with networks.KernelGradients.collecting() as kernel_gradients:
            return self._compute_gradients(real_a, real_b, global_batch_size, kernel_gradients)

    def _compute_gradients(self, real_a, real_b, global_batch_size, kernel_gradients):
        with tf.GradientTape(persistent=True) as tape:
            per_example = self.per_example_losses(real_a, real_b)
            mean = {
                name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
                for name, value in per_example.items()
            }
            generator_total = (
                mean["generator_ab"] + mean["generator_ba"] + mean["cycle"] + mean["identity"]
            )
            discriminator_total = mean["discriminator_a"] + mean["discriminator_b"]
            generator_scaled = self._scaled(self.generator_optimizer, generator_total)
            discriminator_scaled = self._scaled(self.discriminator_optimizer, discriminator_total)
        # The discriminators see the fakes without stop_gradient; that is exact because each
        # gradient below is taken only with respect to its own networks' variables.
        generator_grads = self._unscaled(
            self.generator_optimizer,
            kernel_gradients.gradient(tape, generator_scaled, self.generator_variables),
        )
        discriminator_grads = self._unscaled(
            self.discriminator_optimizer,
            kernel_gradients.gradient(tape, discriminator_scaled, self.discriminator_variables),
        )
        return generator_grads, discriminator_grads, mean

    def train_step(
        self, real_a: tf.Tensor, real_b: tf.Tensor, global_batch_size: int
    ) -> Dict[str, tf.Tensor]:
        """One optimisation step on this replica's share of the global batch.

        Returns this replica's share of each loss's global-batch mean (sum over replicas).
        """
        compute = self.compute_gradients
        if (
            self.config.train.jit_compile and self.pool_a is None
        ):  # the pool's control flow stays out
            compute = tf.function(compute, jit_compile=True)
        generator_grads, discriminator_grads, mean = compute(real_a, real_b, global_batch_size)
        self.generator_optimizer.apply_gradients(zip(generator_grads, self.generator_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_grads, self.discriminator_variables)
        )
        return mean
