"""A built-in two-domain image set, generated deterministically from a seed (no network).

A learnable stand-in for horse -> zebra whose correct translation is known:
  domain A: smooth coloured ellipses ("blobs") on a plain light background;
  domain B: the same kind of blobs with black stripes across them.
Every image is drawn from a scene (background, blobs, stripe angle and period). The train
splits draw A and B from different scenes (unpaired); testA[i] and testB[i] share scene i,
so each test image has its ground-truth translation in the other test split.
"""

from __future__ import annotations

import io
from typing import Iterator, NamedTuple, Tuple

import numpy as np
from PIL import Image

from cyclegan import data_contract

_SPLIT_STREAM = {
    data_contract.TRAIN_A: 1,
    data_contract.TRAIN_B: 2,
    data_contract.TEST_A: 3,
    data_contract.TEST_B: 3,
}  # test splits share scenes


class Scene(NamedTuple):
    background: np.ndarray  # float [3]
    centres: np.ndarray  # float [n, 2], fractions of the image side
    radii: np.ndarray  # float [n, 2]
    angles: np.ndarray  # float [n], radians
    colours: np.ndarray  # float [n, 3]
    stripe_angle: float
    stripe_period: float  # fraction of the image side


def make_scene(seed: int, split: str, index: int) -> Scene:
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], index])
    n_blobs = int(rng.integers(1, 4))
    return Scene(
        background=rng.uniform(0.65, 0.95, 3),
        centres=rng.uniform(0.25, 0.75, (n_blobs, 2)),
        radii=rng.uniform(0.12, 0.28, (n_blobs, 2)),
        angles=rng.uniform(0, np.pi, n_blobs),
        colours=rng.uniform(0.15, 0.85, (n_blobs, 3)),
        stripe_angle=float(rng.uniform(0, np.pi)),
        stripe_period=float(rng.uniform(0.08, 0.14)),
    )


def render(scene: Scene, domain: str, size: int) -> np.ndarray:
    """Draws a scene as uint8 [size, size, 3]; B adds the stripes A lacks."""
    coords = (np.arange(size) + 0.5) / size
    y, x = np.meshgrid(coords, coords, indexing="ij")
    image = np.broadcast_to(scene.background, (size, size, 3)).copy()
    stripe = np.sin(
        2
        * np.pi
        * (x * np.cos(scene.stripe_angle) + y * np.sin(scene.stripe_angle))
        / scene.stripe_period
    )
    # Soft edges (a logistic ramp over ~1.5 px) keep the images smooth, like photographs.
    edge = 1.5 / size
    for centre, radius, angle, colour in zip(
        scene.centres, scene.radii, scene.angles, scene.colours
    ):
        dy, dx = y - centre[0], x - centre[1]
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        distance = np.sqrt((u / radius[0]) ** 2 + (v / radius[1]) ** 2) - 1.0
        coverage = 1.0 / (1.0 + np.exp(np.clip(distance * min(radius) / edge, -50, 50)))
        fill = np.broadcast_to(colour, (size, size, 3))
        if domain == "B":
            dark = 1.0 / (1.0 + np.exp(np.clip(-stripe * 4.0, -50, 50)))
            fill = fill * (1.0 - dark[..., None]) + 0.05 * dark[..., None]
        image = image * (1.0 - coverage[..., None]) + fill * coverage[..., None]
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def source_name(split: str, index: int) -> str:
    return f"synthetic/{split}/{index:06d}.png"


def generate(
    seed: int, split: str, size: int, start: int, stop: int
) -> Iterator[Tuple[str, bytes]]:
    """Yields (source name, PNG bytes) for images start..stop-1 of one split."""
    domain = data_contract.DOMAIN_OF_SPLIT[split]
    for index in range(start, stop):
        pixels = render(make_scene(seed, split, index), domain, size)
        yield source_name(split, index), encode_png(pixels)
