"""The CycleGAN training step and loop, under a tf.distribute strategy.

The step computes the tutorial's math with fewer, batched network calls: G runs once on
[A, B] (translation and identity), F once on [B, A], then each once more for the cycle;
each discriminator runs once on [real, fake]. Instance norm is per-sample, so batching is
exact. One generator gradient over the sum of both generators' losses gives each generator
exactly the gradient of its own loss in the tutorial (the terms of the other do not depend on
its weights; the shared cycle term is counted once).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Dict, Optional

import tensorflow as tf
import tf_keras as keras

from components.cyclegan import input_pipeline, losses, networks, samples
from pipeline.config import Config

logger = logging.getLogger("cyclegan")

LOSS_NAMES = ("generator_ab", "generator_ba", "cycle", "identity", "discriminator_a",
              "discriminator_b")


class LinearDecayAfter(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate for `constant_steps`, then linear decay to 0 over `decay_steps`."""

    def __init__(self, learning_rate: float, constant_steps: int, decay_steps: int):
        self.learning_rate = learning_rate
        self.constant_steps = constant_steps
        self.decay_steps = decay_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        if not self.decay_steps:
            return tf.constant(self.learning_rate, tf.float32)
        progress = tf.clip_by_value((step - self.constant_steps) / self.decay_steps, 0.0, 1.0)
        return self.learning_rate * (1.0 - progress)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "constant_steps": self.constant_steps,
                "decay_steps": self.decay_steps}


