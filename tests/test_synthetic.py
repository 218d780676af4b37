import io

import numpy as np
from PIL import Image

from cyclegan import synthetic


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_generation_is_deterministic():
    first = list(synthetic.generate(seed=3, split="trainA", size=32, start=0, stop=3))
    second = list(synthetic.generate(seed=3, split="trainA", size=32, start=0, stop=3))
    assert first == second
    other_seed = list(synthetic.generate(seed=4, split="trainA", size=32, start=0, stop=3))
    assert [png for _, png in first] != [png for _, png in other_seed]


def test_test_splits_are_ground_truth_pairs():
    ((_, a_png),) = synthetic.generate(seed=0, split="testA", size=48, start=0, stop=1)
    ((_, b_png),) = synthetic.generate(seed=0, split="testB", size=48, start=0, stop=1)
    a, b = _decode(a_png).astype(int), _decode(b_png).astype(int)
    changed = np.abs(a - b).sum(axis=-1) > 30
    # B is A with stripes across the blobs: the background is identical, part of the blobs
    # turned dark, and nothing got brighter.
    assert 0.02 < changed.mean() < 0.6
    assert (a[0, 0] == b[0, 0]).all()
    assert (b.sum(-1)[changed] < a.sum(-1)[changed]).all()


def test_train_splits_are_unpaired():
    scene_a, scene_b = synthetic.make_scene(0, "trainA", 0), synthetic.make_scene(0, "trainB", 0)
    assert not np.allclose(scene_a.background, scene_b.background)
    ((_, a_png),) = synthetic.generate(seed=0, split="trainA", size=32, start=0, stop=1)
    ((_, b_png),) = synthetic.generate(seed=0, split="trainB", size=32, start=0, stop=1)
    assert not (_decode(a_png)[0, 0] == _decode(b_png)[0, 0]).all()  # different backgrounds


def test_images_have_requested_size_and_names():
    ((name, png),) = synthetic.generate(seed=0, split="testB", size=40, start=0, stop=1)
    assert _decode(png).shape == (40, 40, 3)
    assert name == "synthetic/testB/000000.png"


def test_a_shard_renders_the_same_images_as_the_whole_split():
    whole = list(synthetic.generate(seed=0, split="trainB", size=24, start=0, stop=5))
    assert list(synthetic.generate(seed=0, split="trainB", size=24, start=3, stop=5)) == whole[3:]
