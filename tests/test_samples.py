"""Translations of fixed test images: the rows TensorBoard shows and the PNG grid."""

import io
from types import SimpleNamespace

import numpy as np
import tensorflow as tf
from PIL import Image

from cyclegan import samples


def _stand_in_model():
    """G negates an image, F halves it: easy to recognise in the rows."""
    return SimpleNamespace(g_ab=lambda x, training: -x, g_ba=lambda x, training: x / 2)


def test_rows_are_image_translation_and_cycle_per_domain():
    images_a = tf.fill([2, 4, 6, 3], 0.5)
    images_b = tf.fill([1, 4, 6, 3], -0.8)
    rows = samples.translation_rows(_stand_in_model(), images_a, images_b)
    assert rows.shape == (3, 3, 4, 6, 3)  # 2 A rows then 1 B row; 3 columns each
    np.testing.assert_allclose(rows[0, :, 0, 0, 0], [0.5, -0.5, -0.25])  # A, G(A), F(G(A))
    np.testing.assert_allclose(rows[2, :, 0, 0, 0], [-0.8, -0.4, 0.4])  # B, F(B), G(F(B))


def test_grid_png_and_summary_images_lay_rows_side_by_side():
    rows = samples.translation_rows(
        _stand_in_model(), tf.fill([2, 4, 6, 3], 1.0), tf.fill([2, 4, 6, 3], -1.0)
    )
    grid = Image.open(io.BytesIO(samples.grid_png(rows)))
    assert (grid.format, grid.size, grid.mode) == ("PNG", (3 * 6, 4 * 4), "RGB")
    pixels = np.asarray(grid)
    assert pixels[0, 0, 0] == 255 and pixels[0, 6, 0] == 0  # A = white, G(A) = black
    summary = samples.summary_images(rows)
    assert summary.shape == (4, 4, 18, 3)
    assert float(tf.reduce_min(summary)) >= 0.0 and float(tf.reduce_max(summary)) <= 1.0
