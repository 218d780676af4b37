"""Ingestion speed: the Preprocess component against the best plain TensorFlow pipeline for
the same work, ExampleGen, and what compressing the raw and the preprocessed records costs
and saves.

    python -m benchmarks ingest [--data ../shared/data/horse2zebra] [--rounds 5] [--copies 3]
                                [--quick]

Preprocess runs as the TFX component (LocalDagRunner, Beam DirectRunner) on its real input,
ExampleGen's output artifact. The plain pipeline is what a user would write without Beam or
TFX (plain_preprocess below): tf.data over the same JPEG files, read and decoded in parallel
(one call per core, autotuning off, as Preprocess), resized and centre-cropped by the same
image ops, batched and prefetched, and one loop writing the same pixel tf.Examples
(data_contract.make_pixel_example) to one TFRecord file per split. The run checks that both
stored the same pixels for every image.

Every timed run is a fresh process that imports everything before its clock starts, and
runs twice: on one image per split (the start-up) and on all images, each read --copies times
(symbolic links with distinct names; 2661 images last only a few seconds). images/s is
(all - 4) / (time on all - time on 4): the work that grows with the data, with tracing and
other one-off costs paid in both runs and cancelled. Each round runs every case in a random
order; figures are medians over the rounds. ExampleGen (read, validate, write raw examples) is
timed the same way and has no ratio: the plain pipeline does none of its work.
"""

from __future__ import annotations

import argparse
import functools
import glob
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Tuple

from cyclegan import entry
from pipeline import cli

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "horse2zebra")
# Where benchmarks keep what they make once (git-ignored, like every run's output).
CACHE = os.path.join(os.path.dirname(__file__), "..", "runs", "bench")
TIMELINE_INTERVAL_S = 0.1
LOAD_SIZE, CROP_SIZE, METHOD = 286, 256, "bicubic"  # the paper preset's preprocessing
# name -> (TFRecord compression type, zlib level; -1 is zlib's default, 6)
CODECS = {
    "none": ("", -1),
    "GZIP": ("GZIP", -1),
    "GZIP-1": ("GZIP", 1),
    "GZIP-0": ("GZIP", 0),
    "ZLIB": ("ZLIB", -1),
}


def plain_preprocess(data: str, out_dir: str, load_size: int, crop_size: int, method: str) -> int:
    """Preprocess's work as plain TensorFlow: writes out_dir/<split>/data.tfrecord; returns
    the images written."""
    import tensorflow as tf

    from cyclegan import data_contract, image_ops, sources

    listings = sources.check_folder(data)
    # As Preprocess's reader (input_pipeline.raw_example_reader): one parallel call per core,
    # autotuning off. An autotuned iterator, once consumed, takes up to seconds to delete,
    # every core idle: left on, this baseline's runs would stall at random.
    options = tf.data.Options()
    options.autotune.enabled = False
    cores = len(os.sched_getaffinity(0))
    count = 0
    for split in data_contract.SPLITS:
        size = data_contract.stored_size(split, load_size, crop_size)
        paths = listings[split].images
        names = [os.path.relpath(path, data) for path in paths]  # as ExampleGen names them
        batches = (
            tf.data.Dataset.from_tensor_slices((paths, names))
            .map(
                lambda path, name, size=size: (
                    image_ops.preprocess(tf.io.read_file(path), size, method),
                    name,
                ),
                num_parallel_calls=cores,
            )
            .batch(64)
            .prefetch(2)
            .with_options(options)
        )
        os.makedirs(os.path.join(out_dir, split))
        with tf.io.TFRecordWriter(os.path.join(out_dir, split, "data.tfrecord")) as writer:
            for pixels, batch_names in batches.as_numpy_iterator():
                for image, name in zip(pixels, batch_names):
                    writer.write(
                        data_contract.make_pixel_example(
                            image.tobytes(), size, name
                        ).SerializeToString()
                    )
                count += len(pixels)
    return count


def preprocessed(
    load_size: int, crop_size: int, method: str, data: str = DEFAULT_DATA
) -> Dict[str, str]:
    """split -> TFRecord file of `data` preprocessed as Preprocess would (plain_preprocess),
    made once under runs/bench/ and reused."""
    from cyclegan import data_contract

    target = os.path.join(
        CACHE, f"{os.path.basename(os.path.abspath(data))}-{load_size}-{crop_size}-{method}"
    )
    if not os.path.isdir(target):
        partial = target + ".partial"  # renamed when complete: an interrupted run leaves none
        shutil.rmtree(partial, ignore_errors=True)
        plain_preprocess(data, partial, load_size, crop_size, method)
        os.rename(partial, target)
    return {split: os.path.join(target, split, "data.tfrecord") for split in data_contract.SPLITS}


