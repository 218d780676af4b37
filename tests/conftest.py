"""Shared fixtures. Sets up the process the way the entry points do, before TF is imported."""

import io
import os

from cyclegan import entry

entry.prepare_process()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from cyclegan.config import preset  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "horse2zebra")


def encode(pixels: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def random_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def tiny_config():
    """Small enough for a CPU test: 32 px, narrow networks, a few steps."""
    return preset("demo").replace(
        load_size=36, crop_size=32, generator_filters=4, discriminator_filters=4, epochs=1,
        steps_per_epoch=3, summary_every_steps=1, checkpoint_every_steps=2, grid_images=2,
        synthetic_image_size=40, synthetic_train_per_domain=6, synthetic_test_per_domain=3)
