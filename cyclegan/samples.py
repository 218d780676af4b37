"""Translations of fixed test images, for TensorBoard and a PNG grid a person can look at."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from cyclegan import image_ops

GRID_FILE = "translations.png"


class Grid(NamedTuple):
    """The fixed test images of each domain that every summary translates."""

    images_a: tf.Tensor  # float [n, h, w, 3] in [-1, 1]
    images_b: tf.Tensor


def translation_rows(model, images_a: tf.Tensor, images_b: tf.Tensor) -> tf.Tensor:
    """[2n, 3, h, w, 3] in [-1, 1]: rows (A, G(A), F(G(A))) then (B, F(B), G(F(B)))."""
    fake_b = model.g_ab(images_a, training=False)
    fake_a = model.g_ba(images_b, training=False)
    rows_a = tf.stack([images_a, fake_b, model.g_ba(fake_b, training=False)], axis=1)
    rows_b = tf.stack([images_b, fake_a, model.g_ab(fake_a, training=False)], axis=1)
    return tf.concat([rows_a, rows_b], axis=0)


def side_by_side(rows: tf.Tensor) -> tf.Tensor:
    """[n, cols, h, w, 3] -> [n, h, cols * w, 3]: each row's images next to each other."""
    n_rows, n_cols, height, width = (int(d) for d in rows.shape[:4])
    return tf.reshape(tf.transpose(rows, [0, 2, 1, 3, 4]), [n_rows, height, n_cols * width, 3])


def summary_images(rows: tf.Tensor) -> tf.Tensor:
    """Rows in [0, 1], the range tf.summary.image expects for floats."""
    return (side_by_side(rows) + 1.0) / 2.0


def grid_png(rows: tf.Tensor) -> bytes:
    """One PNG with the rows stacked top to bottom."""
    strips = side_by_side(rows)
    n_rows, height, width = (int(d) for d in strips.shape[:3])
    return image_ops.encode_png(tf.reshape(strips, [n_rows * height, width, 3])).numpy()
