"""Serving latency of a trained model: the bytes signature TF Serving runs against the bare
generator on the same, already preprocessed images.

    python -m benchmarks serving_latency [--preset demo] [--train-steps 300] [--requests 200]

The model is the preset trained by fit() for --train-steps steps on real horse2zebra (the data
preprocessed once as Preprocess would, cached under runs/bench/) and exported as the Trainer
exports it, both afresh in each run, so that the model is the code's as it is now. Requests are
horse2zebra testA JPEGs: translate_a_to_b takes their bytes and returns PNGs (decode, resize,
translate, encode), once as the files are (256 px) and once as a client that resizes before
sending would send them (the preprocessed images as JPEG, quality 95, at the model's size);
translate_a_to_b_float takes the same images preprocessed beforehand and returns floats (the
generator alone). Batch 1 and 8, each request different images, and every
round sends one request of each case in a random order, after warm-up rounds. Prints each
case's request latency p50 and p95 and the signature's overhead over the generator, and, timed
the same way, the parts of that overhead alone: decoding the JPEG (no bytes signature can skip
it), decoding and resizing it, encoding the PNG (and, for comparison, encoding it at zlib's
default level); and the returned PNGs' size at both levels."""

from __future__ import annotations

import argparse
import functools
import glob
import logging
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.ingest import DEFAULT_DATA, preprocessed
from cyclegan import entry

BATCHES = (1, 8)
WARM_UP_ROUNDS = 10


def trained_export(preset_name: str, train_steps: int, work_dir: str) -> str:
    """The SavedModel of the preset trained for train_steps steps, under work_dir."""
    from cyclegan import export, train
    from cyclegan.config import preset

    config = preset(preset_name)
    files = preprocessed(config.data.load_size, config.data.crop_size, config.data.resize_method)
    model = train.fit(
        config.replace(steps_per_epoch=train_steps, epochs=1, decay_epochs=0),
        files["trainA"],
        files["trainB"],
        files["testA"],
        files["testB"],
        os.path.join(work_dir, "training"),
    )
    return export.export_generators(
        model.g_ab,
        model.g_ba,
        config,
        os.path.join(work_dir, "export"),
        export.warmup_images_from(files["testA"], files["testB"], config),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--quick", action="store_true", help="20 requests per case: proves it runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 20
    entry.prepare_process()
    import tensorflow as tf

    from cyclegan import image_ops, logger
    from cyclegan.config import preset

    logger.setLevel(logging.WARNING)
    config = preset(args.preset)
    with tempfile.TemporaryDirectory() as work_dir:  # loading reads all the model needs
        loaded = tf.saved_model.load(trained_export(args.preset, args.train_steps, work_dir))
    by_bytes = loaded.signatures["translate_a_to_b"]
    by_float = loaded.signatures["translate_a_to_b_float"]
    jpegs = [
        Path(path).read_bytes()
        for path in sorted(glob.glob(os.path.join(DEFAULT_DATA, "testA", "*.jpg")))
    ]
    pixels = [
        image_ops.preprocess(tf.constant(jpeg), config.data.crop_size, config.data.resize_method)
        for jpeg in jpegs
    ]
    floats = tf.stack([image_ops.to_unit_range(image) for image in pixels])
    # What a client that resizes before sending (to save bandwidth) sends: JPEGs at the size.
    jpegs_at_size = [tf.io.encode_jpeg(image, quality=95).numpy() for image in pixels]
    requests = {"bytes": jpegs, "bytes at size": jpegs_at_size}
    print(
        f"{args.preset} preset at {config.data.crop_size} px, trained {args.train_steps} steps "
        f"on horse2zebra; {len(jpegs)} testA JPEGs; {args.requests} timed requests per "
        f"case",
        flush=True,
    )

    # The bytes signature's own work on one image, each part alone, and an empty call.
    size, method = config.data.crop_size, config.data.resize_method
    parts = {
        "decode": tf.function(lambda jpeg, image: {"out": image_ops.decode_rgb(jpeg)}),
        "decode+resize": tf.function(
            lambda jpeg, image: {"out": image_ops.preprocess(jpeg, size, method)}
        ),
        "PNG encode": tf.function(lambda jpeg, image: {"out": image_ops.encode_png(image)}),
        "PNG at zlib's default level 6": tf.function(
            lambda jpeg, image: {
                "out": tf.io.encode_png(image_ops.from_unit_range(image), compression=6)
            }
        ),
        "empty call": tf.function(lambda jpeg, image: {"out": tf.identity(jpeg)}),
    }

    def request(kind: str, batch: int, index: int) -> float:
        """Seconds from sending request `index` to holding its answer as bytes/numpy."""
        picks = [(index * batch + offset) % len(jpegs) for offset in range(batch)]
        if kind in requests:
            encoded = tf.constant([requests[kind][i] for i in picks])
            call = functools.partial(by_bytes, image_bytes=encoded)
        elif kind == "generator":
            call = functools.partial(by_float, images=tf.gather(floats, picks))
        else:
            call = functools.partial(parts[kind], tf.constant(jpegs[picks[0]]), floats[picks[0]])
        start = time.perf_counter()
        next(iter(call().values())).numpy()
        return time.perf_counter() - start

    cases = [(kind, batch) for batch in BATCHES for kind in ("generator", *requests)] + [
        (part, 1) for part in parts
    ]
    latencies = {case: [] for case in cases}
    for round_ in range(WARM_UP_ROUNDS + args.requests):
        for case in random.sample(cases, len(cases)):
            seconds = request(*case, round_)
            if round_ >= WARM_UP_ROUNDS:
                latencies[case].append(seconds * 1000)

    labels = {
        "generator": "generator alone",
        "bytes": "JPEG files as stored",
        "bytes at size": f"JPEGs at {config.data.crop_size} px",
    }
    print(f"\n{'batch':>5}  {'request':<22}{'p50':>8}{'p95':>8}{'overhead p50':>14}")
    for batch in BATCHES:
        generator_p50 = np.percentile(latencies["generator", batch], 50)
        for kind, label in labels.items():
            median, p95 = np.percentile(latencies[kind, batch], [50, 95])
            overhead = "-" if kind == "generator" else f"{median / generator_p50 - 1:.1%}"
            print(f"{batch:>5}  {label:<22}{median:>8.2f}{p95:>8.2f}{overhead:>14}")
    print(
        "(request latency in ms; the overhead is the bytes signature's p50 over the "
        "generator's; goal at batch 1: <= 10%)"
    )
    p50 = {part: np.percentile(latencies[part, 1], 50) for part in parts}
    generator_p50 = np.percentile(latencies["generator", 1], 50)
    print(
        f"the bytes path's own work on one image, timed alone (p50 less an empty call's "
        f"{p50['empty call']:.2f} ms): "
        + ", ".join(
            f"{part} {p50[part] - p50['empty call']:.2f} ms "
            f"({(p50[part] - p50['empty call']) / generator_p50:.1%} of the generator)"
            for part in parts
            if part != "empty call"
        )
    )
    pngs = by_bytes(image_bytes=tf.constant(jpegs))["png_bytes"].numpy()
    at_level_6 = [
        len(tf.io.encode_png(tf.io.decode_png(png), compression=6).numpy()) for png in pngs
    ]
    print(
        f"PNGs returned: {np.mean([len(png) for png in pngs]) / 1024:.1f} KiB on average at "
        f"zlib level {image_ops.PNG_COMPRESSION}, {np.mean(at_level_6) / 1024:.1f} KiB at level 6"
    )
