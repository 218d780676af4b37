"""The CycleGAN training step and loop, under a tf.distribute strategy.

The step computes the tutorial's math with fewer, batched network calls: G runs once on
[A, B] (translation and identity), F once on [B, A], then each once more for the cycle.
Instance norm is per-sample, so batching is exact. Each discriminator sees real and fake
images in separate calls, so the generators' backward pass runs through the fakes only. One
generator gradient over the sum of both generators' losses gives each generator exactly the
gradient of its own loss in the tutorial (the terms of the other do not depend on its
weights; the shared cycle term is counted once).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from typing import Dict, Optional

import tensorflow as tf
import tf_keras as keras

from components.cyclegan import input_pipeline, losses, networks, samples
from components.cyclegan.image_pool import ImagePool
from pipeline.config import Config

logger = logging.getLogger("cyclegan")

LOSS_NAMES = ("generator_ab", "generator_ba", "cycle", "identity", "discriminator_a",
              "discriminator_b")


class EpochLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The paper's schedule: constant for `constant_epochs`, then linear decay over
    `decay_epochs`, stepped per epoch: factor = 1 - max(0, epoch + 1 - constant) / (decay + 1)
    for the 0-based epoch (as pytorch-CycleGAN-and-pix2pix's lambda rule). Constant when
    decay_epochs is 0."""

    def __init__(self, learning_rate: float, steps_per_epoch: int, constant_epochs: int,
                 decay_epochs: int):
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

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps_per_epoch": self.steps_per_epoch,
                "constant_epochs": self.constant_epochs, "decay_epochs": self.decay_epochs}