def run_pipeline(components: list, work: str, beam_args: List[str]) -> None:
    from tfx import v1 as tfx

    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="bench",
            pipeline_root=work,
            components=components,
            enable_cache=False,
            beam_pipeline_args=beam_args,
            metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
                os.path.join(work, "metadata.sqlite")
            ),
        )
    )


def preprocess_component(examples):
    from cyclegan.config import DataConfig
    from pipeline.pipeline import preprocess_step

    data = DataConfig(load_size=LOAD_SIZE, crop_size=CROP_SIZE, resize_method=METHOD)
    return preprocess_step(examples, data)


def example_gen_component(data: str):
    """The pipeline's own ExampleGen for a folder."""
    from cyclegan.config import Config
    from pipeline import data_source

    return data_source.parse(data).example_gen(Config())


def _example_gen(data: str, work: str, beam_args: List[str]) -> Callable[[], object]:
    return functools.partial(run_pipeline, [example_gen_component(data)], work, beam_args)


def _preprocess(examples_uri: str, work: str, beam_args: List[str]) -> Callable[[], object]:
    from tfx import v1 as tfx

    from cyclegan import data_contract

    # ExampleGen's artifact as a pipeline hands it over: its URI and split names.
    examples = tfx.dsl.Importer(
        source_uri=examples_uri,
        artifact_type=tfx.types.standard_artifacts.Examples,
        properties={"split_names": json.dumps(list(data_contract.SPLITS))},
    ).with_id("raw")
    return functools.partial(
        run_pipeline, [examples, preprocess_component(examples.outputs["result"])], work, beam_args
    )


def _plain(data: str, work: str, beam_args: List[str]) -> Callable[[], object]:
    import tensorflow  # noqa: F401  (imported before the clock, as the others' imports)

    return functools.partial(plain_preprocess, data, work, LOAD_SIZE, CROP_SIZE, METHOD)


CASES = {"ExampleGen": _example_gen, "Preprocess": _preprocess, "plain": _plain}


class CoreSampler(threading.Thread):
    """Reads this process's CPU time every `interval` seconds while it runs: how many cores
    were busy in each interval (a timeline of the run)."""

    def __init__(self, interval: float = TIMELINE_INTERVAL_S):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = [(time.perf_counter(), time.process_time())]
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.samples.append((time.perf_counter(), time.process_time()))

    def stop(self) -> List[float]:
        """Stops sampling; busy cores per interval."""
        self._done.set()
        self.join()
        self.samples.append((time.perf_counter(), time.process_time()))
        return [
            (cpu1 - cpu0) / (t1 - t0)
            for (t0, cpu0), (t1, cpu1) in zip(self.samples, self.samples[1:])
            if t1 > t0
        ]


def format_timeline(busy: List[float], cores: int) -> str:
    """One character per interval: how busy the cores were ('#' all of them, ' ' none)."""
    levels = " .:-=+*#"
    return "".join(levels[min(len(levels) - 1, round(b / cores * (len(levels) - 1)))] for b in busy)


def _child(case: str, source: str, work: str, beam_args: List[str]) -> None:
    """One timed run in this fresh process; prints {"seconds", "cpu_seconds", "busy"} as
    JSON (busy: cores busy per TIMELINE_INTERVAL_S)."""
    run = CASES[case](source, work, beam_args)  # imports happen here, before the clock
    sampler = CoreSampler()
    start, cpu = time.perf_counter(), time.process_time()
    sampler.start()
    run()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "busy": sampler.stop()}))


def _timed(case: str, source: str, work: str, beam_args: List[str]) -> Dict[str, float]:
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ingest",
            "--child",
            case,
            source,
            work,
            *(f"--beam-arg={arg}" for arg in beam_args),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def repeated(data: str, into: str, copies: int) -> str:
    """A folder holding every image of data `copies` times (symbolic links, distinct names):
    more work per timed run, so that start-up noise weighs less against it."""
    if copies == 1:
        return data
    from cyclegan import data_contract

    for split in data_contract.SPLITS:
        os.makedirs(os.path.join(into, split))
        for path in sorted(glob.glob(os.path.join(data, split, "*"))):
            for copy in range(copies):
                link = os.path.join(into, split, f"copy{copy}_{os.path.basename(path)}")
                os.symlink(os.path.abspath(path), link)
    return into


def one_per_split(data: str, into: str) -> str:
    from cyclegan import data_contract

    for split in data_contract.SPLITS:
        os.makedirs(os.path.join(into, split))
        first = sorted(glob.glob(os.path.join(data, split, "*")))[0]
        os.symlink(os.path.abspath(first), os.path.join(into, split, os.path.basename(first)))
    return into


def _examples_uri(work: str) -> str:
    return glob.glob(os.path.join(work, "FolderImageExampleGen", "examples", "*"))[0]


