"""Fixtures. Sets up the process the way the entry points do, before TF is imported."""

from cyclegan import entry

entry.prepare_process()

import pytest  # noqa: E402

from tests import helpers  # noqa: E402


@pytest.fixture
def tiny_config():
    return helpers.tiny_config()


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """The tiny config's untrained generators, exported as the Trainer exports them
    (read-only: copy it before changing it)."""
    from cyclegan.model import CycleGan

    config = helpers.tiny_config()
    return helpers.export_model(
        CycleGan(config), config, str(tmp_path_factory.mktemp("tiny_export") / "m")
    )


@pytest.fixture
def preprocessed(tmp_path):
    """Preprocessed splits: 5 A and 7 B train images at load size, 2+2 test at crop size."""
    load, crop = helpers.TINY["data.load_size"], helpers.TINY["data.crop_size"]
    return {
        "train_a": helpers.write_pixel_records(str(tmp_path / "trainA" / "d.tfrecord"), load, 5, 1),
        "train_b": helpers.write_pixel_records(str(tmp_path / "trainB" / "d.tfrecord"), load, 7, 2),
        "test_a": helpers.write_pixel_records(str(tmp_path / "testA" / "d.tfrecord"), crop, 2, 3),
        "test_b": helpers.write_pixel_records(str(tmp_path / "testB" / "d.tfrecord"), crop, 2, 4),
    }


def pytest_collection_modifyitems(items):
    # Slow end-to-end runs first: when the suite runs on several workers (make test), they
    # overlap the many short tests instead of ending the run alone.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
