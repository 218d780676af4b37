"""The whole training loop against the bare training step, in one run.

    python -m benchmarks fit [--preset demo] [--steps 500] [--rounds 3] [--quick]

The loop is cyclegan.train.fit() as the Trainer runs it: the preset's config (demo: 64 px
crops of 72 px images, batch 1, scalars every 50 steps, image summaries and checkpoints every
500), the strategy fit() chooses, its tf.data input pipeline, summaries and checkpoints, on
real horse2zebra preprocessed once with Preprocess's image ops (cached under runs/bench/).
Its time per step is the difference of two runs, of --steps + 50 steps and of 50: start-up
(tracing, reading the grid images, the final checkpoint and grid) is paid by both and
cancels, and what remains includes the periodic summaries and checkpoints at the preset's
rates. The bare step is CycleGan.train_step under tf.function, without a strategy, on
in-memory batches (the loop's own first batches), timed over --steps steps. Each round runs
the three in a random order; figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import random
import statistics
import tempfile
import time

from benchmarks.ingest import preprocessed
from cyclegan import entry

START_STEPS = 50  # the short run, whose time is the start-up


def fit_seconds(config, files, steps: int) -> float:
    """Wall time of fit() for `steps` steps (one epoch), from nothing to its final grid."""
    from cyclegan import train

    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        train.fit(
            config.replace(steps_per_epoch=steps, epochs=1, decay_epochs=0),
            files["trainA"],
            files["trainB"],
            files["testA"],
            files["testB"],
            run_dir,
        )
        return time.perf_counter() - start


def bare_step(config, files, batches: int):
    """steps -> wall time of that many bare steps, on the first `batches` batches of fit()'s
    own input pipeline, held in memory."""
    import tensorflow as tf

    from cyclegan import input_pipeline
    from cyclegan.model import CycleGan

    counts = tuple(input_pipeline.count_records(files[split]) for split in ("trainA", "trainB"))
    dataset = input_pipeline.train_dataset(
        files["trainA"], files["trainB"], config, config.train.batch_size, counts
    )
    pairs = list(dataset.take(batches))
    model = CycleGan(config)
    step = tf.function(lambda a, b: model.train_step(a, b, config.train.batch_size))

    def seconds(steps: int) -> float:
        start = time.perf_counter()
        for pair in itertools.islice(itertools.cycle(pairs), steps):
            losses = step(*pair)
        next(iter(losses.values())).numpy()  # the last step has finished
        return time.perf_counter() - start

    seconds(2)  # trace outside the timing
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument(
        "--steps",
        type=int,
        default=500,
        help="steps timed per round (the long fit() run has 50 more)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="each runs the three cases once, in a random order"
    )
    parser.add_argument("--quick", action="store_true", help="100 steps, one round: proves it runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 100, 1
    entry.prepare_process()
    from cyclegan import logger
    from cyclegan.config import preset

    logger.setLevel(logging.WARNING)  # fit()'s progress lines would drown the figures
    config = preset(args.preset)
    files = preprocessed(config.data.load_size, config.data.crop_size, config.data.resize_method)
    print(
        f"{args.preset} preset: {config.data.crop_size} px crops of {config.data.load_size} px "
        f"horse2zebra, batch {config.train.batch_size}; {args.steps} steps timed per round, "
        f"{args.rounds} round(s)",
        flush=True,
    )

    bare = bare_step(config, files, 64)
    fit_seconds(config, files, 2)  # the process's first fit() pays one-off costs; not timed
    cases = {
        "bare": lambda: bare(args.steps),
        "fit long": lambda: fit_seconds(config, files, START_STEPS + args.steps),
        "fit start-up": lambda: fit_seconds(config, files, START_STEPS),
    }
    seconds = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name in random.sample(list(cases), len(cases)):
            seconds[name].append(cases[name]())
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    bare_ms = statistics.median(seconds["bare"]) / args.steps * 1000
    fit_ms = (
        (statistics.median(seconds["fit long"]) - statistics.median(seconds["fit start-up"]))
        / args.steps
        * 1000
    )
    print(f"\n{'':<12}{'ms/step':>9}{'steps/s':>9}{'x bare':>8}")
    print(f"{'bare step':<12}{bare_ms:>9.1f}{1000 / bare_ms:>9.2f}{1.0:>8.2f}")
    print(f"{'fit() loop':<12}{fit_ms:>9.1f}{1000 / fit_ms:>9.2f}{fit_ms / bare_ms:>8.2f}")
    print(
        f"\nthe loop adds {fit_ms / bare_ms - 1:.1%} to the bare step (goal: <= 5%); fit() "
        f"start-up {statistics.median(seconds['fit start-up']):.1f} s"
    )