def _pixel_digests(files: List[str]) -> Dict[str, str]:
    """source -> digest of (size, pixels) of every preprocessed example in files."""
    import tensorflow as tf

    from cyclegan import data_contract

    digests = {}
    for record in tf.data.TFRecordDataset(files):
        parsed = tf.io.parse_single_example(record, data_contract.PIXEL_FEATURES)
        digests[parsed[data_contract.SOURCE].numpy().decode()] = hashlib.sha256(
            parsed[data_contract.PIXELS].numpy() + str(int(parsed[data_contract.SIZE])).encode()
        ).hexdigest()
    return digests


def compare_outputs(preprocess_work: str, plain_work: str) -> Tuple[int, List[str]]:
    """(images both stored, the sources whose pixels differ or are missing on one side)."""
    ours = _pixel_digests(
        glob.glob(os.path.join(preprocess_work, "Preprocess", "preprocessed", "*", "Split-*", "*"))
    )
    plain = _pixel_digests(glob.glob(os.path.join(plain_work, "*", "data.tfrecord")))
    return len(ours), sorted(s for s in set(ours) | set(plain) if ours.get(s) != plain.get(s))


def first_records(files: List[str], compression: str, count: int) -> List[bytes]:
    import tensorflow as tf

    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression).take(count)]


