"""tf.data over preprocessed records: training batches, epochs, the test images."""

import numpy as np
import pytest
import tensorflow as tf

from cyclegan import input_pipeline

COUNTS = (5, 7)  # the `preprocessed` fixture's trainA and trainB


def test_epoch_covers_the_larger_domain(tiny_config, preprocessed):
    counts = tuple(input_pipeline.count_records(preprocessed[s]) for s in ("train_a", "train_b"))
    assert counts == COUNTS
    config = tiny_config.replace(steps_per_epoch=None, batch_size=2)
    assert input_pipeline.steps_per_epoch(*counts, config) == 7 // 2


def _batches(preprocessed, config, first_step, count):
    dataset = input_pipeline.train_dataset(
        preprocessed["train_a"], preprocessed["train_b"], config, 2, COUNTS, first_step
    )
    return list(dataset.take(count).as_numpy_iterator())


def test_training_batches_are_jittered_crops_in_unit_range(tiny_config, preprocessed):
    config = tiny_config.replace(random_flip=True)
    batches = _batches(preprocessed, config, 0, 8)  # 16 A images: every one of 5, wrapped
    for batch_a, batch_b in batches:
        assert batch_a.shape == batch_b.shape == (2, 32, 32, 3)
        assert batch_a.dtype == np.float32 and -1.0 <= batch_a.min() <= batch_a.max() <= 1.0
    # Random crops of 36 px images: the same stored image gives different 32 px crops.
    stored = tf.constant(next(iter(input_pipeline.images(preprocessed["train_a"], 36))).numpy())
    crops = {
        input_pipeline.jitter(stored, config, tf.constant([0, i], tf.int64)).numpy().tobytes()
        for i in range(8)
    }
    assert len(crops) > 1
    # Each round of a domain is a new order of all of it.
    rounds = [batch_a for batch_a, _ in batches]
    assert not np.array_equal(rounds[0], rounds[3])


def test_a_resumed_stream_continues_the_same_batches(tiny_config, preprocessed):
    """Batch k is the same whether the stream starts at 0 or at k (mid-round, too): a resumed
    training sees what an uninterrupted one would."""
    straight = _batches(preprocessed, tiny_config, 0, 9)
    for first_step in (1, 3, 6):
        resumed = _batches(preprocessed, tiny_config, first_step, 9 - first_step)
        for (a, b), (a_again, b_again) in zip(straight[first_step:], resumed):
            np.testing.assert_array_equal(a, a_again)
            np.testing.assert_array_equal(b, b_again)


def test_read_images_keeps_file_order_sources_and_range(preprocessed):
    images, sources = input_pipeline.read_images(preprocessed["test_a"], 32)
    assert images.shape == (2, 32, 32, 3) and sources == ["0", "1"]
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    first, first_sources = input_pipeline.read_images(preprocessed["test_a"], 32, count=1)
    np.testing.assert_array_equal(first.numpy(), images[:1].numpy())
    assert first_sources == ["0"]
    test = input_pipeline.read_test_set(preprocessed["test_a"], preprocessed["test_b"], 32)
    np.testing.assert_array_equal(test.images_a.numpy(), images.numpy())
    assert test.images_b.shape == (2, 32, 32, 3) and test.sources_b == ["0", "1"]


def test_a_stored_size_that_differs_from_the_expected_one_is_an_error(preprocessed):
    with pytest.raises(tf.errors.InvalidArgumentError, match="size differs"):
        input_pipeline.read_images(preprocessed["test_a"], 36)


def test_no_files_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord files match"):
        input_pipeline.count_records(str(tmp_path / "missing" / "*"))
