import numpy as np
import tensorflow as tf

from cyclegan.image_pool import ImagePool


def _batch(value, n=1):
    return tf.fill([n, 2, 2, 3], float(value))


def test_pool_fills_first_returning_the_new_images():
    pool = ImagePool(3, [2, 2, 3])
    query = tf.function(pool.query)
    for value in range(3):
        assert float(query(_batch(value))[0, 0, 0, 0]) == value
    assert int(pool.count.numpy()) == 3
    np.testing.assert_array_equal(pool.images.numpy()[:, 0, 0, 0], [0, 1, 2])


def test_full_pool_swaps_about_half_the_time():
    tf.random.set_seed(0)
    pool = ImagePool(4, [2, 2, 3])
    query = tf.function(pool.query)
    query(tf.stack([tf.fill([2, 2, 3], float(v)) for v in range(4)]))  # fill with 0..3
    swapped, trials = 0, 400
    for value in range(100, 100 + trials):
        stored_before = set(pool.images.numpy()[:, 0, 0, 0])
        returned = float(query(_batch(value))[0, 0, 0, 0])
        stored_after = set(pool.images.numpy()[:, 0, 0, 0])
        if returned == value:  # kept the new image: the pool is unchanged
            assert stored_after == stored_before
        else:  # returned a stored image and stored the new one in its place
            assert returned in stored_before and value in stored_after
            assert stored_after == stored_before - {returned} | {value}
            swapped += 1
    assert 0.4 < swapped / trials < 0.6


def test_batch_comes_back_in_shape():
    pool = ImagePool(2, [2, 2, 3])
    out = pool.query(tf.random.uniform([5, 2, 2, 3]))
    assert out.shape == (5, 2, 2, 3) and int(pool.count.numpy()) == 2
