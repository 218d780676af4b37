"""Where a training step spends its time: TensorFlow's profiler, summed by op type.

    python -m benchmarks profile_step [--size 256] [--steps 3] [--step ours|tutorial]
        [--preset tutorial|paper] [--precision float32|mixed_bfloat16|...]

Runs a preset's step (ours, or the tutorial's own from benchmarks/tutorial_step.py)
on random images, traces `--steps` steps after two warm-up steps with tf.profiler, and reads the
trace (TensorFlow's XSpace protobuf) directly: every op the executor ran is one event named
"op name:op type". Prints the wall time per step and, per op type, the time summed over all
threads per step, its share of the summed time, and the number of calls per step. Summed time
exceeds the wall time when ops run side by side. The op types tell the kinds of work apart:
convolutions forward (Conv2D) and backward (...BackpropInput/Filter), instance norm
(FusedBatchNorm* in ours; Mean/Sub/Mul... in the tutorial's), the optimizer
(ResourceApplyAdam, or the many element-wise ops of Keras 3-style Adam), and the rest.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile
import time

from cyclegan import entry

# Ops that only call other ops (a tf.function inside the step): their time is their children's.
# The executor's own events ("Process", "Run") contain the op events.
CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall", "Process", "Run"}


def build_step(which: str, size: int, preset_name: str = "tutorial", precision: str = "float32"):
    import tensorflow as tf

    if which == "tutorial":
        from benchmarks.tutorial_step import TutorialCycleGan

        return TutorialCycleGan(size).train_step
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    config = preset(preset_name).replace(crop_size=size, load_size=size, precision=precision)
    model = CycleGan(config)
    return tf.function(lambda a, b: model.train_step(a, b, config.train.batch_size))


def op_times(trace_dir: str, by: str = "type"):
    """{op type (or op name): [summed seconds, calls]} over every op event in the trace's host
    plane."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals = collections.defaultdict(lambda: [0.0, 0])
    for path in glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as file:
            space.ParseFromString(file.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            names = {key: meta.name for key, meta in plane.event_metadata.items()}
            for line in plane.lines:
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    if ":" not in name:
                        continue
                    op_name, op_type = name.rsplit(":", 1)
                    if op_type in CALL_OPS or not op_type.replace("_", "").isalnum():
                        continue
                    key = op_type if by == "type" else f"{op_name} ({op_type})"
                    totals[key][0] += event.duration_ps * 1e-12
                    totals[key][1] += 1
    return totals


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="image size (power of two)")
    parser.add_argument("--steps", type=int, default=3, help="steps traced")
    parser.add_argument("--step", choices=["ours", "tutorial"], default="ours")
    parser.add_argument("--preset", choices=["tutorial", "paper", "demo"], default="tutorial")
    parser.add_argument(
        "--precision",
        choices=["float32", "mixed_bfloat16", "mixed_float16", "auto"],
        default="float32",
        help="of our step (the tutorial's is float32)",
    )
    parser.add_argument("--top", type=int, default=15, help="rows listed")
    parser.add_argument(
        "--by", choices=["type", "name"], default="type", help="sum by op type or by op (layer)"
    )
    args = parser.parse_args(argv)
    entry.prepare_process()
    import tensorflow as tf

    step = build_step(args.step, args.size, args.preset, args.precision)
    real_a = tf.random.uniform([1, args.size, args.size, 3], -1, 1, seed=1)
    real_b = tf.random.uniform([1, args.size, args.size, 3], -1, 1, seed=2)
    for _ in range(2):  # trace and warm up outside the profile
        next(iter(step(real_a, real_b).values())).numpy()
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        start = time.perf_counter()
        for _ in range(args.steps):
            losses = step(real_a, real_b)
        next(iter(losses.values())).numpy()
        wall = (time.perf_counter() - start) / args.steps
        tf.profiler.experimental.stop()
        totals = op_times(trace_dir, args.by)

    summed = sum(seconds for seconds, _ in totals.values()) / args.steps
    print(
        f"{args.step} step at {args.size} px: {wall * 1000:.0f} ms/step wall, "
        f"{summed * 1000:.0f} ms/step summed over ops ({summed / wall:.2f} ops in parallel)"
    )
    width = 36 if args.by == "type" else 110
    print(f"{'op ' + args.by:<{width}}{'ms/step':>9}{'share':>8}{'calls/step':>12}")
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    for op_type, (seconds, calls) in ranked[: args.top]:
        per_step = seconds / args.steps
        print(
            f"{op_type:<36}{per_step * 1000:>9.1f}{per_step / summed:>8.1%}"
            f"{calls / args.steps:>12.0f}"
        )
    rest = sum(seconds for _, (seconds, _) in ranked[args.top :]) / args.steps
    print(
        f"{'(the other ' + str(max(0, len(ranked) - args.top)) + ' types)':<36}"
        f"{rest * 1000:>9.1f}{rest / summed:>8.1%}"
    )


if __name__ == "__main__":
    main()
