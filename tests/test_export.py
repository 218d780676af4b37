"""The exported SavedModel: what TF Serving loads and clients call."""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cyclegan import export, serving_contract
from cyclegan.model import CycleGan
from tests.helpers import encode, random_pixels


def test_export_serves_image_bytes_in_both_directions(tmp_path, tiny_config):
    model = CycleGan(tiny_config)
    export_dir = export.export_generators(
        model.g_ab, model.g_ba, tiny_config, str(tmp_path / "export")
    )
    loaded = tf.saved_model.load(export_dir)
    saved_config = Path(export_dir, serving_contract.CONFIG_ASSET).read_text()
    assert type(tiny_config).from_dict(json.loads(saved_config)) == tiny_config
    assert set(loaded.signatures) == {
        "serving_default",
        "translate_a_to_b",
        "translate_b_to_a",
        "translate_a_to_b_float",
        "translate_b_to_a_float",
    }
    jpeg = encode(random_pixels(48, 60), "JPEG")
    gray_png = encode(random_pixels(20, 20), "PNG", "L")
    for name in ("serving_default", "translate_a_to_b", "translate_b_to_a"):
        out = loaded.signatures[name](image_bytes=tf.constant([jpeg, gray_png]))["png_bytes"]
        out = out.numpy()
        assert len(out) == 2
        for png in out:
            image = Image.open(io.BytesIO(png))
            assert (image.format, image.size, image.mode) == ("PNG", (32, 32), "RGB")
    default = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    a_to_b = loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert default.numpy()[0] == a_to_b.numpy()[0]
    # The same generator outside the SavedModel gives the same picture.
    pixels = export.image_ops.preprocess(tf.constant(jpeg), 32, tiny_config.data.resize_method)
    direct = model.g_ab(export.image_ops.to_unit_range(pixels)[None], training=False)[0]
    np.testing.assert_array_equal(
        tf.io.decode_png(default[0]).numpy(), export.image_ops.from_unit_range(direct).numpy()
    )
    # The float signature is the bare generator.
    floats = loaded.signatures["translate_b_to_a_float"](images=pixels_batch(pixels))["images"]
    np.testing.assert_allclose(
        floats.numpy(), model.g_ba(pixels_batch(pixels), training=False).numpy(), atol=1e-5
    )
    # Bytes that are not an image fail that request only.
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([b"not an image"]))
    again = loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert again.numpy()[0] == default.numpy()[0]
    info = json.loads(Path(os.path.join(export_dir, serving_contract.INFO_ASSET)).read_text())
    assert info["image_size"] == 32 and info["serving_default"] == "translate_a_to_b"


def pixels_batch(pixels):
    return export.image_ops.to_unit_range(pixels)[None]
