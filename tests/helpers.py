"""What several test modules share: the one tiny config, image and record makers, paths."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

# Real horse2zebra images, where the machine has them (tests that need them skip otherwise).
SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "horse2zebra")

# The one tiny config: 32 px crops, narrow networks, 3 steps, a few synthetic images.
TINY = {
    # Exact numerics whatever the machine: `auto` would pick bfloat16 on some CPUs
    # (tests/test_precision.py tests that choice).
    "train.precision": "float32",
    "data.load_size": 36,
    "data.crop_size": 32,
    "train.generator_filters": 4,
    "train.discriminator_filters": 4,
    "train.epochs": 1,
    "train.steps_per_epoch": 3,
    "observability.summary_every_steps": 1,
    "observability.checkpoint_every_steps": 2,
    "observability.grid_images": 2,
    "data.synthetic_image_size": 40,
    "data.synthetic_train_per_domain": 6,
    "data.synthetic_test_per_domain": 3,
    "classifier.image_size": 32,
    "classifier.steps": 20,
    # 3 steps translate nothing: the domain gate is tested in test_domain_classifier.py.
    "evaluation.min_domain_score": 0,
}
# The same, as the runners' flags.
TINY_FLAGS = [f"--set={key}={value}" for key, value in TINY.items()]


def tiny_config(**changes):
    from cyclegan.config import preset

    return preset("demo").replace(**TINY).replace(**changes)


def encode(pixels: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def random_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_pixel_records(path: str, size: int, count: int, seed: int) -> str:
    """A TFRecord of `count` random preprocessed (pixel) examples, sources "0", "1", ..."""
    import tensorflow as tf

    from cyclegan import data_contract

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for index in range(count):
            writer.write(
                data_contract.make_pixel_example(
                    random_pixels(size, size, seed * 1000 + index).tobytes(),
                    size,
                    str(index).encode(),
                ).SerializeToString()
            )
    return path


def export_model(model, config, export_dir: str) -> str:
    """The model's generators exported as the Trainer exports them, with random images (two
    per direction) for the warm-up requests."""
    from cyclegan import export

    size = config.data.crop_size
    images = {
        direction: np.stack([random_pixels(size, size, seed + 2 * i) for i in range(2)]).astype(
            np.float32
        )
        / 127.5
        - 1.0
        for seed, direction in enumerate(("a_to_b", "b_to_a"))
    }
    return export.export_generators(model.g_ab, model.g_ba, config, export_dir, images)
