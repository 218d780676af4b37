import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cyclegan import image_ops
from tests.helpers import encode, random_pixels


@pytest.mark.parametrize(
    "fmt, mode", [("JPEG", "L"), ("PNG", "L"), ("PNG", "RGBA"), ("PNG", "RGB"), ("JPEG", "RGB")]
)
def test_decode_gives_three_channels(fmt, mode):
    image = image_ops.decode_rgb(tf.constant(encode(random_pixels(20, 30), fmt, mode)))
    assert image.shape == (20, 30, 3) and image.dtype == tf.uint8


def test_grayscale_decodes_to_equal_channels():
    image = image_ops.decode_rgb(tf.constant(encode(random_pixels(8, 8), "PNG", "L"))).numpy()
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()


def test_resize_and_center_crop_keeps_aspect_and_centre():
    # A 40x80 image whose left and right quarters are black and middle half white:
    # resizing the shorter side to 20 gives 20x40, and the centre 20x20 crop is all white.
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, 20:60] = 255
    out = image_ops.resize_and_center_crop(tf.constant(pixels), 20, "nearest").numpy()
    assert out.shape == (20, 20, 3)
    assert (out == 255).all()


def test_square_input_equals_plain_resize():
    pixels = random_pixels(64, 64)
    ours = image_ops.resize_and_center_crop(tf.constant(pixels), 32, "bilinear")
    plain = tf.cast(tf.round(tf.image.resize(pixels, [32, 32], "bilinear")), tf.uint8)
    np.testing.assert_array_equal(ours.numpy(), plain.numpy())


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "area"])
def test_an_image_at_the_size_is_cropped_not_resized(method, monkeypatch):
    pixels = random_pixels(24, 40)
    at_scale_1 = tf.image.resize(pixels, [24, 40], method=method, antialias=False)
    np.testing.assert_array_equal(tf.round(tf.cast(at_scale_1, tf.float32)).numpy(), pixels)

    def no_resize(*args, **kwargs):
        raise AssertionError("resized an image whose shorter side is already the size")

    monkeypatch.setattr(tf.image, "resize", no_resize)
    np.testing.assert_array_equal(
        image_ops.resize_and_center_crop(tf.constant(pixels), 24, method).numpy(),
        pixels[:, 8:32],
    )
    with pytest.raises(AssertionError, match="resized an image"):  # other sizes still resize
        image_ops.resize_and_center_crop(tf.constant(pixels), 12, method)


def test_png_is_written_at_the_fast_zlib_level():
    png = image_ops.encode_png(image_ops.to_unit_range(random_pixels(16, 16))).numpy()
    idat = png.index(b"IDAT") + 4
    # The zlib header's FLEVEL bits (top two of its second byte): 0 = fastest (levels 0-1).
    assert png[idat] & 0x0F == 8 and png[idat + 1] >> 6 == 0


def test_unit_range_round_trip_and_bounds():
    pixels = tf.constant(np.arange(256, dtype=np.uint8).reshape(16, 16, 1))
    unit = image_ops.to_unit_range(pixels)
    assert float(tf.reduce_min(unit)) == -1.0 and float(tf.reduce_max(unit)) == 1.0
    np.testing.assert_array_equal(image_ops.from_unit_range(unit).numpy(), pixels.numpy())
    overshoot = image_ops.from_unit_range(tf.constant([-1.5, 1.5]))
    assert overshoot.numpy().tolist() == [0, 255]


def test_preprocess_and_png_encoding():
    encoded = tf.constant(encode(random_pixels(50, 70), "JPEG"))
    pixels = image_ops.preprocess(encoded, 32, "bilinear")
    assert pixels.shape == (32, 32, 3)
    png = image_ops.encode_png(image_ops.to_unit_range(pixels))
    np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), pixels.numpy())


def test_undecodable_bytes_raise():
    with pytest.raises(tf.errors.InvalidArgumentError):
        image_ops.decode_rgb(tf.constant(b"not an image"))


def test_sixteen_bit_png_scales_to_eight_bits():
    deep = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000
    buffer = io.BytesIO()
    Image.fromarray(deep, mode="I;16").save(buffer, format="PNG")
    image = image_ops.decode_rgb(tf.constant(buffer.getvalue())).numpy()
    np.testing.assert_array_equal(image[..., 0], deep >> 8)


def test_palette_png_decodes_to_its_colours():
    palette = Image.fromarray(random_pixels(8, 8)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    np.testing.assert_array_equal(
        image_ops.decode_rgb(tf.constant(buffer.getvalue())).numpy(),
        np.asarray(palette.convert("RGB")),
    )
