"""The training loop: fit() reads as the steps it takes (restore, train an epoch, write
summaries, checkpoint, log progress, write the grid); each step is a function below."""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Dict, NamedTuple, Optional

import tensorflow as tf

from cyclegan import distribute, input_pipeline, logger, samples
from cyclegan.config import Config
from cyclegan.model import LOSS_NAMES, CycleGan


def fit(config: Config, train_a, train_b, test_a, test_b, run_dir: str,
        checkpoint_dir: Optional[str] = None,
        strategy: Optional[tf.distribute.Strategy] = None,
        evaluate: Optional[Callable[[CycleGan], Dict[str, float]]] = None) -> CycleGan:
    """Trains for config.total_epochs, with checkpoints, TensorBoard logs and a sample grid.

    train_*/test_* are TFRecord file patterns of preprocessed examples. TensorBoard logs,
    the resolved config and translations.png go under run_dir; checkpoints under
    checkpoint_dir (default run_dir/checkpoints). Resumes from the latest checkpoint there.
    evaluate: called after every epoch; what it returns goes to TensorBoard (eval/<name>)
    and the epoch's log line.
    """
    strategy = strategy or distribute.choose_strategy()
    check_batch_splits(config.batch_size, strategy)
    dataset, steps_per_epoch = distributable_dataset(train_a, train_b, config)
    with strategy.scope():
        model = CycleGan(config, steps_per_epoch)
    checkpoint_dir = checkpoint_dir or os.path.join(run_dir, "checkpoints")
    run_dir = own_run_dir(run_dir)
    save_config(config, run_dir)
    manager = restore(model, checkpoint_dir)
    step_fn = distributed_step(strategy, model, config.batch_size)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    grid = samples.Grid(input_pipeline.read_images(test_a, config.crop_size, config.grid_images)[0],
                        input_pipeline.read_images(test_b, config.crop_size, config.grid_images)[0])
    total_steps = steps_per_epoch * config.total_epochs
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))
    logger.info("Training %d steps (%d epochs x %d steps, global batch %d, %d replica(s)); "
                "checkpoints in %s; TensorBoard: tensorboard --logdir %s", total_steps,
                config.total_epochs, steps_per_epoch, config.batch_size,
                strategy.num_replicas_in_sync, checkpoint_dir, os.path.join(run_dir, "logs"))
    progress = Progress(total_steps, completed_steps(model))
    with writer.as_default():
        while completed_steps(model) < total_steps:
            epoch = train_epoch(model, step_fn, batches, manager, grid, steps_per_epoch,
                                total_steps, checkpoint_dir, strategy)
            manager.save(checkpoint_number=completed_steps(model))
            evaluation = evaluate(model) if evaluate else {}
            write_evaluation(evaluation, completed_steps(model))
            writer.flush()
            progress.log_epoch(epoch, completed_steps(model), config.total_epochs, evaluation)
        write_image_summary(model, grid, completed_steps(model))
    write_grid(model, grid, run_dir)
    return model


def completed_steps(model: CycleGan) -> int:
    return int(model.step.numpy())


def check_batch_splits(global_batch: int, strategy: tf.distribute.Strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(f"batch_size {global_batch} does not split evenly over {replicas} "
                         f"replicas; use a multiple of it (--set batch_size={replicas})")


def distributable_dataset(train_a, train_b, config: Config):
    """The training batches and the steps of one epoch, ready for any strategy.

    Several workers: each reads every file and keeps its share of each global batch, so a
    global batch holds the images one machine would have batched (FILE sharding would make
    that depend on how many files there are)."""
    dataset, steps_per_epoch = input_pipeline.train_dataset(train_a, train_b, config,
                                                            config.batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options), steps_per_epoch


def own_run_dir(run_dir: str) -> str:
    """Several workers: the others' logs and grid stay apart from the chief's."""
    chief, role = distribute.worker_role()
    return run_dir if chief else os.path.join(run_dir, "workers", role)


def save_config(config: Config, run_dir: str) -> None:
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, "config.json"), "w") as file:
        file.write(config.to_json())


def restore(model: CycleGan, checkpoint_dir: str) -> tf.train.CheckpointManager:
    """Restores the latest checkpoint, if any, and returns the manager that saves new ones.

    Several workers: every worker must save, but only the chief's copy is the real one; all
    restore the chief's, so they resume from the same state."""
    checkpoint = tf.train.Checkpoint(model=model)
    chief, role = distribute.worker_role()
    manager = tf.train.CheckpointManager(
        checkpoint, checkpoint_dir if chief else os.path.join(checkpoint_dir, "workers", role),
        max_to_keep=2)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest:
        checkpoint.restore(latest).expect_partial()
        logger.info("Resumed from %s at step %d", latest, completed_steps(model))
    return manager


