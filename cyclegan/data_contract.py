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

import numpy as np
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


def serialized_pixel_example(pixels: np.ndarray, size: int, source: bytes) -> bytes:
    """make_pixel_example(pixels.tobytes(), size, source).SerializeToString(deterministic=True),
    byte for byte (tested), written around the pixel buffer with one copy of it: building the
    proto and serialising it copies a 245 KB image four times (Preprocess's writing loop,
    python -m benchmarks ingest: ~75 us of CPU an image at 286 px, ~5% of its work)."""
    pixels = np.ascontiguousarray(pixels)
    size_list = _length_delimited(1, len(_varint(size))) + _varint(size)  # packed Int64List
    features = sorted(  # a deterministic serialisation writes map entries by key
        [
            (PIXELS, _bytes_feature_head(pixels.nbytes), pixels),
            (SIZE, _length_delimited(3, len(size_list)) + size_list, b""),
            (SOURCE, _bytes_feature_head(len(source)), source),
        ],
        key=lambda feature: feature[0],
    )
    parts = []
    for key, head, value in features:
        parts += [_map_entry(key, len(head) + memoryview(value).nbytes), head, value]
    body = sum(memoryview(part).nbytes for part in parts)
    return b"".join([_length_delimited(1, body), *parts])  # Example{features: Features}


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(field: int, length: int) -> bytes:
    """The tag and length that precede a length-delimited protobuf field's `length` bytes."""
    return _varint(field << 3 | 2) + _varint(length)


def _bytes_feature_head(length: int) -> bytes:
    """Feature{bytes_list: BytesList{value: [v]}} up to v's `length` bytes."""
    value_head = _length_delimited(1, length)
    return _length_delimited(1, len(value_head) + length) + value_head


def _map_entry(key: str, feature_length: int) -> bytes:
    """A Features.feature map entry {key, value: Feature} up to the Feature's bytes."""
    key_field = _length_delimited(1, len(key)) + key.encode()
    value_head = _length_delimited(2, feature_length)
    return (
        _length_delimited(1, len(key_field) + len(value_head) + feature_length)
        + key_field
        + value_head
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
