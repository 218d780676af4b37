"""Hostile serving requests: each image's header is checked before anything is decoded, and
a bad image is named by its index in the batch."""

import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from cyclegan import image_ops, request_guard
from tests.helpers import encode, random_pixels

SIZE = 32
BUDGET = 10_000


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk declaring width x height (RGB, 8 bits), no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


@pytest.fixture(scope="module")
def decode():
    return tf.function(
        lambda encoded: request_guard.decode_batch(encoded, SIZE, "bilinear", BUDGET),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )


@pytest.mark.parametrize(
    "fmt, mode",
    [
        (fmt, mode)
        for fmt in ("JPEG", "PNG", "GIF", "BMP")
        for mode in ("RGB", "L", "RGBA")
        if (fmt, mode) != ("JPEG", "RGBA")
    ],  # JPEG has no alpha
)
def test_header_size_reads_every_format_without_decoding(fmt, mode):
    encoded = encode(random_pixels(37, 53), fmt, mode)
    kind, height, width = (int(v) for v in request_guard.header_size(tf.constant(encoded)))
    assert request_guard.FORMATS[kind - 1] == fmt
    assert (height, width) == (37, 53)


def test_header_size_of_a_huge_declared_png_costs_nothing():
    kind, height, width = request_guard.header_size(tf.constant(png_header(20000, 30000)))
    assert (int(height), int(width)) == (30000, 20000)


def test_valid_batches_decode_as_preprocess_does(decode):
    images = [
        encode(random_pixels(40, 60, seed), fmt, mode)
        for seed, (fmt, mode) in enumerate([("JPEG", "RGB"), ("PNG", "L"), ("PNG", "RGBA")])
    ]
    expected = np.stack([image_ops.preprocess(i, SIZE, "bilinear").numpy() for i in images])
    np.testing.assert_array_equal(decode(tf.constant(images)).numpy(), expected)
    np.testing.assert_array_equal(decode(tf.constant(images[:1])).numpy(), expected[:1])


def test_an_empty_batch_gives_an_empty_batch(decode):
    assert decode(tf.zeros([0], tf.string)).shape == (0, SIZE, SIZE, 3)


GOOD = encode(random_pixels(40, 40), "JPEG")
PNG = encode(random_pixels(40, 40), "PNG")


@pytest.mark.parametrize(
    "batch, message",
    [
        ([GOOD, b"hello"], r"image 1 of the batch \(5 bytes\) is not a JPEG, PNG, GIF or BMP"),
        ([GOOD, GOOD, PNG[:20]], r"image 2 of the batch: its PNG header is cut short \(20 bytes\)"),
        ([png_header(0, 10), GOOD], r"image 0 of the batch has no pixels \(0x10\)"),
        (
            [GOOD, png_header(20000, 20000)],
            r"image 1 of the batch is 20000x20000 = 400000000 pixels, over the limit of 10000 "
            r"pixels \(export.max_request_pixels\)",
        ),
        ([GOOD, GOOD[:1000], GOOD], r"image 1 of the batch: damaged JPEG data"),
        ([PNG, PNG[:-30]], r"image 1 of the batch: damaged PNG data"),
        ([b"x"], r"image 0 of the batch \(1 bytes\) is not a JPEG"),
        # Every image of a batch refused by the decoder: the first is named.
        ([GOOD[:1000], PNG[:-30]], r"image 0 of the batch: damaged JPEG data"),
        # A JPEG whose header TF cannot parse, in a batch.
        ([GOOD, GOOD[:30]], r"image 1 of the batch: damaged JPEG data"),
        # Sides whose product overflows 64 bits.
        ([GOOD, png_header(2**32 - 1, 2**32 - 1)], r"image 1 of the batch is 4294967295x"),
        ([png_header(200, 100)], r"image 0 of the batch is 200x100 = 20000 pixels"),
    ],
)
def test_a_bad_image_is_refused_by_its_index(decode, batch, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        decode(tf.constant(batch))
    # The function keeps working.
    assert decode(tf.constant([GOOD])).shape == (1, SIZE, SIZE, 3)


def test_a_damaged_image_alone_gets_the_decoders_message(decode):
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid JPEG data"):
        decode(tf.constant([GOOD[:1000]]))
