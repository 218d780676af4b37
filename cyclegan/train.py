"""The training loop: fit() reads as the steps it takes (restore, train an epoch, write
summaries, checkpoint, log progress, write the grid); each step is a function below."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from typing import Callable, Dict, NamedTuple, Optional

import tensorflow as tf

from cyclegan import checkpoints, distribute, input_pipeline, logger, samples
from cyclegan.config import Config, batch_split_problem
from cyclegan.model import LOSS_NAMES, CycleGan
from cyclegan.progress import StepProgress


def fit(
    config: Config,
    train_a,
    train_b,
    test_a,
    test_b,
    run_dir: str,
    checkpoint_dir: Optional[str] = None,
    strategy: Optional[tf.distribute.Strategy] = None,
    evaluate: Optional[Callable[[CycleGan], Dict[str, float]]] = None,
) -> CycleGan:
    """Trains for config.train.total_epochs, with checkpoints, TensorBoard logs and a sample
    grid.

    train_*/test_* are TFRecord file patterns of preprocessed examples. TensorBoard logs,
    the resolved config and translations.png go under run_dir; checkpoints under
    checkpoint_dir (default run_dir/checkpoints). Resumes from the latest checkpoint there;
    one trainer at a time (checkpoints.TrainerLock; the chief's, with several workers).
    evaluate: called after every epoch; what it returns goes to TensorBoard (eval/<name>)
    and the epoch's log line.
    """
    checkpoint_dir = checkpoint_dir or os.path.join(run_dir, "checkpoints")
    chief, _ = distribute.worker_role()
    with (
        checkpoints.TrainerLock(checkpoint_dir, wait=config.train.when_locked == "wait")
        if chief
        else contextlib.nullcontext()
    ):
        return _fit(
            config, train_a, train_b, test_a, test_b, run_dir, checkpoint_dir, strategy, evaluate
        )


def _fit(
    config: Config,
    train_a,
    train_b,
    test_a,
    test_b,
    run_dir: str,
    checkpoint_dir: str,
    strategy: Optional[tf.distribute.Strategy],
    evaluate: Optional[Callable[[CycleGan], Dict[str, float]]],
) -> CycleGan:
    """fit(), holding the folder's lock."""
    strategy = strategy or distribute.choose_strategy()
    check_batch_splits(config.train.batch_size, strategy)
    counts = (input_pipeline.count_records(train_a), input_pipeline.count_records(train_b))
    steps_per_epoch = input_pipeline.steps_per_epoch(*counts, config)
    with strategy.scope():
        model = CycleGan(config, steps_per_epoch)
    logger.info(
        "Precision: %s (train.precision=%s: %s)",
        model.precision.policy,
        config.train.precision,
        model.precision.reason,
    )
    run_dir = own_run_dir(run_dir)
    save_config(config, run_dir)
    manager = restore(model, checkpoint_dir)
    if completed_steps(model) == 0 and config.train.init_from:
        logger.info(checkpoints.warm_start(model, config.train.init_from))
    grid = samples.Grid(
        *(
            input_pipeline.read_images(
                test, config.data.crop_size, config.observability.grid_images
            )[0]
            for test in (test_a, test_b)
        )
    )
    total_steps = steps_per_epoch * config.train.total_epochs
    if not plan(model, total_steps, steps_per_epoch, checkpoint_dir):
        write_grid(model, grid, run_dir)
        return model
    tracker = LossTracker()
    stop = StopSignals(agree=isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy))
    step_fn = distributed_step(strategy, model, config.train.batch_size, tracker, stop.votes)
    dataset = distributable_dataset(train_a, train_b, config, counts, completed_steps(model))
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))
    progress = Progress(total_steps, completed_steps(model))
    step_progress = StepProgress(total_steps, "training", initial=completed_steps(model))
    with stop, writer.as_default(), step_progress:
        logger.info(
            "Training %d steps (%d epochs x %d steps, global batch %d, %d replica(s)); "
            "checkpoints in %s; TensorBoard: tensorboard --logdir %s",
            total_steps,
            config.train.total_epochs,
            steps_per_epoch,
            config.train.batch_size,
            strategy.num_replicas_in_sync,
            checkpoint_dir,
            os.path.join(run_dir, "logs"),
        )
        while completed_steps(model) < total_steps:
            epoch = train_epoch(
                model,
                step_fn,
                batches,
                tracker,
                manager,
                grid,
                steps_per_epoch,
                total_steps,
                checkpoint_dir,
                strategy,
                stop,
                step_progress,
            )
            saved = manager.save(checkpoint_number=completed_steps(model))
            if stop.received:
                logger.warning(
                    "Stopped by %s at step %d; checkpoint saved: %s",
                    signal.Signals(stop.received).name,
                    completed_steps(model),
                    saved,
                )
                raise SystemExit(128 + stop.received)
            if stop.agreed:  # another worker of the cluster was signalled: stop with it
                logger.warning(
                    "Stopped at step %d with the cluster (another worker was stopped by a "
                    "signal); checkpoint saved: %s",
                    completed_steps(model),
                    saved,
                )
                raise SystemExit(0)
            evaluation = evaluate(model) if evaluate else {}
            write_evaluation(evaluation, completed_steps(model))
            writer.flush()
            progress.log_epoch(epoch, completed_steps(model), config.train.total_epochs, evaluation)
        write_image_summary(model, grid, completed_steps(model))
    write_grid(model, grid, run_dir)
    return model


