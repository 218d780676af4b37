import numpy as np
import tensorflow as tf
import tf_keras as keras

from cyclegan import losses


def test_bce_matches_keras_per_example():
    logits = tf.random.normal([3, 4, 4, 1])
    ours = losses.adversarial(logits, True, "bce")
    assert ours.shape == (3,)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    for index in range(3):
        expected = bce(tf.ones_like(logits[index]), logits[index])
        np.testing.assert_allclose(ours[index].numpy(), expected.numpy(), rtol=1e-5)


def test_lsgan_is_mean_squared_distance_to_target():
    logits = tf.constant([[[[0.5]], [[1.5]]]])  # one example, two patches
    np.testing.assert_allclose(losses.adversarial(logits, True, "lsgan").numpy(), [0.25])
    np.testing.assert_allclose(losses.adversarial(logits, False, "lsgan").numpy(), [1.25])


def test_discriminator_loss_halves_the_sum():
    real, fake = tf.fill([1, 2, 2, 1], 3.0), tf.fill([1, 2, 2, 1], -3.0)
    expected = 0.5 * (
        losses.adversarial(real, True, "bce") + losses.adversarial(fake, False, "bce")
    )
    np.testing.assert_allclose(losses.discriminator(real, fake, "bce").numpy(), expected.numpy())


def test_l1_per_example():
    a = tf.zeros([2, 2, 2, 3])
    b = tf.concat([tf.ones([1, 2, 2, 3]), 3 * tf.ones([1, 2, 2, 3])], 0)
    np.testing.assert_allclose(losses.l1(a, b).numpy(), [1.0, 3.0])