class CycleGan(tf.Module):
    """Both generators, both discriminators, their optimizers and (paper) image pools.

    Build inside strategy.scope().
    """

    def __init__(self, config: Config, steps_per_epoch: int = 1):
        super().__init__(name="cyclegan")
        self.config = config
        keras.utils.set_random_seed(config.seed)
        # Keras reads the precision policy when a layer is built; restore it afterwards so
        # nothing else in the process is affected.
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(config.precision)
        try:
            self.g_ab = networks.generator(config, "generator_ab")  # G: A -> B
            self.g_ba = networks.generator(config, "generator_ba")  # F: B -> A
            self.d_a = networks.patchgan_discriminator(config, "discriminator_a")
            self.d_b = networks.patchgan_discriminator(config, "discriminator_b")
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        self.learning_rate = EpochLinearDecay(config.learning_rate, steps_per_epoch,
                                              config.epochs, config.decay_epochs)
        # One Adam per role: Adam is per-variable, so this equals the tutorial's four.
        self.generator_optimizer = self._optimizer(self.learning_rate)
        self.discriminator_optimizer = self._optimizer(self.learning_rate)
        image_shape = [config.crop_size, config.crop_size, 3]
        self.pool_a, self.pool_b = (
            (ImagePool(config.pool_size, image_shape, "pool_a"),
             ImagePool(config.pool_size, image_shape, "pool_b")) if config.pool_size
            else (None, None))

    def _optimizer(self, schedule) -> keras.optimizers.Optimizer:
        # The legacy Adam runs TensorFlow's fused ResourceApplyAdam kernel, one pass over
        # each variable instead of several ops: ~20% off a CPU step whose networks hold 64M
        # parameters. Its update is the current Keras Adam's (epsilon-hat form, the
        # tutorial's optimizer); a test holds it to that.
        optimizer = keras.optimizers.legacy.Adam(schedule, beta_1=self.config.beta_1)
        if self.config.precision == "mixed_float16":  # float16 gradients need loss scaling
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
        config = self.config
        n = tf.shape(real_a)[0]
        fake_b, same_b = tf.split(self.g_ab(tf.concat([real_a, real_b], 0), training=True),
                                  [n, n])
        fake_a, same_a = tf.split(self.g_ba(tf.concat([real_b, real_a], 0), training=True),
                                  [n, n])
        cycled_a = self.g_ba(fake_b, training=True)
        cycled_b = self.g_ab(fake_a, training=True)
        d_a_real, d_a_fake, d_a_pooled = self._discriminate(self.d_a, self.pool_a, real_a, fake_a)
        d_b_real, d_b_fake, d_b_pooled = self._discriminate(self.d_b, self.pool_b, real_b, fake_b)
        kind = config.gan_loss
        return {
            "generator_ab": losses.adversarial(d_b_fake, True, kind),
            "generator_ba": losses.adversarial(d_a_fake, True, kind),
            "cycle": config.lambda_cycle * (losses.l1(real_a, cycled_a)
                                            + losses.l1(real_b, cycled_b)),
            "identity": config.lambda_cycle * config.lambda_identity * (
                losses.l1(real_b, same_b) + losses.l1(real_a, same_a)),
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
        with tf.GradientTape(persistent=True) as tape:
            per_example = self.per_example_losses(real_a, real_b)
            mean = {name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
                    for name, value in per_example.items()}
            generator_total = (mean["generator_ab"] + mean["generator_ba"] + mean["cycle"]
                               + mean["identity"])
            discriminator_total = mean["discriminator_a"] + mean["discriminator_b"]
            generator_scaled = self._scaled(self.generator_optimizer, generator_total)
            discriminator_scaled = self._scaled(self.discriminator_optimizer, discriminator_total)
        # The discriminators see the fakes without stop_gradient; that is exact because each
        # gradient below is taken only with respect to its own networks' variables.
        generator_grads = self._unscaled(self.generator_optimizer, tape.gradient(
            generator_scaled, self.generator_variables))
        discriminator_grads = self._unscaled(self.discriminator_optimizer, tape.gradient(
            discriminator_scaled, self.discriminator_variables))
        return generator_grads, discriminator_grads, mean

    def train_step(self, real_a: tf.Tensor, real_b: tf.Tensor,
                   global_batch_size: int) -> Dict[str, tf.Tensor]:
        """One optimisation step on this replica's share of the global batch.

        Returns this replica's share of each loss's global-batch mean (sum over replicas).
        """
        compute = self.compute_gradients
        if self.config.jit_compile and self.pool_a is None:  # the pool's control flow stays out
            compute = tf.function(compute, jit_compile=True)
        generator_grads, discriminator_grads, mean = compute(real_a, real_b, global_batch_size)
        self.generator_optimizer.apply_gradients(zip(generator_grads, self.generator_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(discriminator_grads, self.discriminator_variables))
        return mean


# A collective still waiting after this long means a peer is gone without a word (a dead
# node, a partition); far above any step, including the first one's tracing.
COLLECTIVE_TIMEOUT_S = 600
# How a lost peer surfaces in a collective: a reset connection, a missed heartbeat, a timeout.
CLUSTER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError,
                  tf.errors.DeadlineExceededError)
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


def _cluster() -> Dict[str, list]:
    return json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored when TF_CONFIG names several workers (Kubeflow, Vertex); else
    Mirrored over the local GPUs, or over the local CPU devices when there are none."""
    cluster = _cluster()
    if sum(len(cluster.get(role, [])) for role in ("chief", "worker")) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT_S))
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])


def worker_role() -> tuple[bool, str]:
    """(whether this process is the chief, a name for it) under TF_CONFIG; chief alone."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    kind, index = task.get("type", "chief"), task.get("index", 0)
    has_chief = "chief" in config.get("cluster", {})
    chief = kind == "chief" or (not has_chief and kind == "worker" and index == 0)
    return chief, f"{kind}-{index}"


def lost_peer_message(error: tf.errors.OpError, step: int, checkpoint_dir: str) -> str:
    """What to tell the user when a collective fails because another worker is gone."""
    match = _TASK.search(error.message)
    peer = "a worker"
    if match:
        kind, index = match.group(1), int(match.group(2))
        addresses = _cluster().get(kind, [])
        peer = f"{kind}-{index}" + (f" ({addresses[index]})" if index < len(addresses) else "")
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    return (f"lost contact with {peer} of the training cluster after step {step} "
            f"({error.message.strip().splitlines()[0]}). Training stopped; restart every "
            f"worker of the job: it resumes from "
            f"{latest or 'the start (no checkpoint yet)'}")


def _format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def fit(config: Config, train_a, train_b, test_a, test_b, run_dir: str,
        checkpoint_dir: Optional[str] = None,
        strategy: Optional[tf.distribute.Strategy] = None) -> CycleGan:
    """Trains for config.total_epochs, with checkpoints, TensorBoard logs and a sample grid.

    train_*/test_* are TFRecord file patterns of preprocessed examples. TensorBoard logs,
    the resolved config and translations.png go under run_dir; checkpoints under
    checkpoint_dir (default run_dir/checkpoints). Resumes from the latest checkpoint there.
    """
    strategy = strategy or choose_strategy()
    global_batch = config.batch_size
    if global_batch % strategy.num_replicas_in_sync:
        raise ValueError(
            f"batch_size {global_batch} does not split evenly over "
            f"{strategy.num_replicas_in_sync} replicas; use a multiple of it "
            f"(--set batch_size={strategy.num_replicas_in_sync})")
    dataset, steps_per_epoch = input_pipeline.train_dataset(train_a, train_b, config,
                                                            global_batch)
    # Several workers: each reads every file and keeps its share of each global batch, so a
    # global batch holds the images one machine would have batched (FILE sharding would make
    # that depend on how many files there are).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    total_steps = steps_per_epoch * config.total_epochs
    with strategy.scope():
        model = CycleGan(config, steps_per_epoch)

    def current_step() -> int:
        return int(model.step.numpy())

    checkpoint_dir = checkpoint_dir or os.path.join(run_dir, "checkpoints")
    chief, role = worker_role()
    if not chief:  # logs and the grid of the other workers stay apart from the chief's
        run_dir = os.path.join(run_dir, "workers", role)
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, "config.json"), "w") as file:
        file.write(config.to_json())

    checkpoint = tf.train.Checkpoint(model=model)
    # Multi-worker: every worker must save, but only the chief's copy is the real one; all
    # restore the chief's, so they resume from the same state.
    manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir if chief else os.path.join(checkpoint_dir, "workers", role),
        max_to_keep=2)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest:
        checkpoint.restore(latest).expect_partial()
        logger.info("Resumed from %s at step %d", latest, current_step())

    @tf.function
    def distributed_step(batch_a, batch_b):
        per_replica = strategy.run(model.train_step, args=(batch_a, batch_b, global_batch))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))
    grid_a = input_pipeline.test_images(test_a, config, config.grid_images)
    grid_b = input_pipeline.test_images(test_b, config, config.grid_images)

    def write_images(step: int) -> None:
        rows = samples.translation_rows(model, grid_a, grid_b)
        tf.summary.image("translations (A, G(A), F(G(A)); B, F(B), G(F(B)))",
                         samples.summary_images(rows), step=step, max_outputs=len(rows))

    batches = iter(strategy.experimental_distribute_dataset(dataset))
    logger.info("Training %d steps (%d epochs x %d steps, global batch %d, %d replica(s)); "
                "checkpoints in %s; TensorBoard: tensorboard --logdir %s", total_steps,
                config.total_epochs, steps_per_epoch, global_batch,
                strategy.num_replicas_in_sync, checkpoint_dir, os.path.join(run_dir, "logs"))
    start_time, start_step = time.time(), current_step()
    # Only several workers have peers to lose; elsewhere these errors pass through as they are.
    lost_peer = CLUSTER_ERRORS if isinstance(
        strategy, tf.distribute.MultiWorkerMirroredStrategy) else ()
    with writer.as_default():
        while current_step() < total_steps:
            epoch_start, totals = time.time(), {name: 0.0 for name in LOSS_NAMES}
            epoch = current_step() // steps_per_epoch
            epoch_steps = steps_per_epoch - current_step() % steps_per_epoch
            for _ in range(epoch_steps):
                try:
                    batch_a, batch_b = next(batches)
                    step_losses = {k: float(v)
                                   for k, v in distributed_step(batch_a, batch_b).items()}
                except lost_peer as error:
                    raise RuntimeError(lost_peer_message(error, current_step(),
                                                         checkpoint_dir)) from error
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
                    # The rate this step used: the schedule at the step count before it.
                    tf.summary.scalar("learning_rate", model.learning_rate(step - 1), step=step)
                if step % config.image_summary_every_steps == 0:
                    write_images(step)
                if step % config.checkpoint_every_steps == 0:
                    manager.save(checkpoint_number=step)
            step = current_step()
            manager.save(checkpoint_number=step)
            writer.flush()
            elapsed = time.time() - epoch_start
            rate = (step - start_step) / max(time.time() - start_time, 1e-9)
            means = "  ".join(f"{name} {totals[name] / epoch_steps:.3f}" for name in LOSS_NAMES)
            logger.info("epoch %d/%d  %d steps in %.1fs (%.2f steps/s)  ETA %s  %s", epoch + 1,
                        config.total_epochs, epoch_steps, elapsed,
                        epoch_steps / max(elapsed, 1e-9),
                        _format_duration((total_steps - step) / max(rate, 1e-9)), means)
        write_images(current_step())

    grid_path = os.path.join(run_dir, samples.GRID_FILE)
    with tf.io.gfile.GFile(grid_path, "wb") as file:
        file.write(samples.grid_png(samples.translation_rows(model, grid_a, grid_b)))
    logger.info("Wrote a grid of test translations to %s", grid_path)
    return model
