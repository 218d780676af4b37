"""Decoding a serving request's images without trusting them.

Each image's width and height are read from its header before anything is decoded (decoding
allocates 3 bytes a pixel whatever the file's size: a 1.2 MB PNG of zeros can declare
20000 x 20000). A request fails with InvalidArgument naming a bad image by its index
in the batch: not a JPEG, PNG, GIF or BMP; a header too short to hold its size; no pixels;
more pixels than the budget; or, in a batch of several, data the decoder refuses.

A batch of one, the usual request, is decoded directly (a decoder error is then about that
image, index 0). A larger batch is decoded by tf.data, which can drop the images the decoder
refuses (`ignore_errors`) so that the missing indices name them; it costs ~0.4 ms a request,
which a batch of one does not pay.
"""

from __future__ import annotations

from typing import Tuple

import tensorflow as tf

from cyclegan import image_ops

FORMATS = ("JPEG", "PNG", "GIF", "BMP")  # what tf.io.decode_image reads; index = kind - 1
UNKNOWN = 0
_HEAD = 32  # bytes of header read; every size field below lies within them
_MAGIC = {1: b"\xff\xd8\xff", 2: b"\x89PNG\r\n\x1a\n", 3: b"GIF8", 4: b"BM"}
_MIN_LENGTH = {1: 4, 2: 24, 3: 10, 4: 26}  # bytes up to the end of the size fields


def _head(encoded: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """(the first _HEAD bytes as int64, zero-padded; how many there are)."""
    head = tf.strings.substr(encoded, 0, _HEAD)
    padded = tf.strings.substr(tf.strings.join([head, b"\0" * _HEAD]), 0, _HEAD)
    return tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64), tf.strings.length(head)


def image_kind(encoded: tf.Tensor) -> tf.Tensor:
    """1 + the index in FORMATS of the image's format by its magic bytes, or UNKNOWN."""
    b, _ = _head(encoded)
    kind = tf.constant(UNKNOWN, tf.int64)
    for number in sorted(_MAGIC, reverse=True):
        magic = list(_MAGIC[number])
        matches = tf.reduce_all(b[: len(magic)] == tf.constant(magic, tf.int64))
        kind = tf.where(matches, tf.constant(number, tf.int64), kind)
    return kind


