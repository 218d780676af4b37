"""How close a training step runs to what this machine's cores can compute.

    python -m benchmarks roofline [--sizes 64 256] [--presets tutorial paper]
        [--precisions float32 mixed_bfloat16] [--rounds 3]

Measures, in one process:
- the peak: a 4096 x 4096 matrix product in float32 and in bfloat16 on all cores (TensorFlow's
  own thread pool, as the steps use it), GFLOP/s = 2 n^3 / time;
- the FLOPs of one training step, counted from the networks' own layers: every convolution,
  transposed convolution and small-map product (networks.Conv2D/Conv2DTranspose) records
  2 x its multiply-adds in one forward pass of a generator and of a discriminator on one
  image (g and d; a test holds them to TensorFlow's own per-op FLOP statistics); the step
  counts each pass as many times as its math computes it (`step_flops`): every call's forward
  pass, layer input gradients and weight gradients (each the forward's FLOPs), and a second
  pass of input gradients through each discriminator's call on generated images, for the
  generators' loss. (The input gradients of real images are not needed: well under 1% of the
  count.) Instance norm, activations, losses and Adam are left out: memory-bound, a few % of
  the FLOPs;
- each preset's step at each size and precision (ms/step, median of the rounds), its GFLOP/s
  and that as a share of the same precision's matrix-product peak; the tutorial's own float32
  step (benchmarks/tutorial_step.py) beside the tutorial preset, and the default precision's
  (`auto`) step against it.
Each round times every case once, in a random order, so machine noise favours none.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

from cyclegan import entry

MATMUL_SIZE = 4096


def conv_flops(layer, input_shape, output_shape) -> int:
    """2 x the multiply-adds of a (transposed) convolution layer's call."""
    kernel_h, kernel_w = layer.kernel_size
    channels_in, channels_out = int(input_shape[-1]), layer.filters
    # A convolution computes each output position from a kernel window of the input; a
    # transposed one spreads each input position over a kernel window of the output.
    import tf_keras as keras

    positions_shape = (
        input_shape if isinstance(layer, keras.layers.Conv2DTranspose) else output_shape
    )
    positions = 1
    for dim in positions_shape[:-1]:
        positions *= int(dim)
    return 2 * positions * kernel_h * kernel_w * channels_in * channels_out


@contextlib.contextmanager
def counting_flops(models: Sequence) -> Iterator[List[int]]:
    """Within: every call of a (transposed) convolution layer of `models` appends its FLOPs
    to the yielded list (run the models eagerly)."""
    import tf_keras as keras

    counted: List[int] = []
    layers = [
        layer
        for model in models
        for layer in model.submodules
        if isinstance(layer, keras.layers.Conv2D)  # Conv2DTranspose is one too
    ]

    def counting(layer, call):
        def counted_call(inputs, *args, **kwargs):
            outputs = call(inputs, *args, **kwargs)
            counted.append(conv_flops(layer, inputs.shape, outputs.shape))
            return outputs

        return counted_call

    for layer in layers:
        layer.call = counting(layer, layer.call)
    try:
        yield counted
    finally:
        for layer in layers:
            del layer.call  # the class's call again


def step_flops(model, size: int) -> int:
    """One training step's FLOPs at batch 1, from one generator's and one discriminator's
    forward FLOPs on one image (g, d).

    - Six generator calls (translation, identity and cycle of each direction), each forward,
      input gradients and weight gradients: 3g each.
    - Each discriminator on real images: 3d. On generated images the step runs two backward
      passes, one per loss: the generators' (input gradients down to the images: d) and the
      discriminator's own (2d): 4d. With an image pool (paper) the fakes' call serves the
      generators' loss only (2d) and a third call, on pooled images, the discriminator's (3d).
    """
    import tensorflow as tf

    image = tf.zeros([1, size, size, 3])
    with counting_flops([model.g_ab]) as counted:
        model.g_ab(image)
    g = sum(counted)
    with counting_flops([model.d_a]) as counted:
        model.d_a(image)
    d = sum(counted)
    discriminator_calls = (3 + 2 + 3) if model.pool_a is not None else (3 + 4)
    return 6 * 3 * g + 2 * discriminator_calls * d


def _matmul_rate(dtype, repeats: int = 4) -> Callable[[], float]:
    """A timing function: GFLOP/s of `repeats` n x n products, chained (each waits for the
    previous one's result, as a step's layers do)."""
    import tensorflow as tf

    a = tf.cast(tf.random.uniform([MATMUL_SIZE, MATMUL_SIZE], -1, 1, seed=1), dtype)
    b = tf.cast(tf.random.uniform([MATMUL_SIZE, MATMUL_SIZE], -1, 1, seed=2), dtype) / 64

    @tf.function
    def products(x):
        for _ in range(repeats):
            x = tf.matmul(x, b)
        return x

    products(a).numpy()

    def measure() -> float:
        start = time.perf_counter()
        products(a).numpy()
        return 2 * MATMUL_SIZE**3 * repeats / (time.perf_counter() - start) / 1e9

    return measure