def distributed_step(strategy: tf.distribute.Strategy, model: CycleGan, global_batch: int):
    """One traced step over all replicas; returns each loss's global-batch mean."""

    @tf.function
    def step(batch_a, batch_b):
        per_replica = strategy.run(model.train_step, args=(batch_a, batch_b, global_batch))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()}

    return step


class EpochResult(NamedTuple):
    index: int  # 0-based
    steps: int
    seconds: float
    mean_losses: Dict[str, float]


def train_epoch(model: CycleGan, step_fn, batches, manager: tf.train.CheckpointManager,
                grid: samples.Grid, steps_per_epoch: int, total_steps: int,
                checkpoint_dir: str, strategy: tf.distribute.Strategy) -> EpochResult:
    """The rest of the current epoch (all of it, unless resuming in its middle)."""
    config = model.config
    start, totals = time.time(), {name: 0.0 for name in LOSS_NAMES}
    epoch = completed_steps(model) // steps_per_epoch
    epoch_steps = steps_per_epoch - completed_steps(model) % steps_per_epoch
    for _ in range(epoch_steps):
        step_losses = run_step(step_fn, batches, completed_steps(model), checkpoint_dir, strategy)
        step = completed_steps(model)
        check_finite(step_losses, step)
        for name, value in step_losses.items():
            totals[name] += value
        if step % config.summary_every_steps == 0 or step == total_steps:
            write_scalars(model, step_losses, step)
        if step % config.image_summary_every_steps == 0:
            write_image_summary(model, grid, step)
        if step % config.checkpoint_every_steps == 0:
            manager.save(checkpoint_number=step)
    return EpochResult(epoch, epoch_steps, time.time() - start,
                       {name: total / epoch_steps for name, total in totals.items()})


def run_step(step_fn, batches, step: int, checkpoint_dir: str,
             strategy: tf.distribute.Strategy) -> Dict[str, float]:
    """The next batch through one step; a lost peer of a multi-worker run is named."""
    # Only several workers have peers to lose; elsewhere these errors pass through as they are.
    lost_peer = (distribute.CLUSTER_ERRORS
                 if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) else ())
    try:
        batch_a, batch_b = next(batches)
        return {name: float(value) for name, value in step_fn(batch_a, batch_b).items()}
    except lost_peer as error:
        raise RuntimeError(distribute.lost_peer_message(error, step, checkpoint_dir)) from error


def check_finite(step_losses: Dict[str, float], step: int) -> None:
    for name, value in step_losses.items():
        if not math.isfinite(value):
            raise FloatingPointError(
                f"loss {name} is {value} at step {step}; stopping before anything is "
                f"exported. Lower learning_rate or check the input data.")


def write_scalars(model: CycleGan, step_losses: Dict[str, float], step: int) -> None:
    for name, value in step_losses.items():
        tf.summary.scalar(f"loss/{name}", value, step=step)
    # The rate this step used: the schedule at the step count before it.
    tf.summary.scalar("learning_rate", model.learning_rate(step - 1), step=step)


def write_evaluation(evaluation: Dict[str, float], step: int) -> None:
    for name, value in evaluation.items():
        tf.summary.scalar(f"eval/{name}", value, step=step)


def write_image_summary(model: CycleGan, grid: samples.Grid, step: int) -> None:
    rows = samples.translation_rows(model, *grid)
    tf.summary.image("translations (A, G(A), F(G(A)); B, F(B), G(F(B)))",
                     samples.summary_images(rows), step=step, max_outputs=len(rows))


def write_grid(model: CycleGan, grid: samples.Grid, run_dir: str) -> None:
    path = os.path.join(run_dir, samples.GRID_FILE)
    with tf.io.gfile.GFile(path, "wb") as file:
        file.write(samples.grid_png(samples.translation_rows(model, *grid)))
    logger.info("Wrote a grid of test translations to %s", path)


class Progress:
    """A line per epoch: its steps and speed, the ETA of the whole run, mean losses, and
    the evaluation after it, if any."""

    def __init__(self, total_steps: int, start_step: int):
        self.total_steps = total_steps
        self.start_step = start_step
        self.start_time = time.time()

    def log_epoch(self, epoch: EpochResult, step: int, total_epochs: int,
                  evaluation: Dict[str, float]) -> None:
        rate = (step - self.start_step) / max(time.time() - self.start_time, 1e-9)
        means = "  ".join([f"{name} {epoch.mean_losses[name]:.3f}" for name in LOSS_NAMES]
                          + [f"{name} {value:.3f}" for name, value in evaluation.items()])
        logger.info("epoch %d/%d  %d steps in %.1fs (%.2f steps/s)  ETA %s  %s",
                    epoch.index + 1, total_epochs, epoch.steps, epoch.seconds,
                    epoch.steps / max(epoch.seconds, 1e-9),
                    format_duration((self.total_steps - step) / max(rate, 1e-9)), means)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
