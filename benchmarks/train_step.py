"""Train-step speed: our batched CycleGAN step against the tutorial's step, same config.

    python -m benchmarks train_step [--sizes 64 256] [--steps 20 4]

Both steps run the tutorial preset (U-Net, 64 filters, BCE, batch 1) in float32 (the
tutorial's precision; `roofline` times ours in bfloat16 too) on the same random images,
each under tf.function, in rounds: each round times both, in a random order, so that machine
noise and warm caches favour neither. The tutorial's step is its own train_step on its own
layer definitions (benchmarks/tutorial_step.py); below 256 px its U-Net leaves out the
innermost blocks, with one dropout layer at 64 px where ours has three. Prints ms/step (median
over rounds), tutorial / ours from the medians, and the lowest and highest of the rounds' own
ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from cyclegan import entry


def _time_steps(step, real_a, real_b, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        losses = step(real_a, real_b)
    next(iter(losses.values())).numpy()  # wait for the last step
    return (time.perf_counter() - start) / steps * 1000.0


def measure(size: int, steps: int, rounds: int):
    import tensorflow as tf

    from benchmarks.tutorial_step import TutorialCycleGan
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    config = preset("tutorial").replace(crop_size=size, load_size=size, precision="float32")
    ours_model = CycleGan(config)
    ours = tf.function(lambda a, b: ours_model.train_step(a, b, config.train.batch_size))
    tutorial = TutorialCycleGan(size).train_step
    real_a = tf.random.uniform([1, size, size, 3], -1, 1, seed=1)
    real_b = tf.random.uniform([1, size, size, 3], -1, 1, seed=2)
    steps_by_name = {"ours": ours, "tutorial": tutorial}
    for step in steps_by_name.values():  # trace and warm up outside the timing
        _time_steps(step, real_a, real_b, 2)
    ms = {name: [] for name in steps_by_name}
    for _ in range(rounds):
        for name in random.sample(list(steps_by_name), len(steps_by_name)):
            ms[name].append(_time_steps(steps_by_name[name], real_a, real_b, steps))
    ratios = [theirs / ours for ours, theirs in zip(ms["ours"], ms["tutorial"])]
    return statistics.median(ms["ours"]), statistics.median(ms["tutorial"]), ratios


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--steps", type=int, nargs="+", default=[20, 4], help="steps per round, one per size"
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    entry.prepare_process()
    print(
        f"{'size':>6}{'ours ms/step':>14}{'tutorial ms/step':>18}{'speed-up':>10}"
        f"{'rounds min-max':>16}"
    )
    for size, steps in zip(args.sizes, args.steps):
        ours, tutorial, ratios = measure(size, steps, args.rounds)
        print(
            f"{size:>6}{ours:>14.0f}{tutorial:>18.0f}{tutorial / ours:>9.2f}x"
            f"{min(ratios):>9.2f}-{max(ratios):.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
