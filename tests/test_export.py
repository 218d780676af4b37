"""The tiny_export SavedModel: what TF Serving loads and clients call."""

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
from tests.helpers import encode, export_model, random_pixels


def test_export_serves_image_bytes_in_both_directions(tmp_path, tiny_config):
    model = CycleGan(tiny_config)
    export_dir = export_model(model, tiny_config, str(tmp_path / "export"))
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
    # A bad image fails that request only, named by its index.
    with pytest.raises(tf.errors.InvalidArgumentError, match="image 1 of the batch .* not a JPEG"):
        loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg, b"not an image"]))
    again = loaded.signatures["translate_a_to_b"](image_bytes=tf.constant([jpeg]))["png_bytes"]
    assert again.numpy()[0] == default.numpy()[0]
    info = json.loads(Path(os.path.join(export_dir, serving_contract.INFO_ASSET)).read_text())
    assert info["image_size"] == 32 and info["serving_default"] == "translate_a_to_b"


def pixels_batch(pixels):
    return export.image_ops.to_unit_range(pixels)[None]


def test_an_empty_batch_gives_an_empty_batch(tiny_export):
    loaded = tf.saved_model.load(tiny_export)
    out = loaded.signatures["translate_b_to_a"](image_bytes=tf.zeros([0], tf.string))
    assert out["png_bytes"].shape == (0,)
    out = loaded.signatures["translate_a_to_b_float"](images=tf.zeros([0, 32, 32, 3]))
    assert out["images"].shape == (0, 32, 32, 3)


GIANT_PNG_CHECK = """
import resource, sys, zlib, struct
import tensorflow as tf

def giant_png(side):  # a PNG of side x side black RGB pixels, ~1.2 MB for 20000
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc
    packer, row, parts = zlib.compressobj(9), b"\\0" * (1 + 3 * side), []
    for _ in range(side):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
            + chunk(b"IEND", b""))

giant = giant_png(20000)
translate = tf.saved_model.load(sys.argv[1]).signatures["translate_a_to_b"]
small = giant_png(40)
translate(image_bytes=tf.constant([small]))  # the model's own allocations, before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    translate(image_bytes=tf.constant([giant]))
    print("ANSWERED")
except tf.errors.InvalidArgumentError as error:
    print("REFUSED", error.message.splitlines()[0])
grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print("GROWN_MB", grown_kb / 1024, "PNG_MB", len(giant) / 2**20)
"""


def test_a_20000_pixel_square_png_is_refused_before_decoding(tiny_export):
    """In its own process, so that the peak RSS is this request's."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", GIANT_PNG_CHECK, tiny_export],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert "REFUSED" in lines, result.stdout + result.stderr
    assert "20000x20000 = 400000000 pixels, over the limit of 50000000" in lines["REFUSED"]
    grown_mb, _, png_mb = lines["GROWN_MB"].split()
    assert float(png_mb) > 1.0  # the request is the 1.2 MB file
    assert float(grown_mb) < 200
