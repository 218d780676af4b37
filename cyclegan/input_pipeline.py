"""tf.data pipelines over preprocessed (uint8 pixel) TFRecords.

Random jitter (crop from load_size to crop_size, horizontal flip) happens here, per element
and per epoch: the deterministic part was done once in Beam.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf

from cyclegan import data_contract, image_ops
from cyclegan.config import Config


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


def jitter(image: tf.Tensor, config: Config) -> tf.Tensor:
    image = tf.image.random_crop(image, [config.crop_size, config.crop_size, 3])
    if config.random_flip:
        image = tf.image.random_flip_left_right(image)
    return image


def train_dataset(
    patterns_a, patterns_b, config: Config, global_batch_size: int
) -> Tuple[tf.data.Dataset, int]:
    """Endless (A, B) batches in [-1, 1], and the steps that make one epoch.

    An epoch covers the larger domain (the paper's unpaired sampling); the smaller one wraps
    around in a fresh shuffled order instead of truncating the larger, as `zip` would.
    """
    count_a, count_b = count_records(patterns_a), count_records(patterns_b)
    steps = config.steps_per_epoch or max(count_a, count_b) // global_batch_size
    if steps < 1:
        raise ValueError(
            f"{max(count_a, count_b)} training images cannot fill one global batch "
            f"of {global_batch_size}"
        )

    def domain(patterns, count, seed):
        return (
            images(patterns, config.load_size)
            .shuffle(count, seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .map(
                lambda image: image_ops.to_unit_range(jitter(image, config)),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        )

    pairs = tf.data.Dataset.zip(
        (domain(patterns_a, count_a, config.seed), domain(patterns_b, count_b, config.seed + 1))
    )
    return pairs.batch(global_batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE), steps


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