def header_size(encoded: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(kind, height, width) of one encoded image from its header alone: kind as
    image_kind(); height and width are -1 when the header is too short. A JPEG's size sits
    after its other segments (EXIF can be 64 KB): TF's header parser finds it, and fails
    with its own message on a JPEG header it cannot read."""
    b, length = _head(encoded)

    def le16(at):
        return b[at] + b[at + 1] * 256

    def le32_signed(at):
        value = le16(at) + le16(at + 2) * 65536
        return tf.where(value >= 2**31, value - 2**32, value)

    def be32(at):
        return ((b[at] * 256 + b[at + 1]) * 256 + b[at + 2]) * 256 + b[at + 3]

    kind = image_kind(encoded)
    # BMP: a 12-byte (OS/2) info header holds 16-bit sizes; the others signed 32-bit ones,
    # the height negative for top-down rows.
    bmp_core = le32_signed(14) == 12
    unknown = (tf.constant(-1, tf.int64), tf.constant(-1, tf.int64))

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0], shape[1]

    height, width = tf.switch_case(
        tf.cast(kind, tf.int32),
        [
            lambda: unknown,
            jpeg,
            lambda: (be32(20), be32(16)),
            lambda: (le16(8), le16(6)),
            lambda: (
                tf.where(bmp_core, le16(20), tf.abs(le32_signed(22))),
                tf.where(bmp_core, le16(18), le32_signed(18)),
            ),
        ],
    )
    minimum = tf.constant([0, *_MIN_LENGTH.values()], tf.int64)
    short = tf.cast(length, tf.int64) < tf.gather(minimum, kind)
    never = tf.constant(-1, tf.int64)
    return kind, tf.where(short, never, height), tf.where(short, never, width)


def _text(*parts) -> tf.Tensor:
    """Strings and integer tensors joined into one string tensor."""
    return tf.strings.join(
        [part if isinstance(part, str) else tf.strings.as_string(part) for part in parts]
    )


def problem(index, encoded, kind, height, width, max_pixels: int) -> tf.Tensor:
    """What is wrong with one image, as the request's error message, or "" if nothing is."""
    name = tf.gather(["image", *FORMATS], kind)
    size = tf.strings.length(encoded)
    messages = [
        (
            kind == UNKNOWN,
            _text(
                "image ", index, " of the batch (", size, " bytes) is not a JPEG, PNG, GIF or BMP"
            ),
        ),
        (
            height < 0,
            _text(
                "image ",
                index,
                " of the batch: its ",
                name,
                " header is cut short (",
                size,
                " bytes)",
            ),
        ),
        (
            (height <= 0) | (width <= 0),
            _text("image ", index, " of the batch has no pixels (", width, "x", height, ")"),
        ),
        (
            # Each side first: two 32-bit sides can overflow their int64 product.
            (height > max_pixels) | (width > max_pixels) | (height * width > max_pixels),
            _text(
                "image ",
                index,
                " of the batch is ",
                width,
                "x",
                height,
                " = ",
                height * width,
                f" pixels, over the limit of {max_pixels} pixels (export.max_request_pixels)",
            ),
        ),
    ]
    message = tf.constant("")
    for failed, text in reversed(messages):  # the first that applies
        message = tf.where(failed, text, message)
    return message


def _checked(index, encoded, size: int, method: str, max_pixels: int):
    """(pixels, problem): the image preprocessed, or zeros and what is wrong with it."""
    kind, height, width = header_size(encoded)
    message = problem(index, encoded, kind, height, width, max_pixels)
    pixels = tf.cond(
        message == "",
        lambda: image_ops.preprocess(encoded, size, method),
        lambda: tf.zeros([size, size, 3], tf.uint8),
    )
    return pixels, message


def _raise_first(messages: tf.Tensor) -> tf.Operation:
    bad = tf.boolean_mask(messages, messages != "")
    first = tf.cond(tf.size(bad) > 0, lambda: bad[0], lambda: tf.constant(""))
    return tf.debugging.Assert(tf.size(bad) == 0, [first])


def decode_batch(encoded: tf.Tensor, size: int, method: str, max_pixels: int) -> tf.Tensor:
    """A batch of encoded images -> uint8 [n, size, size, 3], as image_ops.preprocess makes
    each; InvalidArgument naming a bad image otherwise (header problems
    first). An empty batch gives an
    empty batch."""
    count = tf.shape(encoded, out_type=tf.int64)[0]

    def one():
        pixels, message = _checked(tf.constant(0, tf.int64), encoded[0], size, method, max_pixels)
        with tf.control_dependencies([_raise_first(message[None])]):
            return tf.identity(pixels[None])

    def several():
        decoded = (
            tf.data.Dataset.from_tensor_slices((tf.range(count), encoded))
            .map(
                lambda index, image: (index, *_checked(index, image, size, method, max_pixels)),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            .ignore_errors()  # the decoder's refusals: their indices go missing
            # A last element with index `count`, so that the batch is never empty (every
            # image refused); taken off below.
            .concatenate(
                tf.data.Dataset.from_tensors(
                    (count, tf.zeros([size, size, 3], tf.uint8), tf.constant(""))
                )
            )
            .batch(count + 1)
        )
        indices, pixels, messages = decoded.get_single_element()
        indices, pixels, messages = indices[:-1], pixels[:-1], messages[:-1]
        # Kept indices ascend: the first position p where indices[p] != p lost image p.
        kept = tf.size(indices, out_type=tf.int64)
        mismatches = tf.where(indices != tf.range(kept))
        missing = tf.cond(tf.size(mismatches) > 0, lambda: mismatches[0, 0], lambda: kept)
        decoder_message = tf.cond(
            missing < count,
            lambda: _text(
                "image ",
                missing,
                " of the batch: damaged ",
                tf.gather(FORMATS, image_kind(encoded[missing]) - 1),
                " data, the decoder refused it",
            ),
            lambda: tf.constant(""),
        )
        messages = tf.concat([messages, decoder_message[None]], 0)
        with tf.control_dependencies([_raise_first(messages)]):
            return tf.identity(pixels)

    return tf.switch_case(
        tf.cast(tf.minimum(count, 2), tf.int32),
        [lambda: tf.zeros([0, size, size, 3], tf.uint8), one, several],
    )
