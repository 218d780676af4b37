"""CycleGAN losses, per example: each returns a [batch] vector.

Per-example losses are what tf.nn.compute_average_loss needs to reduce over the global batch,
which keeps the step's math independent of the number of replicas.
"""

from __future__ import annotations

import tensorflow as tf


def _mean_per_example(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def adversarial(logits: tf.Tensor, target_is_real: bool, kind: str) -> tf.Tensor:
    """BCE on logits (the tutorial) or least squares (LSGAN, the paper), averaged per patch."""
    logits = tf.cast(logits, tf.float32)
    target = tf.ones_like(logits) if target_is_real else tf.zeros_like(logits)
    if kind == "bce":
        values = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits)
    elif kind == "lsgan":
        values = tf.square(logits - target)
    else:
        raise ValueError(f"unknown GAN loss {kind!r}")
    return _mean_per_example(values)


def discriminator(real_logits: tf.Tensor, fake_logits: tf.Tensor, kind: str) -> tf.Tensor:
    """Half the sum of real and fake terms, as both references weight it."""
    return 0.5 * (adversarial(real_logits, True, kind) + adversarial(fake_logits, False, kind))


def l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return _mean_per_example(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))
