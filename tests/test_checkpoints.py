"""Checkpoint identity: what decides the weights names the folder; length and cadence do not."""

import json
import os

import pytest

from cyclegan import checkpoints
from tests.helpers import write_pixel_records


@pytest.fixture
def train_files(tmp_path):
    return [
        write_pixel_records(str(tmp_path / "trainA" / "d"), 36, 3, 1),
        write_pixel_records(str(tmp_path / "trainB" / "d"), 36, 3, 2),
    ]


def test_the_data_fingerprint_follows_the_bytes_not_the_folder(tmp_path, train_files):
    fingerprint = checkpoints.data_fingerprint(train_files)
    moved = tmp_path / "elsewhere"
    os.makedirs(moved)
    copies = []
    for index, path in enumerate(train_files):
        copy = moved / f"{index}.tfrecord"
        with open(path, "rb") as file:
            copy.write_bytes(file.read())
        copies.append(str(copy))
    assert checkpoints.data_fingerprint(copies) == fingerprint
    assert checkpoints.data_fingerprint(copies[::-1]) != fingerprint
    write_pixel_records(str(tmp_path / "trainB" / "d"), 36, 4, 2)  # one image more
    assert checkpoints.data_fingerprint(train_files) != fingerprint


def test_the_folder_says_what_it_is_the_training_of(tmp_path, tiny_config, train_files):
    folder = checkpoints.checkpoint_dir(str(tmp_path / "root"), tiny_config, train_files)
    with open(os.path.join(folder, checkpoints.IDENTITY_FILE)) as file:
        identity = json.load(file)
    assert identity["crop_size"] == 32 and identity["train"]["generator_filters"] == 4
    assert "epochs" not in identity["train"] and "jit_compile" not in identity["train"]
    longer = tiny_config.replace(epochs=9, decay_epochs=2, steps_per_epoch=1, jit_compile=True)
    assert checkpoints.checkpoint_dir(str(tmp_path / "root"), longer, train_files) == folder
    other = tiny_config.replace(lambda_cycle=5.0)
    assert checkpoints.checkpoint_dir(str(tmp_path / "root"), other, train_files) != folder
