"""The data contract every component agrees on: split names, domains and feature keys.

Splits are named after the dataset's own folders (trainA, trainB, testA, testB), which map
one to one onto TFDS `cycle_gan/*` and the official zips.

Raw examples (ExampleGen output), one per image:
  image/encoded  bytes   the original file bytes (JPEG or PNG); never re-encoded lossily.
                         Files TensorFlow cannot decode as 8-bit RGB/grey (CMYK, palette,
                         16-bit, rotated by EXIF) are converted once to lossless PNG.
  image/domain   bytes   b"A" or b"B"
  image/source   bytes   where the image came from (a path relative to the input folder, or
                         a synthetic/TFDS identifier); names pair up test images when a
                         ground truth exists.

Preprocessed examples (Preprocess output), one per image:
  image/pixels   bytes   raw uint8 pixels, row-major HxWx3, RGB. Square: load_size for train
                         splits, crop_size for test splits.
  image/size     int64   the side length
  image/source   bytes   copied from the raw example
Pixels stay uint8 on disk (4x smaller and faster than float32); `image_ops.to_unit_range`
maps them to [-1, 1] when the Trainer reads them.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import tensorflow as tf

TRAIN_A, TRAIN_B, TEST_A, TEST_B = "trainA", "trainB", "testA", "testB"
SPLITS: Tuple[str, ...] = (TRAIN_A, TRAIN_B, TEST_A, TEST_B)
TRAIN_SPLITS: Tuple[str, ...] = (TRAIN_A, TRAIN_B)
TEST_SPLITS: Tuple[str, ...] = (TEST_A, TEST_B)
# Beside the raw examples: per split, images seen, written, skipped (with the reasons).
INGEST_REPORT_FILE = "ingest_report.json"
DOMAIN_OF_SPLIT: Dict[str, str] = {TRAIN_A: "A", TRAIN_B: "B", TEST_A: "A", TEST_B: "B"}

ENCODED = "image/encoded"
DOMAIN = "image/domain"
SOURCE = "image/source"
PIXELS = "image/pixels"
SIZE = "image/size"

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def make_raw_example(encoded: bytes, domain: str, source: str) -> tf.train.Example:
    if domain not in ("A", "B"):
        raise ValueError(f"domain must be 'A' or 'B', got {domain!r}")
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                ENCODED: _bytes_feature(encoded),
                DOMAIN: _bytes_feature(domain.encode()),
                SOURCE: _bytes_feature(source.encode()),
            }
        )
    )


RAW_FEATURES = {
    ENCODED: tf.io.FixedLenFeature([], tf.string),
    DOMAIN: tf.io.FixedLenFeature([], tf.string),
    SOURCE: tf.io.FixedLenFeature([], tf.string),
}


def make_pixel_example(pixels: bytes, size: int, source: bytes) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                PIXELS: _bytes_feature(pixels),
                SIZE: tf.train.Feature(int64_list=tf.train.Int64List(value=[size])),
                SOURCE: _bytes_feature(source),
            }
        )
    )


PIXEL_FEATURES = {
    PIXELS: tf.io.FixedLenFeature([], tf.string),
    SIZE: tf.io.FixedLenFeature([], tf.int64),
    SOURCE: tf.io.FixedLenFeature([], tf.string),
}


def parse_pixel_example(serialized: tf.Tensor, size: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """Serialized preprocessed example -> (uint8 [size, size, 3] image, source)."""
    features = tf.io.parse_single_example(serialized, PIXEL_FEATURES)
    size_check = tf.debugging.assert_equal(
        features[SIZE],
        tf.constant(size, tf.int64),
        message=f"preprocessed image size differs from the expected {size}",
    )
    # In a traced map function nothing orders the check before the reshape, which would then
    # fail first, naming no size, whenever it wins the race.
    with tf.control_dependencies([size_check]):
        image = tf.reshape(tf.io.decode_raw(features[PIXELS], tf.uint8), [size, size, 3])
    return image, features[SOURCE]


def stored_size(split: str, load_size: int, crop_size: int) -> int:
    """The side length Preprocess stores a split at: train splits keep room for the Trainer's
    random crop; test splits are final size."""
    return load_size if split in TRAIN_SPLITS else crop_size


def split_dir(artifact_uri: str, split: str) -> str:
    """TFX's directory for one split of an Examples artifact."""
    return f"{artifact_uri}/Split-{split}"


def split_files(artifact_uri: str, split: str) -> List[str]:
    """The data files of one split of an Examples artifact, in order."""
    return sorted(tf.io.gfile.glob(f"{split_dir(artifact_uri, split)}/*"))