def plan(model: CycleGan, total_steps: int, steps_per_epoch: int, checkpoint_dir: str) -> bool:
    """Says where training starts and ends, and under which schedule; False if the checkpoint
    already holds all the steps asked for (or more: it is kept as it is, never cut back)."""
    done = completed_steps(model)
    if done > total_steps:
        logger.warning(
            "The checkpoint in %s holds %d steps, more than the %d this config trains "
            "(train.epochs + train.decay_epochs = %d epochs of %d steps): nothing to train; "
            "the model is exported as it is. To train again from step 0, change train.seed or "
            "remove that folder.",
            checkpoint_dir,
            done,
            total_steps,
            model.config.train.total_epochs,
            steps_per_epoch,
        )
        return False
    schedule = model.learning_rate.describe()
    if done == total_steps:
        logger.info(
            "The checkpoint in %s holds all %d steps: nothing to train", checkpoint_dir, done
        )
        return False
    if done:
        logger.info(
            "Resumed from step %d; training to step %d; schedule: %s", done, total_steps, schedule
        )
    else:
        logger.info("Training from step 0 to step %d; schedule: %s", total_steps, schedule)
    return True


def completed_steps(model: CycleGan) -> int:
    return int(model.step.numpy())


def check_batch_splits(global_batch: int, strategy: tf.distribute.Strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    problem = batch_split_problem(global_batch, replicas, "the training strategy's")
    if problem:
        raise ValueError(problem)


def distributable_dataset(train_a, train_b, config: Config, counts, first_step: int):
    """The training batches from `first_step` on, ready for any strategy.

    Several workers: each reads every file and keeps its share of each global batch, so a
    global batch holds the images one machine would have batched (FILE sharding would make
    that depend on how many files there are)."""
    dataset = input_pipeline.train_dataset(
        train_a, train_b, config, config.train.batch_size, counts, first_step
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def own_run_dir(run_dir: str) -> str:
    """Several workers: the others' logs and grid stay apart from the chief's."""
    chief, role = distribute.worker_role()
    return run_dir if chief else os.path.join(run_dir, "workers", role)


def save_config(config: Config, run_dir: str) -> None:
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, "config.json"), "w") as file:
        file.write(config.to_json())


def restore(model: CycleGan, checkpoint_dir: str) -> tf.train.CheckpointManager:
    """Restores the newest readable checkpoint, if any (see
    checkpoints.restore_newest_readable), removes what interrupted saves left, and returns
    the manager that saves new ones.

    Several workers: every worker must save, but only the chief's copy is the real one; all
    restore the chief's, so they resume from the same state."""
    checkpoint = tf.train.Checkpoint(model=model)
    chief, role = distribute.worker_role()
    own_dir = checkpoint_dir if chief else os.path.join(checkpoint_dir, "workers", role)
    restored = checkpoints.restore_newest_readable(checkpoint, checkpoint_dir, owner=chief)
    if restored:
        logger.info("Restored %s (step %d)", restored, completed_steps(model))
    checkpoints.remove_leftovers(own_dir, completed_steps(model))
    return tf.train.CheckpointManager(checkpoint, own_dir, max_to_keep=2)


