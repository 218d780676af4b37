"""Serving latency: the bytes -> bytes signature against the bare generator, same model.

    python -m benchmarks serving_latency [--size 256] [--requests 30]

Exports a tutorial-preset model (U-Net, 64 filters) at --size, then times, interleaved,
the translate_a_to_b signature on JPEG bytes (decode, resize, translate, PNG-encode) and the
translate_a_to_b_float signature on the same images already preprocessed (the generator
alone), at batch 1 and 8. Prints per-image latency p50/p95 and the signature's overhead
relative to the generator's own time.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.ingest import DEFAULT_DATA
from cyclegan import entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case")
    args = parser.parse_args(argv)
    entry.prepare_process()
    import tensorflow as tf

    from cyclegan import export, image_ops
    from cyclegan.config import preset
    from cyclegan.model import CycleGan

    config = preset("tutorial").replace(crop_size=args.size, load_size=args.size)
    paths = sorted(glob.glob(os.path.join(DEFAULT_DATA, "testA", "*.jpg")))[:8]
    if paths:
        jpegs = [Path(p).read_bytes() for p in paths]
        source = f"{len(paths)} horse2zebra testA JPEGs"
    else:
        rng = np.random.default_rng(0)
        jpegs = [tf.io.encode_jpeg(rng.integers(0, 256, (256, 256, 3), np.uint8)).numpy()
                 for _ in range(8)]
        source = "8 random 256x256 JPEGs"
    with tempfile.TemporaryDirectory() as work:
        model = CycleGan(config)
        loaded = tf.saved_model.load(export.export_generators(model.g_ab, model.g_ba, config,
                                                              work))
        by_bytes = loaded.signatures["translate_a_to_b"]
        by_float = loaded.signatures["translate_a_to_b_float"]
        floats = tf.stack([image_ops.to_unit_range(image_ops.preprocess(
            tf.constant(j), args.size, config.resize_method)) for j in jpegs])
        print(f"{source}, model at {args.size} px; per-image latency in ms")
        print(f"{'batch':>6}{'bytes p50':>11}{'bytes p95':>11}{'gen p50':>9}{'gen p95':>9}"
              f"{'overhead':>10}")
        for batch in (1, 8):
            cases = {
                "bytes": lambda n=batch: by_bytes(image_bytes=tf.constant(jpegs[:n]))[
                    "png_bytes"],
                "generator": lambda n=batch: by_float(images=floats[:n])["images"],
            }
            times = {name: [] for name in cases}
            for call in cases.values():  # warm up
                call().numpy()
            for _ in range(args.requests):
                for name, call in cases.items():  # interleaved: noise hits both alike
                    start = time.perf_counter()
                    call().numpy()
                    times[name].append((time.perf_counter() - start) * 1000 / batch)
            p = {name: np.percentile(values, [50, 95]) for name, values in times.items()}
            overhead = p["bytes"][0] / p["generator"][0] - 1
            print(f"{batch:>6}{p['bytes'][0]:>11.1f}{p['bytes'][1]:>11.1f}"
                  f"{p['generator'][0]:>9.1f}{p['generator'][1]:>9.1f}{overhead:>9.1%}")


if __name__ == "__main__":
    main()