def _step_ms(step, size: int, steps: int) -> Callable[[], float]:
    """A timing function: ms per step of `steps` steps on fixed random images."""
    import tensorflow as tf

    real_a = tf.random.uniform([1, size, size, 3], -1, 1, seed=1)
    real_b = tf.random.uniform([1, size, size, 3], -1, 1, seed=2)
    for _ in range(2):  # trace and warm up outside the timing
        next(iter(step(real_a, real_b).values())).numpy()

    def measure() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            losses = step(real_a, real_b)
        next(iter(losses.values())).numpy()
        return (time.perf_counter() - start) / steps * 1000

    return measure


TUTORIALS_OWN = "tutorial's own"


def _build_step(preset: str, size: int, policy: str):
    """(train step, its FLOPs, the Keras policy it computes in) for batch 1 at `size` px."""
    import tensorflow as tf

    from cyclegan.config import preset as named_preset
    from cyclegan.model import CycleGan

    config = named_preset(preset).replace(crop_size=size, load_size=size, precision=policy)
    model = CycleGan(config)
    step = tf.function(lambda a, b: model.train_step(a, b, 1))
    return step, step_flops(model, size), model.precision.policy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--steps", type=int, nargs="+", default=[10, 2], help="steps per round, one per size"
    )
    parser.add_argument("--presets", nargs="+", default=["tutorial", "paper"])
    parser.add_argument(
        "--precisions",
        nargs="+",
        help="timed besides `auto` (the default), which runs as whichever it picks here "
        "(default: float32, and mixed_bfloat16 where the CPU computes in bfloat16; elsewhere "
        "oneDNN emulates it, several times slower than float32)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    entry.prepare_process()
    import tensorflow as tf

    from benchmarks.tutorial_step import TutorialCycleGan
    from cyclegan import precision

    auto = precision.resolve(precision.AUTO)
    print(f"CPU: {precision.cpu_description()}", flush=True)
    print(f"precision=auto here: {auto.policy} ({auto.reason})", flush=True)
    if args.precisions is None:
        native = set(precision.cpu_flags()) & set(precision.BFLOAT16_CPU_FLAGS)
        args.precisions = ["float32", "mixed_bfloat16"] if native else ["float32"]
    measures: Dict[object, Callable[[], float]] = {
        "float32": _matmul_rate(tf.float32),
        "bfloat16": _matmul_rate(tf.bfloat16),
    }
    flops: Dict[Tuple[str, int, str], int] = {}
    for size, per_round in zip(args.sizes, args.steps):
        for preset in args.presets:
            for policy in dict.fromkeys([*args.precisions, auto.policy]):
                step, flops[(preset, size, policy)], _ = _build_step(preset, size, policy)
                measures[(preset, size, policy)] = _step_ms(step, size, per_round)
        if "tutorial" in args.presets:  # the same work: the tutorial preset's count
            flops[(TUTORIALS_OWN, size, "float32")] = flops[("tutorial", size, "float32")]
            measures[(TUTORIALS_OWN, size, "float32")] = _step_ms(
                TutorialCycleGan(size).train_step, size, per_round
            )
    timings: Dict[object, List[float]] = {key: [] for key in measures}
    for round_index in range(args.rounds):
        for key in random.sample(list(measures), len(measures)):
            timings[key].append(measures[key]())
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)
    median = {key: statistics.median(values) for key, values in timings.items()}

    print(
        f"\nmatrix-product peak ({MATMUL_SIZE}x{MATMUL_SIZE}, all cores): float32 "
        f"{median['float32']:.0f} GFLOP/s, bfloat16 {median['bfloat16']:.0f} GFLOP/s"
    )
    print(
        f"\n{'step':<16}{'size':>5}  {'precision':<24}{'GFLOP/step':>11}{'ms/step':>9}"
        f"{'GFLOP/s':>9}{'of peak':>9}{'x tutorial f32':>16}"
    )
    for (preset, size, policy), count in flops.items():
        ms = median[(preset, size, policy)]
        rate = count / ms / 1e6
        peak = median[policy.replace("mixed_", "")]
        tutorial = median.get((TUTORIALS_OWN, size, "float32"))
        versus = f"{tutorial / ms:.2f}x" if tutorial and preset == "tutorial" else ""
        default = " (default)" if policy == auto.policy and preset != TUTORIALS_OWN else ""
        print(
            f"{preset:<16}{size:>5}  {policy + default:<24}{count / 1e9:>11.1f}{ms:>9.0f}"
            f"{rate:>9.1f}{rate / peak:>9.0%}{versus:>16}"
        )
