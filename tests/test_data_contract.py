import numpy as np
import pytest
import tensorflow as tf

from cyclegan import data_contract


def test_raw_example_round_trip():
    example = data_contract.make_raw_example(b"\x89PNG...", "B", "trainB/x.png")
    parsed = tf.io.parse_single_example(example.SerializeToString(), data_contract.RAW_FEATURES)
    assert parsed[data_contract.ENCODED].numpy() == b"\x89PNG..."
    assert parsed[data_contract.DOMAIN].numpy() == b"B"
    assert parsed[data_contract.SOURCE].numpy() == b"trainB/x.png"


def test_raw_example_rejects_unknown_domain():
    with pytest.raises(ValueError, match="domain"):
        data_contract.make_raw_example(b"", "C", "x")


def test_pixel_example_round_trip_and_size_check():
    pixels = np.random.default_rng(0).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    serialized = data_contract.make_pixel_example(pixels.tobytes(), 6, b"src").SerializeToString()
    image, source = data_contract.parse_pixel_example(tf.constant(serialized), 6)
    np.testing.assert_array_equal(image.numpy(), pixels)
    assert source.numpy() == b"src"
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected 8"):
        data_contract.parse_pixel_example(tf.constant(serialized), 8)


@pytest.mark.parametrize(
    "size, source",
    [
        (1, b""),
        (6, b"src"),
        (127, b"x" * 127),
        (286, "trainA/ünïcode.jpg".encode()),
        (300, b"s" * 200),
    ],
)
def test_serialized_pixel_example_is_the_protos_deterministic_serialisation(size, source):
    # Sizes and lengths on both sides of a varint's one-byte limit (127); a slice of a batch.
    batch = np.random.default_rng(size).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    expected = data_contract.make_pixel_example(batch[1].tobytes(), size, source)
    serialized = data_contract.serialized_pixel_example(batch[1], size, source)
    assert serialized == expected.SerializeToString(deterministic=True)
    image, parsed_source = data_contract.parse_pixel_example(tf.constant(serialized), size)
    np.testing.assert_array_equal(image.numpy(), batch[1])
    assert parsed_source.numpy() == source


def test_splits_and_domains_agree():
    assert data_contract.SPLITS == data_contract.TRAIN_SPLITS + data_contract.TEST_SPLITS
    assert [data_contract.DOMAIN_OF_SPLIT[s] for s in data_contract.SPLITS] == ["A", "B", "A", "B"]
