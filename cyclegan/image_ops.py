"""Image operations shared by the Beam preprocessing and the exported serving signatures.

One implementation, imported by both, so training and serving cannot drift apart.
"""

from __future__ import annotations

import tensorflow as tf


def decode_rgb(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes -> uint8 [h, w, 3]; grey and RGBA become RGB."""
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def resize_and_center_crop(image: tf.Tensor, size: int, method: str) -> tf.Tensor:
    """Resizes the shorter side to `size`, then crops the centre square. Returns uint8.

    For square inputs (all of horse2zebra) this equals a plain resize to size x size, which
    is what both reference implementations do; for other shapes it keeps the aspect ratio.
    An image whose shorter side is already `size` is not resized: every method here gives its
    input back at scale 1; skipping it and its float round trip halves the time of a 256 px
    JPEG at 256 px (1.6 -> 0.8 ms with the decode, bicubic): test splits, and requests at the
    model's size.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    scale = tf.cast(size, tf.float32) / tf.cast(tf.minimum(height, width), tf.float32)
    new_height = tf.maximum(size, tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32))
    new_width = tf.maximum(size, tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32))
    top = (new_height - size) // 2
    left = (new_width - size) // 2

    def crop(pixels: tf.Tensor) -> tf.Tensor:
        return pixels[top : top + size, left : left + size, :]

    def resize_then_crop() -> tf.Tensor:
        resized = tf.image.resize(image, [new_height, new_width], method=method, antialias=False)
        cropped = tf.round(tf.cast(crop(resized), tf.float32))  # "nearest" keeps uint8
        return tf.cast(tf.clip_by_value(cropped, 0.0, 255.0), tf.uint8)

    same_size = tf.logical_and(new_height == height, new_width == width)
    cropped = tf.cond(same_size, lambda: crop(image), resize_then_crop)
    return tf.ensure_shape(cropped, [size, size, 3])


def to_unit_range(image: tf.Tensor) -> tf.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def from_unit_range(image: tf.Tensor) -> tf.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clipping what the generator overshoots."""
    scaled = (tf.cast(image, tf.float32) + 1.0) * 127.5
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def preprocess(encoded: tf.Tensor, size: int, method: str) -> tf.Tensor:
    """Encoded bytes -> uint8 [size, size, 3]: what Beam stores and serving computes."""
    return resize_and_center_crop(decode_rgb(encoded), size, method)


# zlib level 1, not the default 6: on photos 1.35x (64 px) to 3x (256 px) faster to encode, for
# 2-3% more bytes (`python -m benchmarks serving_latency [--preset tutorial]` prints both).
PNG_COMPRESSION = 1


def encode_png(image: tf.Tensor) -> tf.Tensor:
    """float [-1, 1] [h, w, 3] -> PNG bytes."""
    return tf.io.encode_png(from_unit_range(image), compression=PNG_COMPRESSION)
