"""What TF Serving's warm-up requests buy: the latency of the first request to a freshly
loaded model, with and without replaying assets.extra/tf_serving_warmup_requests first.

    python -m benchmarks serving_warmup [--preset demo] [--train-steps 20] [--loads 20]

The model is the preset trained by fit() for --train-steps steps on real horse2zebra and
exported as the Trainer exports it (warm-up requests included). Each load is a fresh Python
process that imports TensorFlow and nothing of this project, loads the SavedModel with the
`serve` tag, replays the warm-up records as TF Serving does (each request once, through its
signature) or not, then times one request: a horse2zebra testA JPEG as stored, a file the
warm-up requests do not hold, to translate_a_to_b. The loads of both kinds alternate in a
random order; the table gives the p50 (and p90) over --loads loads of each, and the ratio.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile

from benchmarks.ingest import DEFAULT_DATA
from benchmarks.serving_latency import trained_export
from cyclegan import entry

FIRST_REQUEST = r"""
import json, os, sys, time
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

model_dir, image, replay = sys.argv[1], sys.argv[2], sys.argv[3] == "replay"
started = time.perf_counter()
model = tf.saved_model.load(model_dir, tags=["serve"])
loaded = time.perf_counter()
if replay:
    path = os.path.join(model_dir, "assets.extra", "tf_serving_warmup_requests")
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        for value in model.signatures[request.model_spec.signature_name](**inputs).values():
            value.numpy()
replayed = time.perf_counter()
jpeg = tf.constant([open(image, "rb").read()])
start = time.perf_counter()
model.signatures["translate_a_to_b"](image_bytes=jpeg)["png_bytes"].numpy()
first = time.perf_counter() - start
print(json.dumps({"load_s": loaded - started, "replay_s": replayed - loaded,
                  "first_ms": first * 1e3}))
"""


def one_load(model_dir: str, image: str, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-I", "-c", FIRST_REQUEST, model_dir, image, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--loads", type=int, default=20, help="fresh loads of each kind")
    args = parser.parse_args(argv)
    entry.prepare_process()
    from cyclegan import logger

    logger.setLevel(logging.WARNING)
    images = sorted(glob.glob(os.path.join(DEFAULT_DATA, "testA", "*.jpg")))
    with tempfile.TemporaryDirectory() as work_dir:
        model_dir = trained_export(args.preset, args.train_steps, work_dir)
        runs = [mode for mode in ("cold", "replay") for _ in range(args.loads)]
        random.shuffle(runs)
        results = {"cold": [], "replay": []}
        for index, mode in enumerate(runs):
            # A testA file the warm-up requests do not hold (they are the first few).
            image = images[-1 - index % (len(images) // 2)]
            results[mode].append(one_load(model_dir, image, mode))
            print(f"  load {index + 1}/{len(runs)} ({mode}) done", end="\r", flush=True)
    first = {mode: [r["first_ms"] for r in runs_] for mode, runs_ in results.items()}
    print(f"\n{args.preset} preset, {args.loads} fresh loads each, first request (ms):")
    print("| first request after | p50 | p90 |\n|---|---|---|")
    for mode, label in (("cold", "loading only"), ("replay", "loading + warm-up replay")):
        p50, p90 = statistics.median(first[mode]), percentile(first[mode], 0.9)
        print(f"| {label} | {p50:.1f} | {p90:.1f} |")
    ratio = statistics.median(first["cold"]) / statistics.median(first["replay"])
    replay_s = statistics.median(r["replay_s"] for r in results["replay"])
    load_s = statistics.median(r["load_s"] for runs_ in results.values() for r in runs_)
    print(
        f"p50 first request without warm-up / with it: {ratio:.1f}x; the replay itself "
        f"takes {replay_s:.2f} s (p50) at load time, the load {load_s:.2f} s"
    )
