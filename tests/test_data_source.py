"""The --data flag, parsed once: its ExampleGen and its fail-fast check."""

import os

import pytest

from cyclegan.entry import DataError
from pipeline import data_source
from tests.helpers import encode, random_pixels, tiny_config


def test_each_kind_of_source_knows_its_example_gen():
    synthetic = data_source.parse("synthetic")
    assert synthetic.example_gen_id == "SyntheticImageExampleGen"
    assert synthetic.example_gen(tiny_config()).id == "SyntheticImageExampleGen"
    tfds = data_source.parse("tfds:cycle_gan/horse2zebra", tfds_data_dir="/data/tfds")
    assert (tfds.kind, tfds.location, tfds.tfds_data_dir) == (
        "tfds",
        "cycle_gan/horse2zebra",
        "/data/tfds",
    )
    assert tfds.example_gen(tiny_config()).id == "TfdsImageExampleGen"


def test_a_folder_is_made_absolute_locally_and_kept_for_a_cluster():
    assert data_source.parse("data/h2z").location == os.path.abspath("data/h2z")
    assert data_source.parse("data/h2z", local=False).location == "data/h2z"
    assert data_source.parse("gs://bucket/h2z").location == "gs://bucket/h2z"
    folder = data_source.parse("gs://bucket/h2z", local=False)
    gen = folder.example_gen(tiny_config(), runtime_parameters=True)
    assert gen.id == "FolderImageExampleGen"
    assert gen.exec_properties["input_base"].name == "data_root"  # a per-run parameter
    assert gen.exec_properties["input_base"].default == "gs://bucket/h2z"


def test_the_check_describes_good_data_and_names_what_is_wrong(tmp_path):
    for split in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "a.jpg").write_bytes(encode(random_pixels(8, 8), "JPEG"))
    source = data_source.parse(str(tmp_path))
    assert source.check() == (
        f"{tmp_path} (trainA 1 images, trainB 1 images, testA 1 images, testB 1 images)"
    )
    (tmp_path / "testB" / "a.jpg").unlink()
    with pytest.raises(DataError, match="testB.*holds no image files"):
        source.check()
    assert data_source.parse("synthetic").check() == "the built-in synthetic set"