class LossTracker(tf.Module):
    """Each loss's running sum and the first step with a non-finite loss, kept by the traced
    step itself: the loop reads them only when it writes summaries or checkpoints, instead of
    copying six losses to Python after every step (which also waits for each step to end)."""

    def __init__(self):
        super().__init__(name="loss_tracker")
        self.sums = tf.Variable(tf.zeros([len(LOSS_NAMES)]), trainable=False)
        self.first_bad_step = tf.Variable(tf.constant(-1, tf.int64), trainable=False)
        self.first_bad_losses = tf.Variable(tf.zeros([len(LOSS_NAMES)]), trainable=False)

    def update(self, losses: Dict[str, tf.Tensor], step: tf.Tensor) -> None:
        """Inside the traced step, after the update that made `step`."""
        values = tf.stack([losses[name] for name in LOSS_NAMES])
        self.sums.assign_add(values)
        first = tf.logical_and(
            self.first_bad_step < 0, tf.logical_not(tf.reduce_all(tf.math.is_finite(values)))
        )
        self.first_bad_step.assign(tf.where(first, tf.cast(step, tf.int64), self.first_bad_step))
        self.first_bad_losses.assign(tf.where(first, values, self.first_bad_losses))

    def check_finite(self) -> None:
        """Raises, naming the loss and the step, if any step so far had a non-finite loss."""
        step = int(self.first_bad_step.numpy())
        if step < 0:
            return
        name, value = next(
            (name, value)
            for name, value in zip(LOSS_NAMES, self.first_bad_losses.numpy().tolist())
            if not math.isfinite(value)
        )
        raise FloatingPointError(
            f"loss {name} is {value} at step {step}; stopping before anything is exported. "
            f"Lower learning_rate or check the input data."
        )

    def take_means(self, steps: int) -> Dict[str, float]:
        """Each loss's mean over the last `steps` steps; starts the next sums at zero."""
        sums = self.sums.numpy().tolist()
        self.sums.assign(tf.zeros_like(self.sums))
        return {name: total / steps for name, total in zip(LOSS_NAMES, sums)}


def distributed_step(
    strategy: tf.distribute.Strategy,
    model: CycleGan,
    global_batch: int,
    tracker: LossTracker,
    stop_votes: Optional[tf.Variable] = None,
):
    """One traced step over all replicas on the iterator's next batch (taken inside the
    function: no per-step Python for the input); returns each loss's global-batch mean, and
    with `stop_votes` (several workers) the sum of every worker's vote to stop."""

    def replica_step(batch_a, batch_b):
        losses = model.train_step(batch_a, batch_b, global_batch)
        if stop_votes is not None:
            losses[STOP_VOTES] = tf.identity(stop_votes)
        return losses

    @tf.function
    def step(batches):
        batch_a, batch_b = next(batches)
        per_replica = strategy.run(replica_step, args=(batch_a, batch_b))
        losses = {
            name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }
        tracker.update(losses, model.step)
        return losses

    return step


class EpochResult(NamedTuple):
    index: int  # 0-based
    steps: int
    seconds: float
    mean_losses: Dict[str, float]


def train_epoch(
    model: CycleGan,
    step_fn,
    batches,
    tracker: LossTracker,
    manager: tf.train.CheckpointManager,
    grid: samples.Grid,
    steps_per_epoch: int,
    total_steps: int,
    checkpoint_dir: str,
    strategy: tf.distribute.Strategy,
    stop: Optional["StopSignals"] = None,
    step_progress: Optional[StepProgress] = None,
) -> EpochResult:
    """The rest of the current epoch (all of it, unless resuming in its middle, or stopped by
    a signal after the step it is in). Losses are checked whenever something is written or
    saved, and at the end: a non-finite one stops training within summary_every_steps,
    before any checkpoint holds it."""
    config = model.config
    start = time.time()
    first_step = completed_steps(model)  # then counted here: reading it waits for the step
    epoch = first_step // steps_per_epoch
    epoch_steps = steps_per_epoch - first_step % steps_per_epoch
    for step in range(first_step + 1, first_step + epoch_steps + 1):
        if stop and stop.received:
            stop.vote()
        step_losses = run_step(step_fn, batches, step - 1, checkpoint_dir, strategy)
        stopping = stop.should_stop(step_losses) if stop else False
        if step_progress:
            step_progress.update()
        scalars = step % config.observability.summary_every_steps == 0 or step == total_steps
        images = step % config.observability.image_summary_every_steps == 0
        save = step % config.observability.checkpoint_every_steps == 0
        if scalars or images or save:
            tracker.check_finite()
        if scalars:
            write_scalars(model, step_losses, step)
        if images:
            write_image_summary(model, grid, step)
        if save:
            manager.save(checkpoint_number=step)
        if stopping:
            epoch_steps = step - first_step
            break
    tracker.check_finite()
    return EpochResult(epoch, epoch_steps, time.time() - start, tracker.take_means(epoch_steps))