def measure_codecs(records: List[bytes], rounds: int, work_dir: str) -> Dict[str, Dict[str, float]]:
    """Per codec: bytes per record, and the seconds per record to write them (one thread, as
    the components' writing loops do) and to read them back (as their readers do)."""
    import tensorflow as tf

    times = {codec: {"write": [], "read": []} for codec in CODECS}
    sizes = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        for _ in range(rounds):
            for codec in random.sample(list(CODECS), len(CODECS)):
                kind, level = CODECS[codec]
                path = os.path.join(work, f"records-{codec}")
                options = tf.io.TFRecordOptions(kind, compression_level=level)
                start = time.perf_counter()
                with tf.io.TFRecordWriter(path, options) as writer:
                    for record in records:
                        writer.write(record)
                times[codec]["write"].append(time.perf_counter() - start)
                start = time.perf_counter()
                tf.data.TFRecordDataset(path, kind).reduce(0, lambda count, _: count + 1)
                times[codec]["read"].append(time.perf_counter() - start)
                sizes[codec] = os.path.getsize(path)
    return {
        codec: {
            "bytes": sizes[codec] / len(records),
            **{
                what: statistics.median(seconds) / len(records)
                for what, seconds in times[codec].items()
            },
        }
        for codec in CODECS
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=entry.HelpFormatter)
    parser.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help="a trainA/trainB/testA/testB folder (default: horse2zebra in ../shared/data)",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="each runs every case once, in a random order"
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=3,
        help="the full run reads every image this many times (distinct names), so that it "
        "lasts long enough for start-up noise not to matter",
    )
    parser.add_argument(
        "--work-dir",
        default=None,
        help="where the runs write (default: the system's temporary directory); "
        "a RAM disk such as /dev/shm keeps disk writeback out of the timing",
    )
    parser.add_argument(
        "--codec-images",
        type=int,
        default=512,
        help="trainA records of each kind the compression figures are taken on",
    )
    parser.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        help="a Beam pipeline option for both components, e.g. "
        "--beam-arg=--direct_running_mode=multi_processing; repeatable",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one round, one copy and 64 records for compression: proves it runs",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CASE", "SOURCE", "WORK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    entry.prepare_process()
    cli.configure_logging(verbose=False)
    if args.child:
        _child(*args.child, args.beam_args)
        return
    if args.quick:
        args.rounds, args.copies, args.codec_images = 1, 1, 64

    from cyclegan import data_contract, sources

    data = os.path.abspath(args.data)
    listings = sources.check_folder(data)
    distinct = sum(len(listings[split].images) for split in data_contract.SPLITS)
    count = distinct * args.copies
    small_count = len(data_contract.SPLITS)
    print(
        f"{distinct} images from {data}, each read {args.copies} time(s): {count} per full "
        f"run; train splits to {LOAD_SIZE} px, test to {CROP_SIZE} px, {METHOD}; "
        f"{args.rounds} round(s), every run a fresh process",
        flush=True,
    )

    work = tempfile.mkdtemp(prefix="bench_ingest_", dir=args.work_dir)
    try:
        inputs = {
            "small": one_per_split(data, os.path.join(work, "small_data")),
            "all": repeated(data, os.path.join(work, "all_data"), args.copies),
        }
        # Preprocess's inputs, made once (this also brings the JPEGs into the page cache).
        examples = {}
        for size, folder in inputs.items():
            _timed("ExampleGen", folder, os.path.join(work, f"examples-{size}"), args.beam_args)
            examples[size] = _examples_uri(os.path.join(work, f"examples-{size}"))
        sources_of = {"ExampleGen": inputs, "Preprocess": examples, "plain": inputs}
        results = {(case, size): [] for case in CASES for size in inputs}
        kept = {}  # the last full output of Preprocess and of plain, compared below
        for round_ in range(args.rounds):
            for case, size in random.sample(list(results), len(results)):
                out = os.path.join(work, f"{case}-{size}-{round_}")
                results[case, size].append(
                    _timed(case, sources_of[case][size], out, args.beam_args)
                )
                if size == "all" and case in ("Preprocess", "plain"):
                    if case in kept:
                        shutil.rmtree(kept[case])
                    kept[case] = out
                else:
                    shutil.rmtree(out)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        same, differ = compare_outputs(kept["Preprocess"], kept["plain"])
        # The same images as raw examples (ExampleGen writes them, Preprocess reads them) and
        # as preprocessed ones (Preprocess writes them, every training epoch reads them).
        raw_records = first_records(
            sorted(glob.glob(os.path.join(examples["all"], "Split-trainA", "*"))),
            "GZIP",
            args.codec_images,
        )
        pixel_records = first_records(
            sorted(
                glob.glob(
                    os.path.join(
                        kept["Preprocess"], "Preprocess", "preprocessed", "*", "Split-trainA", "*"
                    )
                )
            ),
            "",
            args.codec_images,
        )
        codecs = {
            "raw": measure_codecs(raw_records, args.rounds, work),
            "preprocessed": measure_codecs(pixel_records, args.rounds, work),
        }
    finally:
        shutil.rmtree(work)

    def median(case: str, size: str, key: str) -> float:
        return statistics.median(run[key] for run in results[case, size])

    cores = len(os.sched_getaffinity(0))
    rows = {}
    for case in CASES:
        grown = count - small_count
        seconds = median(case, "all", "seconds") - median(case, "small", "seconds")
        cpu = median(case, "all", "cpu_seconds") - median(case, "small", "cpu_seconds")
        rows[case] = (
            median(case, "small", "seconds"),
            median(case, "all", "seconds"),
            grown / max(seconds, 1e-9),
            cpu / grown * 1000,
            cpu / max(seconds, 1e-9) / cores,
        )
    plain_rate = rows["plain"][2]
    labels = {"Preprocess": "Preprocess", "plain": "plain tf.data", "ExampleGen": "ExampleGen"}
    print(
        f"\n{'':<14}{'start-up s':>11}{'total s':>9}{'images/s':>10}{'CPU ms/image':>14}"
        f"{'cores busy':>12}{'x plain':>9}"
    )
    for case, label in labels.items():
        startup, total, rate, cpu_ms, busy = rows[case]
        ratio = f"{rate / plain_rate:>9.2f}" if case != "ExampleGen" else f"{'-':>9}"
        print(
            f"{label:<14}{startup:>11.1f}{total:>9.1f}{rate:>10.0f}{cpu_ms:>14.2f}"
            f"{busy:>12.0%}{ratio}"
        )
    print(
        f"\n(cores busy: CPU time / wall time / {cores} cores, of the work that grows with the "
        f"data.) Busy cores over the last full run of each, one character per "
        f"{TIMELINE_INTERVAL_S:g} s ('#': all {cores}, ' ': none):"
    )
    for case in ("Preprocess", "plain"):
        print(f"{labels[case]:<14}|{format_timeline(results[case, 'all'][-1]['busy'], cores)}|")
    print(
        f"\nPreprocess and plain stored identical pixels for {same - len(differ)} of {count} "
        f"images" + (f"; they differ for {differ[:5]}" if differ else "")
    )

    print(
        f"\ncompression of {args.codec_images} trainA records, written from memory by one "
        f"thread and read back; the last column is the time writing adds per image, "
        f"relative to the writer's time per image above:"
    )
    for kind, writer, label in (
        ("raw", "ExampleGen", "raw examples (JPEG bytes)"),
        ("preprocessed", "Preprocess", f"pixels at {LOAD_SIZE} px"),
    ):
        none = codecs[kind]["none"]
        print(
            f"{label:<26}{'KiB/image':>10}{'size x none':>13}{'write images/s':>16}"
            f"{'read images/s':>15}{'+ ' + writer + ' time':>19}"
        )
        for codec, figures in codecs[kind].items():
            added = (figures["write"] - none["write"]) * rows[writer][2]
            print(
                f"  {codec:<24}{figures['bytes'] / 1024:>10.1f}"
                f"{figures['bytes'] / none['bytes']:>13.3f}{1 / figures['write']:>16.0f}"
                f"{1 / figures['read']:>15.0f}{added:>19.0%}"
            )


if __name__ == "__main__":
    main()
