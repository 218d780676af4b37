"""tf.data pipelines over ExampleGen's raw records (decoded and resized as Preprocess writes
them) and over preprocessed (uint8 pixel) TFRecords.

Random jitter (crop from load_size to crop_size, horizontal flip) happens here, per element
and per epoch: the deterministic part was done once in Beam.
"""

from __future__ import annotations

import functools
import os
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf

from cyclegan import data_contract, image_ops
from cyclegan.config import Config

RAW_BATCH_SIZE = 64  # images a consumer of raw_example_reader() takes at a time


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@functools.lru_cache(maxsize=None)
def raw_example_reader(size: int, method: str) -> Callable[[List[str]], tf.data.Dataset]:
    """Raw example shard paths -> batches of (shard index, uint8 pixels, source), shard after
    shard in input order, decoded and resized on every core ahead of the consumer. Traced once
    per process and size: a dataset built eagerly traces its map function anew each time
    (~20 ms)."""

    def preprocess(index, serialized):
        features = tf.io.parse_single_example(serialized, data_contract.RAW_FEATURES)
        return (
            index,
            image_ops.preprocess(features[data_contract.ENCODED], size, method),
            features[data_contract.SOURCE],
        )

    def records(index, path):
        return tf.data.TFRecordDataset(path, compression_type="GZIP").map(
            lambda serialized: (index, serialized)
        )

    # Fixed parallelism, autotuning off: an autotuned pipeline's iterator, once consumed,
    # takes up to ~1.3 s to delete, every core idle, while it waits for the autotuner's
    # thread to wake from its sleep (python -m benchmarks ingest: the timeline's gaps at the
    # end of each Preprocess pipeline). Decoding is CPU-bound, so one call per core keeps them busy.
    options = tf.data.Options()
    options.autotune.enabled = False

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def read(paths):
        return (
            tf.data.Dataset.from_tensor_slices(paths)
            .enumerate()
            .flat_map(records)
            .map(preprocess, num_parallel_calls=_cores())
            .batch(RAW_BATCH_SIZE)
            .prefetch(2)
            .with_options(options)
        )

    return read


def preprocessed_images(paths: List[str], size: int, method: str) -> tf.data.Dataset:
    """uint8 images of raw example files, preprocessed as Preprocess does, at any size: for a
    consumer that needs a split at another size than Preprocess wrote (the domain classifier
    reads the train splits exactly as the test splits were made)."""
    return raw_example_reader(size, method)(paths).unbatch().map(lambda i, image, source: image)


def _files(patterns: Sequence[str] | str) -> list:
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    files = sorted(f for pattern in patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {patterns}")
    return files


def count_records(patterns: Sequence[str] | str) -> int:
    return int(
        tf.data.TFRecordDataset(_files(patterns)).reduce(
            tf.constant(0, tf.int64), lambda count, _: count + 1
        )
    )


def examples(patterns: Sequence[str] | str, size: int) -> tf.data.Dataset:
    """(uint8 [size, size, 3] image, source) pairs, in file order."""
    return tf.data.TFRecordDataset(_files(patterns)).map(
        lambda serialized: data_contract.parse_pixel_example(serialized, size),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def images(patterns: Sequence[str] | str, size: int) -> tf.data.Dataset:
    """uint8 [size, size, 3] images, in file order."""
    return examples(patterns, size).map(lambda image, source: image)


def jitter(image: tf.Tensor, config: Config, seed: tf.Tensor) -> tf.Tensor:
    """A random crop (and flip) decided by `seed` alone ([2] ints): the same element gets the
    same jitter in any run, so a resumed training sees what an uninterrupted one would."""
    size = config.data.crop_size
    image = tf.image.stateless_random_crop(image, [size, size, 3], seed=seed)
    if config.train.random_flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    return image


def steps_per_epoch(count_a: int, count_b: int, config: Config) -> int:
    """An epoch covers the larger domain (the paper's unpaired sampling)."""
    steps = config.train.steps_per_epoch or max(count_a, count_b) // config.train.batch_size
    if steps < 1:
        raise ValueError(
            f"{max(count_a, count_b)} training images cannot fill one global batch "
            f"of {config.train.batch_size}"
        )
    return steps


def _domain(patterns, count: int, config: Config, seed: int, first: int) -> tf.data.Dataset:
    """Images of one domain in [-1, 1], from the `first`-th on, endlessly: round r is the
    whole domain in an order drawn from (seed, r); the smaller domain thus wraps around in a
    fresh order instead of truncating the larger, as `zip` would. Element i's order and jitter
    depend on (seed, i) only, never on where a run started."""
    first_round, offset = divmod(first, count)

    def one_round(index):
        # The whole domain as one batch, reordered by a stateless shuffle: memory as a
        # shuffle buffer of the whole domain, but an order that (seed, round) alone decides.
        seeds = tf.stack([tf.constant(seed, tf.int64), index])
        return (
            images(patterns, config.data.load_size)
            .batch(count)
            .map(lambda domain: tf.random.experimental.stateless_shuffle(domain, seed=seeds))
            .unbatch()
        )

    endless = tf.data.Dataset.range(first_round, _ENDLESS).flat_map(one_round).skip(offset)
    positions = tf.data.Dataset.range(first, _ENDLESS)
    return tf.data.Dataset.zip((endless, positions)).map(
        lambda image, position: image_ops.to_unit_range(
            jitter(image, config, tf.stack([tf.constant(seed, tf.int64), position]))
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


_ENDLESS = 2**62


def train_dataset(
    patterns_a,
    patterns_b,
    config: Config,
    global_batch_size: int,
    counts: Tuple[int, int],
    first_step: int = 0,
) -> tf.data.Dataset:
    """Endless (A, B) batches in [-1, 1] from batch `first_step` on; `counts`: the records of
    each domain (count_records()). Batch k is the same whether a run starts at 0 or resumes
    at k."""
    count_a, count_b = counts
    first = first_step * global_batch_size
    seed = config.train.seed
    pairs = tf.data.Dataset.zip(
        (
            _domain(patterns_a, count_a, config, seed, first),
            _domain(patterns_b, count_b, config, seed + 1, first),
        )
    )
    return pairs.batch(global_batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


class TestSet(NamedTuple):
    """Both test splits in memory, read once for everything evaluated on them."""

    images_a: tf.Tensor  # float [n, size, size, 3] in [-1, 1]
    images_b: tf.Tensor
    sources_a: List[str]
    sources_b: List[str]


def read_images(patterns, size: int, count: Optional[int] = None) -> Tuple[tf.Tensor, List[str]]:
    """The first `count` (default: all) images as one float [-1, 1] batch, and their sources."""
    dataset = examples(patterns, size)
    if count is not None:
        dataset = dataset.take(count)
    pixels, sources = [], []
    for image, source in dataset:
        pixels.append(image)
        sources.append(source.numpy().decode())
    return image_ops.to_unit_range(tf.stack(pixels)), sources


def read_test_set(patterns_a, patterns_b, size: int) -> TestSet:
    images_a, sources_a = read_images(patterns_a, size)
    images_b, sources_b = read_images(patterns_b, size)
    return TestSet(images_a, images_b, sources_a, sources_b)