STOP_VOTES = "stop_votes"


class StopSignals:
    """While active (in the main thread), SIGTERM and SIGINT set `received` instead of ending
    the process: the loop finishes the step it is in, saves a checkpoint and exits with
    128 + the signal's number. Kubernetes sends SIGTERM before it evicts or preempts a pod
    (and SIGKILL after the grace period, 30 s by default).

    agree (several workers): a signalled worker votes to stop through `votes`, which the
    step sums over the cluster with its losses; every worker stops after the same step (the
    chief saving the checkpoint that is restored) instead of leaving the others waiting in a
    collective."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, agree: bool = False):
        self.received: Optional[int] = None
        self.agreed = False  # another worker's vote stopped this one
        self.votes = tf.Variable(0.0, trainable=False, name="stop_votes") if agree else None
        self._previous: Dict[int, object] = {}

    def vote(self) -> None:
        if self.votes is not None:
            self.votes.assign(1.0)

    def should_stop(self, step_losses: Dict[str, tf.Tensor]) -> bool:
        """After a step: whether to stop now. Takes the votes out of the step's losses."""
        votes = step_losses.pop(STOP_VOTES, None)
        if votes is None:
            return self.received is not None
        # Every worker stops on the step whose sum first holds a vote, the signalled one too
        # (its vote counts from the step after the signal).
        stopping = float(votes) > 0
        self.agreed = stopping and self.received is None
        return stopping

    def _handle(self, signum, frame) -> None:
        self.received = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def run_step(
    step_fn, batches, step: int, checkpoint_dir: str, strategy: tf.distribute.Strategy
) -> Dict[str, tf.Tensor]:
    """The next batch through one step; a lost peer of a multi-worker run is named."""
    # Only several workers have peers to lose; elsewhere these errors pass through as they are.
    lost_peer = (
        distribute.CLUSTER_ERRORS
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        else ()
    )
    try:
        return step_fn(batches)
    except lost_peer as error:
        raise RuntimeError(distribute.lost_peer_message(error, step, checkpoint_dir)) from error


def write_scalars(model: CycleGan, step_losses: Dict[str, tf.Tensor], step: int) -> None:
    for name, value in step_losses.items():
        tf.summary.scalar(f"loss/{name}", value, step=step)
    # The rate this step used: the schedule at the step count before it.
    tf.summary.scalar("learning_rate", model.learning_rate(step - 1), step=step)


def write_evaluation(evaluation: Dict[str, float], step: int) -> None:
    for name, value in evaluation.items():
        tf.summary.scalar(f"eval/{name}", value, step=step)


def write_image_summary(model: CycleGan, grid: samples.Grid, step: int) -> None:
    rows = samples.translation_rows(model, *grid)
    tf.summary.image(
        "translations (A, G(A), F(G(A)); B, F(B), G(F(B)))",
        samples.summary_images(rows),
        step=step,
        max_outputs=len(rows),
    )


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

    def log_epoch(
        self, epoch: EpochResult, step: int, total_epochs: int, evaluation: Dict[str, float]
    ) -> None:
        rate = (step - self.start_step) / max(time.time() - self.start_time, 1e-9)
        means = "  ".join(
            [f"{name} {epoch.mean_losses[name]:.3f}" for name in LOSS_NAMES]
            + [f"{name} {value:.3f}" for name, value in evaluation.items()]
        )
        logger.info(
            "epoch %d/%d  %d steps in %.1fs (%.2f steps/s)  ETA %s  %s",
            epoch.index + 1,
            total_epochs,
            epoch.steps,
            epoch.seconds,
            epoch.steps / max(epoch.seconds, 1e-9),
            format_duration((self.total_steps - step) / max(rate, 1e-9)),
            means,
        )


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