class CycleGan(tf.Module):
    """Both generators, both discriminators and their optimizers. Build inside strategy.scope()."""

    def __init__(self, config: Config, steps_per_epoch: int = 1):
        super().__init__(name="cyclegan")
        self.config = config
        keras.utils.set_random_seed(config.seed)
        self.g_ab = networks.generator(config, "generator_ab")  # G: A -> B
        self.g_ba = networks.generator(config, "generator_ba")  # F: B -> A
        self.d_a = networks.patchgan_discriminator(config, "discriminator_a")
        self.d_b = networks.patchgan_discriminator(config, "discriminator_b")
        schedule = LinearDecayAfter(config.learning_rate, config.epochs * steps_per_epoch,
                                    config.decay_epochs * steps_per_epoch)
        # One Adam per role: Adam is per-variable, so this equals the tutorial's four.
        self.generator_optimizer = keras.optimizers.Adam(schedule, beta_1=config.beta_1)
        self.discriminator_optimizer = keras.optimizers.Adam(schedule, beta_1=config.beta_1)

    @property
    def generator_variables(self):
        return self.g_ab.trainable_variables + self.g_ba.trainable_variables

    @property
    def discriminator_variables(self):
        return self.d_a.trainable_variables + self.d_b.trainable_variables

    def per_example_losses(self, real_a: tf.Tensor, real_b: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Every loss term as a [batch] vector, from one forward pass."""
        config = self.config
        n = tf.shape(real_a)[0]
        fake_b, same_b = tf.split(self.g_ab(tf.concat([real_a, real_b], 0), training=True),
                                  [n, n])
        fake_a, same_a = tf.split(self.g_ba(tf.concat([real_b, real_a], 0), training=True),
                                  [n, n])
        cycled_a = self.g_ba(fake_b, training=True)
        cycled_b = self.g_ab(fake_a, training=True)
        d_a_real, d_a_fake = tf.split(self.d_a(tf.concat([real_a, fake_a], 0), training=True),
                                      [n, n])
        d_b_real, d_b_fake = tf.split(self.d_b(tf.concat([real_b, fake_b], 0), training=True),
                                      [n, n])
        kind = config.gan_loss
        return {
            "generator_ab": losses.adversarial(d_b_fake, True, kind),
            "generator_ba": losses.adversarial(d_a_fake, True, kind),
            "cycle": config.lambda_cycle * (losses.l1(real_a, cycled_a)
                                            + losses.l1(real_b, cycled_b)),
            "identity": config.lambda_cycle * config.lambda_identity * (
                losses.l1(real_b, same_b) + losses.l1(real_a, same_a)),
            "discriminator_a": losses.discriminator(d_a_real, d_a_fake, kind),
            "discriminator_b": losses.discriminator(d_b_real, d_b_fake, kind),
        }

    def train_step(self, real_a: tf.Tensor, real_b: tf.Tensor,
                   global_batch_size: int) -> Dict[str, tf.Tensor]:
        """One optimisation step on this replica's share of the global batch.

        Returns this replica's share of each loss's global-batch mean (sum over replicas).
        """
        with tf.GradientTape(persistent=True) as tape:
            per_example = self.per_example_losses(real_a, real_b)
            mean = {name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
                    for name, value in per_example.items()}
            generator_total = (mean["generator_ab"] + mean["generator_ba"] + mean["cycle"]
                               + mean["identity"])
            discriminator_total = mean["discriminator_a"] + mean["discriminator_b"]
        # The discriminators see the fakes without stop_gradient; that is exact because each
        # gradient below is taken only with respect to its own networks' variables.
        generator_grads = tape.gradient(generator_total, self.generator_variables)
        discriminator_grads = tape.gradient(discriminator_total, self.discriminator_variables)
        del tape
        self.generator_optimizer.apply_gradients(zip(generator_grads, self.generator_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_grads, self.discriminator_variables))
        return mean


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers (Kubeflow, Vertex); else
    Mirrored over the local GPUs, or over the local CPU devices when there are none."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    if sum(len(cluster.get(role, [])) for role in ("chief", "worker")) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def fit(config: Config, train_a, train_b, test_a, test_b, run_dir: str,
        strategy: Optional[tf.distribute.Strategy] = None) -> CycleGan:
    """Trains for config.total_epochs, with checkpoints, TensorBoard logs and a sample grid.

    train_*/test_* are TFRecord file patterns of preprocessed examples. Checkpoints,
    TensorBoard logs, the resolved config and translations.png go under run_dir.
    Resumes from the latest checkpoint in run_dir/checkpoints when there is one.
    """
    strategy = strategy or choose_strategy()
    global_batch = config.batch_size
    dataset, steps_per_epoch = input_pipeline.train_dataset(train_a, train_b, config,
                                                            global_batch)
    total_steps = steps_per_epoch * config.total_epochs
    with strategy.scope():
        model = CycleGan(config, steps_per_epoch)
    iterations = model.generator_optimizer.iterations  # the global step, checkpointed with it

    def current_step() -> int:
        return int(iterations.numpy())

    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, "config.json"), "w") as file:
        file.write(config.to_json())

    checkpoint = tf.train.Checkpoint(model=model)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(run_dir, "checkpoints"),
                                         max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        logger.info(f"Resumed from {manager.latest_checkpoint} at step {current_step()}")

    @tf.function
    def distributed_step(batch_a, batch_b):
        per_replica = strategy.run(model.train_step, args=(batch_a, batch_b, global_batch))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))
    grid_a = input_pipeline.test_images(test_a, config, config.grid_images)
    grid_b = input_pipeline.test_images(test_b, config, config.grid_images)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    logger.info(f"Training {total_steps} steps ({config.total_epochs} epochs x {steps_per_epoch} steps, "
        f"global batch {global_batch}, {strategy.num_replicas_in_sync} replica(s)); "
        f"TensorBoard: tensorboard --logdir {os.path.join(run_dir, 'logs')}")
    start_time, start_step = time.time(), current_step()
    with writer.as_default():
        while current_step() < total_steps:
            epoch_start, totals = time.time(), {name: 0.0 for name in LOSS_NAMES}
            epoch = current_step() // steps_per_epoch
            epoch_steps = steps_per_epoch - current_step() % steps_per_epoch
            for _ in range(epoch_steps):
                batch_a, batch_b = next(batches)
                step_losses = {k: float(v) for k, v in distributed_step(batch_a, batch_b).items()}
                step = current_step()
                for name, value in step_losses.items():
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"loss {name} is {value} at step {step}; stopping before anything "
                            f"is exported. Lower learning_rate or check the input data.")
                    totals[name] += value
                if step % config.summary_every_steps == 0 or step == total_steps:
                    for name, value in step_losses.items():
                        tf.summary.scalar(f"loss/{name}", value, step=step)
                    # The optimizer evaluates its schedule at its own step counter.
                    tf.summary.scalar("learning_rate", model.generator_optimizer.learning_rate,
                                      step=step)
                if step % config.checkpoint_every_steps == 0:
                    manager.save(checkpoint_number=step)
            manager.save(checkpoint_number=current_step())
            step = current_step()
            rows = samples.translation_rows(model, grid_a, grid_b)
            tf.summary.image("translations", samples.summary_images(rows), step=step,
                             max_outputs=len(rows))
            writer.flush()
            elapsed = time.time() - epoch_start
            rate = (step - start_step) / max(time.time() - start_time, 1e-9)
            means = "  ".join(f"{name} {totals[name] / epoch_steps:.3f}" for name in LOSS_NAMES)
            logger.info(f"epoch {epoch + 1}/{config.total_epochs}  {epoch_steps} steps in "
                f"{elapsed:.1f}s ({epoch_steps / max(elapsed, 1e-9):.2f} steps/s)  "
                f"ETA {_format_duration((total_steps - step) / max(rate, 1e-9))}  {means}")

    grid_path = os.path.join(run_dir, samples.GRID_FILE)
    with tf.io.gfile.GFile(grid_path, "wb") as file:
        file.write(samples.grid_png(samples.translation_rows(model, grid_a, grid_b)))
    logger.info(f"Wrote a grid of test translations to {grid_path}")
    return model
